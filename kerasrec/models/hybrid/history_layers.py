"""The hybrid's layers that read what each user rated, as a set: SVD++ history factors
(:class:`HistoryFactors`, :class:`LeaveOneOutHistory`) and Koren's neighbourhood terms
(:class:`Neighbourhood`). Each stores the training pairs it reads as non-trainable
weights, so a loaded model or SavedModel needs ids alone."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from kerasrec.models.layers import gather_rows, l2_penalty, table_from_weights


@keras.saving.register_keras_serializable(package="kerasrec")
class HistoryFactors(layers.Layer):
    """SVD++ implicit feedback: a user's factors from the movies they rated.

    Holds the training (user, item) pairs as non-trainable weights and learns one
    factor vector ``y_j`` per item; a user's history vector is
    ``|N(u)|^-1/2 * sum_{j in N(u)} y_j``. Users with few ratings thus borrow
    factors from what they chose to watch, as movies borrow from their genres.

    Args:
        n_users: User index range.
        n_items: Item index range.
        n_pairs: Number of training (user, item) pairs.
        dim: Factor size.
        **kwargs: Layer arguments, e.g. ``activity_regularizer`` for per-occurrence L2
            on the pooled vectors.
    """

    def __init__(self, n_users: int, n_items: int, n_pairs: int, dim: int,
                 sorted_pairs: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.n_users, self.n_items, self.n_pairs, self.dim = (
            int(n_users), int(n_items), int(n_pairs), int(dim))
        self.sorted_pairs = bool(sorted_pairs)
        # A sparse product (training) and ragged ranges (inference) XLA cannot compile:
        # this keeps Keras' jit_compile="auto" off on GPUs, where it would otherwise
        # turn XLA on and fail the first step.
        self.supports_jit = False

    def build(self, input_shape):
        self.item_factors = self.add_weight(
            shape=(self.n_items, self.dim), name="item_factors",
            initializer=keras.initializers.RandomNormal(0.0, 0.01))
        self.pair_users = self.add_weight(shape=(self.n_pairs,), dtype="int32", name="pair_users",
                                          trainable=False, initializer="zeros")
        self.pair_items = self.add_weight(shape=(self.n_pairs,), dtype="int32", name="pair_items",
                                          trainable=False, initializer="zeros")
        self.pair_weights = self.add_weight(shape=(self.n_pairs,), name="pair_weights",
                                            trainable=False, initializer="zeros")

    def set_history(self, users: np.ndarray, items: np.ndarray) -> None:
        """Store the training pairs (embedding indices) the history is built from."""
        users = np.asarray(users, dtype="int32")
        items = np.asarray(items, dtype="int32")
        if self.sorted_pairs:  # each user's pairs one slice: see ``call``
            order = np.argsort(users, kind="stable")
            users, items = users[order], items[order]
        counts = np.bincount(users, minlength=self.n_users).astype("float32")
        self.pair_users.assign(users)
        self.pair_items.assign(items)
        self.pair_weights.assign(1.0 / np.sqrt(counts[users]))

    def call(self, user, training=None):
        # Training pools every user at once: one pass over the pairs per step, the
        # cheapest while a batch's users hold most of them. Inference (validation,
        # scoring, serving) pools only the users asked for, from their slice of the
        # sorted pairs: a few hundred pairs for one user instead of every pair, the
        # same sums.
        if not training and self.sorted_pairs and self.n_pairs:
            return self.pooled_of(user)
        return ops.take(self.pooled_all(), user, axis=0)

    def pooled_all(self):
        """Every user's history vector (``n_users x dim``)."""
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            # The sparse (user x movie) weights times the factor table: its gradient is
            # one sparse product, where a gather of every pair's row gives a gradient
            # of n_pairs rows that the optimizer must first sum into the table's shape
            # (the hybrid's epochs on MovieLens latest-small: 14.0 s -> 11.6 s,
            # benchmarks/hybrid_phases.py).
            pairs = tf.stack([tf.cast(self.pair_users, "int64"),
                              tf.cast(self.pair_items, "int64")], axis=1)
            weights = tf.SparseTensor(pairs, tf.convert_to_tensor(self.pair_weights),
                                      (self.n_users, self.n_items))
            return tf.sparse.sparse_dense_matmul(weights, self.item_factors)
        contributions = ops.take(self.item_factors, self.pair_items, axis=0)
        contributions = contributions * ops.expand_dims(self.pair_weights, -1)
        return ops.segment_sum(contributions, self.pair_users, num_segments=self.n_users)

    def pooled_of(self, user):
        """The history vectors of ``user`` from their own pairs alone (sorted pairs)."""
        import tensorflow as tf

        user = tf.convert_to_tensor(user)
        unique, index = tf.unique(tf.reshape(tf.cast(user, tf.int32), [-1]))
        pair_users = tf.convert_to_tensor(self.pair_users)
        positions = tf.ragged.range(tf.searchsorted(pair_users, unique, side="left"),
                                    tf.searchsorted(pair_users, unique, side="right"))
        flat = positions.flat_values
        contributions = (tf.gather(self.item_factors, tf.gather(self.pair_items, flat))
                         * tf.gather(self.pair_weights, flat)[:, None])
        pooled = tf.math.unsorted_segment_sum(contributions, positions.value_rowids(),
                                              tf.size(unique))
        return tf.reshape(tf.gather(pooled, index),
                          tf.concat([tf.shape(user), [self.dim]], 0))

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self):
        return {**super().get_config(), "n_users": self.n_users, "n_items": self.n_items,
                "n_pairs": self.n_pairs, "dim": self.dim, "sorted_pairs": self.sorted_pairs}


@keras.saving.register_keras_serializable(package="kerasrec")
class LeaveOneOutHistory(HistoryFactors):
    """:class:`HistoryFactors` that leaves the scored movie out of the user's history.

    Called as ``layer(user, item)``, a pair that is part of the training history gets
    its user's pooled vector without the movie's own share ``|N(u)|^-1/2 y_i``; any
    other pair (a candidate the user has not rated) gets the whole history. A model
    therefore cannot learn to recommend a movie because of itself — the role of EASE's
    zero diagonal — and training pairs look like the new pairs it will score. Called as
    ``layer(user)`` it returns the whole history.
    """

    def build(self, input_shape):
        super().build(input_shape)
        fixed = dict(trainable=False, initializer="zeros")
        self.pair_keys = self.add_weight(shape=(self.n_pairs,), dtype="int64",
                                         name="pair_keys", **fixed)
        self.user_scale = self.add_weight(shape=(self.n_users,), name="user_scale", **fixed)

    def set_history(self, users: np.ndarray, items: np.ndarray) -> None:
        super().set_history(users, items)
        users = np.asarray(users, np.int64)
        self.pair_keys.assign(np.sort(users * self.n_items + np.asarray(items, np.int64)))
        counts = np.bincount(users, minlength=self.n_users).astype("float32")
        self.user_scale.assign(np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0))

    def call(self, user, item=None, training=None):
        pooled = super().call(user, training=training)
        if item is None or self.n_pairs == 0:
            return pooled
        key = ops.cast(user, "int64") * self.n_items + ops.cast(item, "int64")
        position = ops.minimum(ops.searchsorted(self.pair_keys, key), self.n_pairs - 1)
        found = ops.cast(ops.equal(ops.take(self.pair_keys, position, axis=0), key),
                         pooled.dtype)
        own = ops.take(self.item_factors, item, axis=0) * ops.expand_dims(
            ops.take(self.user_scale, user, axis=0) * found, -1)
        return pooled - own


@keras.saving.register_keras_serializable(package="kerasrec")
class Neighbourhood(layers.Layer):
    """Koren's (2008) global neighbourhood term, inside the model.

    With ``side="item"``, for a pair (u, i) it looks at i's ``pool`` most similar
    movies that u rated and u's residuals ``e_uj`` on them (rating minus the shrunk
    baseline); with ``side="user"``, at u's most similar users who rated i and their
    residuals ``e_vi``. It returns two columns:

    * the KNN estimate ``sum_j s_ij e_uj / (sum_j s_ij + shrinkage)`` with fixed
      similarities ``s_ij``;
    * a learned interpolation ``|R(i;u)|^-1/2 * sum_j w_ij e_uj`` with trainable
      weights ``w_ij`` (zero-initialised), if ``learn_weights``.

    The pair (u, i) itself is never among the neighbours, so a training rating never
    sees its own value. The model stores the training residuals, so callers pass ids
    only: with ``dense=True`` as a users x items table (NaN = not rated; one gather per
    lookup, the fastest), otherwise as two weights, the keys ``user * n_items + item``
    and their residuals, from which the layer builds TensorFlow hash tables
    (``tf.lookup.StaticHashTable``, key -> residual, NaN = not rated) when they are set
    or loaded; they scale to any number of users and movies. The tables are never
    saved: a Keras ``IntegerLookup`` vocabulary would be, as a text file of every key
    (at 25M keys 30.6 s and 2.1 GB more memory to save, 11.4 s to load; as weights
    0.2 s and 2.3 s). A SavedModel fills them from the two weights when it loads
    (:func:`~kerasrec.models.layers.table_from_weights`), so an export stores each pair
    once, among its variables, not again as constants in its graph (protocol buffers stop at 2 GB,
    about 178M pairs of 12 bytes). A table lookup runs on one core, so the keys are split into
    ``shards`` tables by the pair's fixed side (the user for movie neighbours), each
    batch row asks its shard's table, and TensorFlow runs the shards' lookups at once
    (a 25M-sized step's 1.6M lookups: 32.0 ms in one table, 17.7 ms in two on 2 cores;
    ``benchmarks/lookups.py``).

    Args:
        n_users: User index range.
        n_items: Item index range.
        n_pairs: Number of training pairs.
        side: ``"item"`` (neighbouring movies) or ``"user"`` (neighbouring users).
        pool: Neighbours kept per movie (or user).
        shrinkage: Damps the KNN estimate when few neighbours are found.
        learn_weights: Add the learned interpolation column.
        l2: L2 penalty on the interpolation weights.
        dense: Store residuals as a dense users x items table (small data only).
        shards: Hash tables the keys are split into (without ``dense``); the same
            results for any number.
        **kwargs: Layer arguments.
    """

    def __init__(self, n_users: int, n_items: int, n_pairs: int, side: str = "item",
                 pool: int = 100, shrinkage: float = 1.0, learn_weights: bool = True,
                 l2: float = 0.0, dense: bool = False, shards: int = 1, **kwargs):
        super().__init__(**kwargs)
        if side not in ("item", "user"):
            raise ValueError(f"side must be 'item' or 'user', got {side!r}")
        self.n_users, self.n_items, self.n_pairs, self.pool = (
            int(n_users), int(n_items), int(n_pairs), int(pool))
        self.side, self.shrinkage = side, float(shrinkage)
        self.learn_weights, self.l2, self.dense = bool(learn_weights), float(l2), bool(dense)
        self.shards = max(1, int(shards))
        self.residual_lookups = []

    def build(self, input_shape):
        fixed = dict(trainable=False, initializer="zeros")
        n_anchors = self.n_items if self.side == "item" else self.n_users
        self.neighbours = self.add_weight(shape=(n_anchors, self.pool), dtype="int32",
                                          name="neighbours", **fixed)
        self.similarity = self.add_weight(shape=(n_anchors, self.pool), name="similarity",
                                          **fixed)
        if self.dense:
            self.residual_table = self.add_weight(shape=(self.n_users * self.n_items,),
                                                  name="residual_table", **fixed)
        else:
            self.pair_keys = self.add_weight(shape=(self.n_pairs,), dtype="int64",
                                             name="pair_keys", **fixed)
            self.pair_residuals = self.add_weight(shape=(self.n_pairs,),
                                                  name="pair_residuals", **fixed)
            self._build_lookup(assigned=False)
        if self.learn_weights:
            self.interpolation = self.add_weight(shape=(n_anchors, self.pool),
                                                 name="interpolation", initializer="zeros",
                                                 regularizer=l2_penalty(self.l2))

    def set_neighbourhood(self, neighbours: np.ndarray, similarity: np.ndarray,
                          users: np.ndarray, items: np.ndarray, residuals: np.ndarray) -> None:
        """Store the neighbour table (-1 pads) and the training residuals."""
        keys = np.asarray(users, np.int64) * self.n_items + np.asarray(items, np.int64)
        if len(np.unique(keys)) != len(keys):
            raise ValueError("training pairs repeat a (user, item); resolve duplicates first")
        self.neighbours.assign(np.asarray(neighbours, "int32"))
        self.similarity.assign(np.asarray(similarity, "float32"))
        residuals = np.asarray(residuals, "float32")
        if self.dense:
            table = np.full(self.n_users * self.n_items, np.nan, "float32")
            table[keys] = residuals
            self.residual_table.assign(table)
        else:
            self.pair_keys.assign(keys)
            self.pair_residuals.assign(residuals)
            self._build_lookup()

    def _build_lookup(self, assigned: bool = True) -> None:
        """The key -> residual hash tables, one per shard, filled from the
        ``pair_keys`` and ``pair_residuals`` weights once they are set or loaded
        (``assigned``; until then, empty)."""
        import tensorflow as tf

        def mine(shard):
            def select(keys):
                fixed = keys // self.n_items if self.side == "item" else keys % self.n_items
                return tf.equal(self._shard_of(tf.cast(fixed, tf.int32)), shard)
            return select

        self.residual_lookups = [
            table_from_weights(self.pair_keys, self.pair_residuals, float("nan"),
                               mine(s) if self.shards > 1 else None, filled=assigned)
            for s in range(self.shards)]

    def _shard_of(self, fixed):
        """The shard of a pair's fixed side (its user for movie neighbours)."""
        return fixed % self.shards

    def _lookup(self, keys, fixed):
        """Residuals of ``keys`` ``(batch, pool)``; ``fixed`` ``(batch,)``: each row's
        fixed side, which names its shard. NaN where not rated."""
        if self.shards == 1:
            return self.residual_lookups[0].lookup(keys)
        import tensorflow as tf

        shard = tf.cast(self._shard_of(tf.cast(fixed, tf.int64)), tf.int32)
        rows = tf.dynamic_partition(tf.range(tf.shape(keys)[0]), shard, self.shards)
        found = [table.lookup(tf.gather(keys, r))
                 for table, r in zip(self.residual_lookups, rows)]
        return tf.dynamic_stitch(rows, found)

    def load_own_variables(self, store):
        super().load_own_variables(store)
        if not self.dense:
            self._build_lookup()

    def call(self, inputs):
        user, item = inputs
        anchor, other = (item, user) if self.side == "item" else (user, item)
        neighbours = gather_rows(self.neighbours, anchor)
        other = ops.expand_dims(ops.cast(other, "int64"), -1)
        wide = ops.cast(neighbours, "int64")
        keys = other * self.n_items + wide if self.side == "item" else wide * self.n_items + other
        padded = wide < 0
        if self.dense:
            residual = gather_rows(self.residual_table, ops.where(padded, 0, keys))
        else:  # a pad's key may name another pair; `rated` below drops it
            residual = self._lookup(keys, user if self.side == "item" else item)
        rated = ops.logical_not(ops.logical_or(padded, ops.isnan(residual)))
        residual = ops.where(rated, residual, 0.0)
        found = ops.cast(rated, self.compute_dtype)
        similarity = ops.relu(gather_rows(self.similarity, anchor)) * found
        knn = ops.sum(similarity * residual, axis=-1) / (
            ops.sum(similarity, axis=-1) + self.shrinkage)
        columns = [knn]
        if self.learn_weights:
            weights = gather_rows(self.interpolation, anchor)
            columns.append(ops.sum(weights * residual, axis=-1)
                           / ops.sqrt(ops.sum(found, axis=-1) + 1.0))
        return ops.stack(columns, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0], 2 if self.learn_weights else 1)

    def get_config(self):
        return {**super().get_config(), "n_users": self.n_users, "n_items": self.n_items,
                "n_pairs": self.n_pairs, "side": self.side, "pool": self.pool,
                "shrinkage": self.shrinkage, "learn_weights": self.learn_weights, "l2": self.l2,
                "dense": self.dense, "shards": self.shards}
