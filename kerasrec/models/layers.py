"""Small serializable building blocks shared by the model builders."""

from __future__ import annotations

import functools
from typing import Optional, Sequence

import keras
import numpy as np
from keras import layers, ops


def id_input(name: str) -> keras.KerasTensor:
    """A scalar int32 id input (an embedding index from the FeaturePipeline)."""
    return keras.Input(shape=(), dtype="int32", name=name)


@keras.saving.register_keras_serializable(package="kerasrec")
class L2(keras.regularizers.L2):
    """Keras' L2 penalty, summed in float32 whatever the layer computes in.

    Under a mixed precision policy a layer's outputs are float16, so Keras' own L2 as
    an activity regularizer gives a float16 penalty, which can overflow and which
    Keras' trainer cannot add to the float32 loss (it fails the first step).

    Example:
        >>> float(L2(0.5)(np.array([[1.0, 2.0]], "float16")))
        2.5
    """

    def __call__(self, x):
        return super().__call__(ops.cast(x, "float32"))


def l2_penalty(l2: float):
    """L2 regularizer (:class:`L2`) with weight ``l2``, or None when ``l2`` is 0."""
    return L2(l2) if l2 else None


@keras.saving.register_keras_serializable(package="kerasrec")
class Embedding(layers.Embedding):
    """``keras.layers.Embedding`` whose TensorFlow lookup reads only the rows it needs.

    Keras' Embedding reads the whole table and then gathers from it. Once an optimizer
    updates a table sparsely (:class:`~kerasrec.optimizers.LazyAdam`, SGD), TensorFlow
    keeps the variable in copy-on-read mode, so that whole-table read becomes a copy
    of the table at every step: with MovieLens-25M's 162k users it cost more than the
    lookup itself. Gathering from the variable directly (a ``ResourceGather``) reads
    the looked-up rows alone. Same weights, same results, same config as Keras' layer;
    other backends, LoRA and quantized tables take Keras' own path.
    """

    def call(self, inputs):
        if (keras.backend.backend() != "tensorflow" or self.lora_enabled
                or self.quantization_mode is not None):
            return super().call(inputs)
        import tensorflow as tf

        if inputs.dtype not in ("int32", "int64"):
            inputs = tf.cast(inputs, "int32")
        return tf.cast(gather_rows(self._embeddings, inputs), self.compute_dtype)


def gather_rows(table, indices):
    """``ops.take(table, indices, axis=0)`` that, for a variable under TensorFlow, reads
    only the rows it needs (a ``ResourceGather``): reading the whole of a variable the
    optimizer updates sparsely copies it (see :class:`Embedding`)."""
    if keras.backend.backend() != "tensorflow":
        return ops.take(table, indices, axis=0)
    import tensorflow as tf

    return tf.gather(table.value if isinstance(table, keras.Variable) else table, indices)


def embedding(n: int, dim: int, name: str, l2: float, initializer=None) -> layers.Embedding:
    """An embedding table with per-occurrence L2 on the looked-up rows.

    The penalty is an activity regularizer, which Keras averages over the batch: each
    rating penalises the rows it touches, as in classic SGD matrix factorization, so
    frequent users and movies are not shrunk less than rare ones per rating.
    """
    return Embedding(
        n, dim, name=name,
        embeddings_initializer=initializer or keras.initializers.RandomNormal(0.0, 0.05),
        activity_regularizer=l2_penalty(l2))


def paired_embeddings(user: keras.KerasTensor, item: keras.KerasTensor, n_users: int,
                      n_items: int, dim: int, l2: float, suffix: str = ""):
    """Look up ``user_embedding{suffix}`` and ``item_embedding{suffix}`` vectors."""
    return (embedding(n_users, dim, f"user_embedding{suffix}", l2)(user),
            embedding(n_items, dim, f"item_embedding{suffix}", l2)(item))


def bias(n: int, name: str, l2: float) -> layers.Embedding:
    """A per-id scalar bias, zero-initialised."""
    return embedding(n, 1, name, l2, initializer="zeros")


def constant_table(ids: keras.KerasTensor, table: np.ndarray, name: str) -> keras.KerasTensor:
    """Look rows of a fixed table up by index, inside the model.

    A frozen Embedding holds the table, so it is saved with the weights and callers
    pass ids only.
    """
    table = np.asarray(table, dtype="float32")
    lookup = layers.Embedding(table.shape[0], table.shape[1], trainable=False, name=name)
    rows = lookup(ids)
    lookup.set_weights([table])
    return rows


@keras.saving.register_keras_serializable(package="kerasrec")
class RowDot(layers.Layer):
    """Row-wise dot product of two ``(batch, d)`` tensors -> ``(batch, 1)``, optionally
    of their unit vectors (cosine). ``keras.layers.Dot(axes=1)`` gives the same values
    through a batched matrix product of ``batch`` 1 x d by d x 1 products, about four
    times slower than multiplying and summing (``benchmarks/lookups.py``).

    Example:
        >>> RowDot()([np.ones((2, 3)), np.full((2, 3), 2.0)]).numpy().tolist()
        [[6.0], [6.0]]
    """

    def __init__(self, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.normalize = bool(normalize)

    def call(self, inputs):
        left, right = inputs
        if self.normalize:
            left, right = ops.normalize(left, axis=-1), ops.normalize(right, axis=-1)
        return ops.sum(left * right, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}


@keras.saving.register_keras_serializable(package="kerasrec")
def masked_squared_error(y_true, y_pred):
    """Squared error summed over the observed entries of each row (``y_true != 0``).

    AutoRec's objective: unobserved ratings (stored as 0) contribute nothing, and
    every observed rating weighs the same, whichever row it is in (a per-row mean
    would give a movie with one rating as much weight as one with three hundred).
    """
    y_pred = ops.cast(y_pred, y_true.dtype)  # float16 under a mixed precision policy
    mask = ops.cast(ops.not_equal(y_true, 0.0), y_pred.dtype)
    return ops.sum(mask * ops.square(y_true - y_pred), axis=-1)


def output_head(x: keras.KerasTensor, output: str, rating_range: Optional[tuple],
                name: str = "rating") -> keras.KerasTensor:
    """Final activation: ``"linear"``, or ``"sigmoid"`` stretched over ``rating_range``.

    ``rating_range`` is the range of the model's *targets* (``(0, 1)`` for the default
    min-max scaling, ``(0.5, 5)`` for ratings in stars).
    """
    if output == "linear":
        return x
    if output != "sigmoid":
        raise ValueError(f"output must be 'linear' or 'sigmoid', got {output!r}")
    lo, hi = rating_range or (0.0, 1.0)
    x = layers.Activation("sigmoid", name=f"{name}_sigmoid")(x)
    if (lo, hi) != (0.0, 1.0):
        x = layers.Rescaling(scale=hi - lo, offset=lo, name=f"{name}_range")(x)
    return x


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
    (:func:`table_from_weights`), so an export stores each pair once, among its
    variables, not again as constants in its graph (protocol buffers stop at 2 GB,
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


def table_from_weights(keys, values, default_value, select=None, filled: bool = True):
    """A ``tf.lookup.StaticHashTable`` filled from two weights, keys and values, read
    when the table is initialized, not when it is made.

    ``tf.lookup.KeyValueTensorInitializer`` holds the tensors it is given, so a
    SavedModel would store them as constants in its graph, beside the weights they
    came from. Reading the weights in the initializer makes a SavedModel's table read
    its restored variables instead: TensorFlow restores variables before it runs table
    initializers, in Python and in TensorFlow Serving alike. TensorFlow tables cannot be
    empty: one left empty holds the single key -1, which looks up ``default_value``, as
    a missing key does.

    Args:
        keys: The keys' weight (a Keras or TensorFlow variable).
        values: The values' weight, as long as ``keys``.
        default_value: What a missing key looks up.
        select: Optional ``keys -> bool mask``: only those pairs go in the table.
        filled: False for weights not yet assigned: the table is left empty.

    Returns:
        The table.

    Example:
        >>> import tensorflow as tf
        >>> keys = tf.Variable(np.array([3, 5], np.int64))
        >>> values = tf.Variable(np.array([0.5, -1.0], np.float32))
        >>> table = table_from_weights(keys, values, -9.0)
        >>> table.lookup(tf.constant([5, 4], tf.int64)).numpy().tolist()
        [-1.0, -9.0]
    """
    import tensorflow as tf

    return tf.lookup.StaticHashTable(
        _weights_initializer()(keys, values, select, filled, default_value),
        default_value=default_value)


@functools.lru_cache(maxsize=None)
def _weights_initializer():
    import tensorflow as tf

    class WeightsInitializer(tf.lookup.KeyValueTensorInitializer):
        """:func:`table_from_weights`' initializer."""

        def __init__(self, keys, values, select, filled: bool, default_value) -> None:
            # The parent holds the placeholder pair only (the dtypes it checks).
            super().__init__(tf.constant([-1], keys.dtype),
                             tf.constant([default_value], values.dtype))
            # A Keras weight's TensorFlow variable, tracked so that a SavedModel holding
            # the table saves it (its endpoints' captures are tracked, not this).
            self._weights = tuple(w.value if isinstance(w, keras.Variable) else w
                                  for w in (keys, values))
            self._select, self._filled = select, filled
            for name, weight in zip(("keys", "values"), self._weights):
                self._track_trackable(weight, name=name)

        def initialize(self, table):
            if not self._filled:
                return self._import(table, self._keys, self._values)
            keys, values = (tf.convert_to_tensor(w) for w in self._weights)
            if self._select is not None:
                chosen = self._select(keys)
                keys, values = tf.boolean_mask(keys, chosen), tf.boolean_mask(values, chosen)
            # The placeholder where nothing is left (a cond, not a concat: no copy).
            empty = tf.equal(tf.size(keys), 0)
            return self._import(table, tf.cond(empty, lambda: self._keys, lambda: keys),
                                tf.cond(empty, lambda: self._values, lambda: values))

        @staticmethod
        def _import(table, keys, values):
            return tf.raw_ops.LookupTableImportV2(table_handle=table.resource_handle,
                                                  keys=keys, values=values)

    return WeightsInitializer


class _Untracked:
    """Holds ``value``, a TensorFlow resource, out of Keras' and TensorFlow's tracking: a
    layer's attribute that is a table would be saved and exported with the layer."""

    __slots__ = ("value",)

    def __init__(self, value=None) -> None:
        self.value = value


@keras.saving.register_keras_serializable(package="kerasrec")
class SessionBias(layers.Layer):
    """A bias per user and rating session (Koren's day-specific user bias, 2009).

    People rate in sessions and their mood or scale drifts between them; a rating
    made in a session the model saw in training gets that session's learned offset.
    Sessions are ``session_hours``-long windows of Unix time; the known (user,
    window) keys are stored sorted, with where each user's keys begin, and a key is
    found by a binary search of its user's keys alone
    (:func:`~kerasrec.models.hybrid.sessions.find_sessions_tf`). Unknown sessions (new
    ratings, missing timestamps as -1) get 0.

    The training step finds the keys in a hash table instead, built when the sessions
    are set (:func:`~kerasrec.models.hybrid.sessions.session_table`): the same
    sessions, one probe a key (at 25M generated ratings the step took 73.0 ms with the
    search, 64.3 ms with the table, 63.1 ms without session biases;
    ``benchmarks/scale.py --steps 215``). The table is kept out of saving and export,
    which search the stored keys: a saved model or SavedModel is no larger, and a loaded
    one trains by the search.

    Args:
        n_sessions: Number of known sessions.
        session_hours: Window length.
        n_users: User index range (0: search every key, as models saved before this
            argument did).
        **kwargs: Layer arguments, e.g. ``activity_regularizer`` for per-occurrence L2.
    """

    def __init__(self, n_sessions: int, session_hours: float = 6.0, n_users: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        self.n_sessions, self.session_hours = int(n_sessions), float(session_hours)
        self.n_users = int(n_users)
        self._training_lookup = _Untracked()

    def build(self, input_shape):
        fixed = dict(trainable=False, initializer="zeros")
        self.session_keys = self.add_weight(shape=(self.n_sessions,), dtype="int64",
                                            name="session_keys", **fixed)
        if self.n_users:
            self.user_offsets = self.add_weight(shape=(self.n_users + 1,), dtype="int64",
                                                name="user_offsets", **fixed)
        self.session_bias = self.add_weight(shape=(self.n_sessions, 1), name="session_bias",
                                            initializer="zeros")

    def set_sessions(self, keys: np.ndarray) -> None:
        """Store the training sessions (:func:`~kerasrec.models.hybrid.sessions.training_sessions`)."""
        from kerasrec.models.hybrid.sessions import session_table, user_offsets

        if len(keys) != self.n_sessions:
            raise ValueError(f"expected {self.n_sessions} sessions, got {len(keys)}")
        self.session_keys.assign(np.asarray(keys, np.int64))
        if self.n_users:
            self.user_offsets.assign(user_offsets(keys, self.n_users))
        self._training_lookup.value = session_table(keys)

    def call(self, inputs, training=None):
        from kerasrec.models.hybrid.sessions import (find_sessions_hashed, find_sessions_tf,
                                                     session_keys_ops)

        user, timestamp = inputs
        key = session_keys_ops(user, timestamp, self.session_hours)
        if training and self._training_lookup.value is not None:
            position, found = find_sessions_hashed(self._training_lookup.value, key)
        else:
            bounds = ()
            if self.n_users:
                user = ops.clip(ops.cast(user, "int64"), 0, self.n_users - 1)
                bounds = (gather_rows(self.user_offsets, user),
                          gather_rows(self.user_offsets, user + 1))
            position, found = find_sessions_tf(self.session_keys, key, *bounds)
        offset = gather_rows(self.session_bias, position)
        return offset * ops.expand_dims(ops.cast(found, offset.dtype), -1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "n_sessions": self.n_sessions,
                "session_hours": self.session_hours, "n_users": self.n_users}


@keras.saving.register_keras_serializable(package="kerasrec")
class CatalogScores(layers.Layer):
    """How strongly a user vector points at movies: ``q . (e_i + W f_i) + b_i``.

    The retrieval half of the hybrid: ``e_i`` a learned movie vector, ``f_i`` the movie's
    features (genres, old; a frozen table, so movies never rated still get a vector),
    ``W`` a learned projection and ``b_i`` a learned movie bias (its popularity).
    Called with the query alone it scores every movie (the logits of a softmax over the
    catalog, for training); called with ``(query, item)`` it scores one movie per row;
    with ``candidates=`` (item indices) it scores every row against those movies (the
    batch's own, for in-batch negatives); ``residual=`` adds a vector to the query that alone learns from these scores
    (with ``frozen=True`` the movie vectors and biases do not either).

    Args:
        n_items: Item index range.
        dim: Vector size.
        n_features: Width of the item feature table.
        **kwargs: Layer arguments.
    """

    def __init__(self, n_items: int, dim: int, n_features: int, **kwargs):
        super().__init__(**kwargs)
        self.n_items, self.dim, self.n_features = int(n_items), int(dim), int(n_features)

    def build(self, input_shape):
        self.item_embeddings = self.add_weight(
            shape=(self.n_items, self.dim), name="item_embeddings",
            initializer=keras.initializers.RandomNormal(0.0, 0.05))
        self.feature_table = self.add_weight(shape=(self.n_items, self.n_features),
                                             name="feature_table", trainable=False,
                                             initializer="zeros")
        self.feature_projection = self.add_weight(shape=(self.n_features, self.dim),
                                                  name="feature_projection",
                                                  initializer="glorot_uniform")
        self.item_bias = self.add_weight(shape=(self.n_items,), name="item_bias",
                                         initializer="zeros")

    def item_vectors(self):
        """``(n_items, dim)``: every movie's vector."""
        return self.item_embeddings + ops.matmul(self.feature_table, self.feature_projection)

    def call(self, query, item=None, candidates=None, frozen=False, residual=None):
        # residual: scores of ``query + residual`` whose gradient does not reach the
        # query (a head trained on top of it); frozen: nor the movie vectors and biases.
        hold = ops.stop_gradient if frozen else (lambda t: t)
        if residual is not None:
            query = ops.stop_gradient(query) + residual
        if candidates is not None:  # (batch, len(candidates)): in-batch negatives
            vectors = hold(ops.take(self.item_embeddings, candidates, axis=0)
                           + ops.matmul(ops.take(self.feature_table, candidates, axis=0),
                                        self.feature_projection))
            return (ops.matmul(query, ops.transpose(vectors))
                    + hold(ops.take(self.item_bias, candidates, axis=0)))
        if item is None:
            return ops.matmul(query, ops.transpose(hold(self.item_vectors()))) + hold(
                self.item_bias)
        vectors = (ops.take(self.item_embeddings, item, axis=0)
                   + ops.matmul(ops.take(self.feature_table, item, axis=0),
                                self.feature_projection))
        return (ops.sum(query * vectors, axis=-1, keepdims=True)
                + ops.expand_dims(ops.take(self.item_bias, item, axis=0), -1))

    def compute_output_spec(self, query, item=None, candidates=None, frozen=False,
                            residual=None):
        width = (candidates.shape[0] if candidates is not None
                 else self.n_items if item is None else 1)
        return keras.KerasTensor((query.shape[0], width), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items, "dim": self.dim,
                "n_features": self.n_features}


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
class RecentRatings(layers.Layer):
    """Each (user, time)'s last ``length`` training ratings made strictly before it.

    Holds the training ratings sorted by ``user * 2**32 + timestamp`` as non-trainable
    weights and finds the window by binary search
    (:func:`~kerasrec.models.hybrid.recent.recent_window_ops`), so a rating is never
    in its own window, nor is anything rated later: what the model learns from a
    rating at time t it could have known at t. A timestamp of -1 means now.

    Args:
        n_pairs: Number of training ratings.
        length: Window length.
        n_users: User index range: the layer keeps where each user's ratings start and
            searches those alone, never reading every key (0: search every key, as
            models saved before this argument did).
        era_edges: Inner edges of the eras (Unix seconds, increasing:
            :func:`~kerasrec.models.hybrid.recent.era_edges`); with them the window also
            says when each movie was rated, as its era
            (:func:`~kerasrec.models.hybrid.recent.era_of`).
        **kwargs: Layer arguments.

    Call: ``layer([user, timestamp])`` -> ``(items, ratings, valid)``, each
    ``(batch, length)``, oldest first, left-padded (item 0, rating 0, valid False), and
    with ``era_edges`` each position's era (0 at padding) fourth.
    """

    def __init__(self, n_pairs: int, length: int, n_users: int = 0,
                 era_edges: Sequence[int] = (), **kwargs):
        super().__init__(**kwargs)
        self.n_pairs, self.length, self.n_users = int(n_pairs), int(length), int(n_users)
        self.era_edges = [int(e) for e in era_edges]
        #: The era of "now" (a movie passed as recent): the latest; 0 without eras.
        self.last_era = len(self.era_edges) + 1 if self.era_edges else 0
        #: The era index range (0 undated, ..., ``last_era``) for
        #: :class:`HistoryAttention`'s ``eras``; 0 without eras.
        self.eras = self.last_era + 1 if self.era_edges else 0

    def build(self, input_shape):
        fixed = dict(trainable=False, initializer="zeros")
        n = max(self.n_pairs, 1)
        self.keys = self.add_weight(shape=(n,), dtype="int64", name="keys", **fixed)
        self.items = self.add_weight(shape=(n,), dtype="int32", name="items", **fixed)
        self.ratings = self.add_weight(shape=(n,), name="ratings", **fixed)
        if self.n_users:
            self.user_offsets = self.add_weight(shape=(self.n_users + 1,), dtype="int64",
                                                name="user_offsets", **fixed)

    def set_history(self, users, items, timestamps, ratings) -> None:
        """Store the training ratings (embedding indices; ratings centred on the mean)."""
        from kerasrec.models.hybrid.recent import sorted_history
        from kerasrec.models.hybrid.sessions import user_offsets

        keys, items, ratings = sorted_history(users, items, timestamps, ratings)
        if len(keys) != self.n_pairs:
            raise ValueError(f"expected {self.n_pairs} ratings, got {len(keys)}")
        if len(keys):
            self.keys.assign(keys)
            self.items.assign(items)
            self.ratings.assign(ratings)
        if self.n_users:
            self.user_offsets.assign(user_offsets(keys, self.n_users))

    def _bounds(self, users):
        """Each user's range of stored ratings (None: search every key)."""
        if not self.n_users:
            return None
        users = ops.clip(ops.cast(users, "int64"), 0, self.n_users - 1)
        return (gather_rows(self.user_offsets, users),
                gather_rows(self.user_offsets, users + 1))

    def call(self, inputs):
        from kerasrec.models.hybrid.recent import recent_window_ops

        user, timestamp = inputs
        if self.n_pairs == 0:
            shape = (ops.shape(user)[0], self.length)
            empty = (ops.zeros(shape, "int32"), ops.zeros(shape, self.compute_dtype),
                     ops.zeros(shape, "bool"))
            return empty + (ops.zeros(shape, "int32"),) if self.era_edges else empty
        positions, valid = recent_window_ops(self.keys, user, timestamp, self.length,
                                             self._bounds(user))
        items = ops.where(valid, gather_rows(self.items, positions), 0)
        ratings = ops.where(valid, gather_rows(self.ratings, positions), 0.0)
        if not self.era_edges:
            return items, ratings, valid
        from kerasrec.models.hybrid.recent import era_of_ops

        eras = era_of_ops(gather_rows(self.keys, positions), self.era_edges)
        return items, ratings, valid, ops.where(valid, eras, 0)

    def whole(self, users, timestamps):
        """Every stored rating of each (user, time) made strictly before it, flat, in
        TensorFlow: ``(rows, items, ages)`` (see
        :func:`~kerasrec.models.hybrid.recent.whole_history`)."""
        from kerasrec.models.hybrid.recent import whole_history_ops

        rows, positions, ages = whole_history_ops(self.keys, users, timestamps,
                                                  self._bounds(users))
        return rows, gather_rows(self.items, positions), ages

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0][0], self.length)
        return (shape,) * (4 if self.era_edges else 3)

    def get_config(self):
        return {**super().get_config(), "n_pairs": self.n_pairs, "length": self.length,
                "n_users": self.n_users, "era_edges": list(self.era_edges)}


@keras.saving.register_keras_serializable(package="kerasrec")
class RecentResiduals(layers.Layer):
    """How far the model was off on each (user, time)'s last ``length`` training ratings
    made strictly before it, shrunk and faded with the days since the last of them:
    ``sum / (count + shrink) * 0.5 ** (days / half_life)``
    (:func:`~kerasrec.models.hybrid.recent.recent_residual_ops`).

    A user's scale drifts, and the last few ratings show where it is now. The residuals
    are the model's own errors on its training ratings, so they exist only once it is
    trained: the layer is zero in training and until :meth:`set_residuals` fills it;
    the head's weight on it, ``shrink`` and ``half_life`` are then chosen on validation
    data. The same window rule as :class:`RecentRatings`: never the rating itself, nor a
    later one. "Now" (time -1) stands for the last training rating's time.

    Args:
        n_pairs: Number of training ratings.
        length: Ratings read.
        n_users: User index range (each user's own keys are searched).
        **kwargs: Layer arguments.

    Call: ``layer([user, timestamp])`` -> ``(batch, 1)``.
    """

    def __init__(self, n_pairs: int, length: int, n_users: int, **kwargs):
        super().__init__(**kwargs)
        self.n_pairs, self.length, self.n_users = int(n_pairs), int(length), int(n_users)

    def build(self, input_shape=None):
        fixed = dict(trainable=False, initializer="zeros")
        n = max(self.n_pairs, 1)
        self.keys = self.add_weight(shape=(n,), dtype="int64", name="keys", **fixed)
        self.residuals = self.add_weight(shape=(n,), name="residuals", **fixed)
        self.user_offsets = self.add_weight(shape=(self.n_users + 1,), dtype="int64",
                                            name="user_offsets", **fixed)
        self.shrink = self.add_weight(shape=(), name="shrink", trainable=False,
                                      initializer=keras.initializers.Constant(1.0))
        self.half_life = self.add_weight(shape=(), name="half_life", **fixed)
        self.latest = self.add_weight(shape=(), dtype="int64", name="latest", **fixed)

    def set_residuals(self, users, timestamps, residuals, shrink: float = 1.0,
                      half_life: float = 0.0) -> None:
        """Store each training rating's residual (target minus prediction, in target
        units) by its (user index, time), the shrinkage and the half-life in days (0:
        no fading)."""
        from kerasrec.models.hybrid.recent import latest_time, sorted_history
        from kerasrec.models.hybrid.sessions import user_offsets

        keys, _, values = sorted_history(users, np.zeros(len(users), np.int32), timestamps,
                                         residuals)
        if len(keys) != self.n_pairs:
            raise ValueError(f"expected {self.n_pairs} ratings, got {len(keys)}")
        if len(keys):
            self.keys.assign(keys)
            self.residuals.assign(values)
        self.user_offsets.assign(user_offsets(keys, self.n_users))
        self.shrink.assign(float(shrink))
        self.half_life.assign(float(half_life))
        self.latest.assign(latest_time(keys))

    def stored(self) -> dict:
        """The stored state as NumPy values, named as
        :func:`~kerasrec.models.hybrid.recent.recent_residual`'s arguments: ``keys``,
        ``residuals``, ``length``, ``shrink``, ``half_life``, ``latest``."""
        return {"keys": np.asarray(self.keys.numpy(), np.int64)[:self.n_pairs],
                "residuals": np.asarray(self.residuals.numpy(), np.float32)[:self.n_pairs],
                "length": self.length, "shrink": float(self.shrink.numpy()),
                "half_life": float(self.half_life.numpy()), "latest": int(self.latest.numpy())}

    def call(self, inputs, training=False):
        from kerasrec.models.hybrid.recent import recent_residual_ops

        user, timestamp = inputs
        if training or self.n_pairs == 0:  # filled after training: zero until then
            return ops.zeros((ops.shape(user)[0], 1), self.compute_dtype)
        users = ops.clip(ops.cast(user, "int64"), 0, self.n_users - 1)
        bounds = (gather_rows(self.user_offsets, users),
                  gather_rows(self.user_offsets, users + 1))
        mean = recent_residual_ops(self.keys, self.residuals, user, timestamp, self.length,
                                   self.shrink, self.half_life, self.latest, bounds)
        return ops.expand_dims(mean, -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)

    def get_config(self):
        return {**super().get_config(), "n_pairs": self.n_pairs, "length": self.length,
                "n_users": self.n_users}


@keras.saving.register_keras_serializable(package="kerasrec")
class CoWatch(layers.Layer):
    """Co-watch item-item weights, the strongest kept in CSR form, read with recency.

    Not trained by gradient: the weights are closed forms (EASE^R's plus the "after"
    weights of :mod:`~kerasrec.models.hybrid.co_watch`), set once
    (:func:`~kerasrec.models.hybrid.co_watch.fit_co_watch`). Called with a flat list of
    rated movies, the user row of each and their ages (ratings since), it returns each
    row's score for every movie, ``sum_j 0.5 ** (age_j / half_life) * B[j, :]``
    (:func:`~kerasrec.models.hybrid.co_watch.co_watch_scores_tf`).

    Args:
        n_items: Item index range.
        n_weights: Weights kept.
        **kwargs: Layer arguments.

    Call: ``layer(rows, items, ages, n_rows=, half_life=)`` -> ``(n_rows, n_items)``.
    """

    def __init__(self, n_items: int, n_weights: int, **kwargs):
        # Closed-form weights, never trained: float32 under a mixed precision policy too
        # (their sums over a long history would lose digits in float16).
        super().__init__(**{"dtype": "float32", **kwargs})
        self.n_items, self.n_weights = int(n_items), int(n_weights)
        self.supports_jit = False  # ragged ranges: see HistoryFactors

    def build(self, input_shape=None):
        fixed = dict(trainable=False, initializer="zeros")
        self.offsets = self.add_weight(shape=(self.n_items + 1,), dtype="int64",
                                       name="offsets", **fixed)
        self.columns = self.add_weight(shape=(self.n_weights,), dtype="int32",
                                       name="columns", **fixed)
        self.strengths = self.add_weight(shape=(self.n_weights,), name="strengths", **fixed)

    def set_weights_from(self, offsets: np.ndarray, columns: np.ndarray,
                         strengths: np.ndarray) -> None:
        """Store :func:`~kerasrec.models.hybrid.co_watch.fit_co_watch`'s output."""
        self.offsets.assign(np.asarray(offsets, np.int64))
        self.columns.assign(np.asarray(columns, np.int32))
        self.strengths.assign(np.asarray(strengths, np.float32))

    def csr(self):
        """The weights as tensors: ``(offsets, columns, strengths)``."""
        import tensorflow as tf

        return tuple(tf.convert_to_tensor(w) for w in (self.offsets, self.columns,
                                                       self.strengths))

    def weight_of(self, items, targets):
        """``B[items[k], targets[k]]`` (0 where not kept)."""
        from kerasrec.models.hybrid.co_watch import co_watch_weight_tf

        return co_watch_weight_tf(items, targets, *self.csr())

    def call(self, rows, items, ages, n_rows, half_life):
        from kerasrec.models.hybrid.co_watch import co_watch_scores_tf

        return co_watch_scores_tf(rows, items, ages, *self.csr(), half_life, n_rows)

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items, "n_weights": self.n_weights}


@keras.saving.register_keras_serializable(package="kerasrec")
class HistoryAttention(layers.Layer):
    """A user's recent movies, read by multi-head self-attention, as one vector.

    Each position is the movie's embedding plus its (centred) rating times a learned
    vector plus a position embedding counted from the most recent, and with ``eras`` an
    embedding of when it was rated (its era): what was watched around then, which the
    order alone cannot tell; padding is masked.
    ``keras.layers.MultiHeadAttention`` with a residual and ``LayerNormalization``
    encodes the sequence; an attention pooling (a learned score per position, softmax
    over the real ones) weighs the positions, and a linear map without bias takes the
    pooled vector to ``output_dim``. The output is therefore exactly
    ``sum_j a_j P h_j``: :meth:`contributions` returns each movie's term, which is
    what "because you watched ..." shows.

    Args:
        n_items: Item index range (0 = padding / unknown).
        length: Window length.
        dim: Width of the sequence encoding.
        heads: Attention heads.
        output_dim: Width of the output (the retrieval vectors').
        dropout: Dropout inside the attention.
        eras: Era index range (0 = undated; :class:`RecentRatings` with ``era_edges``
            gives ``len(era_edges) + 2``); 0: no era embedding.
        **kwargs: Layer arguments.

    Call: ``layer(items, ratings, valid[, eras])`` -> ``(batch, output_dim)``; rows
    without a real position give zeros.
    """

    def __init__(self, n_items: int, length: int, dim: int = 64, heads: int = 2,
                 output_dim: int = 64, dropout: float = 0.1, eras: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.n_items, self.length, self.dim, self.heads = (int(n_items), int(length),
                                                           int(dim), int(heads))
        self.output_dim, self.dropout, self.eras = int(output_dim), float(dropout), int(eras)
        self.era_embedding = (layers.Embedding(self.eras, self.dim, name="era_embedding",
                                               embeddings_initializer="zeros")
                              if self.eras else None)
        self.item_embedding = Embedding(self.n_items, self.dim, name="item_embedding",
                                        embeddings_initializer=keras.initializers.RandomNormal(
                                            0.0, 0.05))
        self.position_embedding = layers.Embedding(self.length, self.dim,
                                                   name="position_embedding")
        self.rating_projection = layers.Dense(self.dim, use_bias=False, name="rating_projection")
        self.self_attention = layers.MultiHeadAttention(
            self.heads, max(self.dim // self.heads, 1), dropout=self.dropout,
            name="self_attention")
        self.norm = layers.LayerNormalization(name="norm")
        self.pool_score = layers.Dense(1, name="pool_score")
        self.projection = layers.Dense(self.output_dim, use_bias=False, name="projection")

    def build(self, items_shape, ratings_shape=None, valid_shape=None, eras_shape=None):
        batch = (None, self.length)
        self.item_embedding.build(batch)
        self.position_embedding.build((self.length,))
        if self.era_embedding is not None:
            self.era_embedding.build(batch)
        self.rating_projection.build((*batch, 1))
        self.self_attention.build((*batch, self.dim), (*batch, self.dim))
        self.norm.build((*batch, self.dim))
        self.pool_score.build((*batch, self.dim))
        self.projection.build((None, self.dim))

    def encode(self, items, ratings, valid, eras=None, training=None):
        """Encoded positions ``(batch, length, dim)`` and pooling weights ``(batch, length)``."""
        valid = ops.cast(valid, "bool")
        positions = ops.arange(self.length)[::-1]  # 0 = most recent (the last column)
        x = (self.item_embedding(items)
             + self.rating_projection(ops.expand_dims(ops.cast(ratings, self.compute_dtype), -1))
             + ops.expand_dims(self.position_embedding(positions), 0))
        if self.era_embedding is not None and eras is not None:
            x = x + self.era_embedding(ops.clip(ops.cast(eras, "int32"), 0, self.eras - 1))
        mask = ops.logical_and(ops.expand_dims(valid, 1), ops.expand_dims(valid, 2))
        attended = self.self_attention(x, x, attention_mask=mask, training=training)
        h = self.norm(x + attended)
        # The pooling softmax in float32: under a mixed precision policy -1e9 is -inf in
        # float16, and a user with no rating before the moment would get 0/0.
        score = ops.cast(ops.squeeze(self.pool_score(h), -1), "float32")
        a = ops.softmax(ops.where(valid, score, -1e9), axis=-1) * ops.cast(valid, "float32")
        return h, ops.cast(a, h.dtype)

    def call(self, items, ratings, valid, eras=None, training=None):
        h, a = self.encode(items, ratings, valid, eras, training)
        return self.projection(ops.sum(h * ops.expand_dims(a, -1), axis=1))

    def contributions(self, items, ratings, valid, eras=None):
        """Each position's term of the output, ``a_j P h_j``: ``(batch, length, output_dim)``
        (zeros at padding), which sum over positions to :meth:`call`'s output, and the
        pooling weights ``a`` ``(batch, length)``."""
        h, a = self.encode(items, ratings, valid, eras, training=False)
        return self.projection(h) * ops.expand_dims(a, -1), a

    def compute_output_shape(self, items_shape, ratings_shape=None, valid_shape=None,
                             eras_shape=None):
        return (items_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items, "length": self.length,
                "dim": self.dim, "heads": self.heads, "output_dim": self.output_dim,
                "dropout": self.dropout, "eras": self.eras}


@keras.saving.register_keras_serializable(package="kerasrec")
class FirstRows(layers.Layer):
    """The first ``rows`` rows of each input (all of a shorter batch): a part trained on
    a sample of each shuffled batch costs the same per step whatever the batch size.

    Args:
        rows: Rows kept.
        **kwargs: Layer arguments.

    Call: ``layer([a, b, ...])`` -> ``[a[:rows], b[:rows], ...]``.
    """

    def __init__(self, rows: int, **kwargs):
        super().__init__(**kwargs)
        self.rows = int(rows)

    def call(self, inputs):
        return [t[:self.rows] for t in inputs]

    def compute_output_spec(self, inputs):
        return [keras.KerasTensor((None, *t.shape[1:]), dtype=t.dtype) for t in inputs]

    def get_config(self):
        return {**super().get_config(), "rows": self.rows}


@keras.saving.register_keras_serializable(package="kerasrec")
class InBatchCorrection(layers.Layer):
    """In-batch negatives for a catalog too large for a full softmax: each row's logits
    over the batch's own movies, corrected for how often a movie is sampled as a
    negative (logQ: ``keras_rs.layers.SamplingProbabilityCorrection`` with each movie's
    share of the training ratings) and with the row's own movie elsewhere in the batch
    masked. Popular movies would otherwise be pushed down for being everybody's
    negative (Yi et al., 2019). The masking is done here: keras-rs 0.4's
    ``RemoveAccidentalHits`` adds ``smallest_normal / 100`` (about 1e-40) to the hits,
    which leaves float32 logits unchanged (keras-team/keras-rs#206).

    Args:
        n_items: Item index range.
        **kwargs: Layer arguments.

    Call: ``layer(logits, item)`` with ``logits`` ``(batch, batch)`` (row i: query i
    against item j) -> corrected logits; the positives are on the diagonal
    (:class:`InBatchSoftmax`).
    """

    def __init__(self, n_items: int, **kwargs):
        super().__init__(**kwargs)
        import keras_rs

        self.n_items = int(n_items)
        self.correction = keras_rs.layers.SamplingProbabilityCorrection()

    def build(self, logits_shape, item_shape=None):
        self.sampling_probability = self.add_weight(
            shape=(self.n_items,), name="sampling_probability", trainable=False,
            initializer="ones")

    def set_frequency(self, items: np.ndarray) -> None:
        """Each item's share of the training ratings (its chance to be a negative)."""
        counts = np.bincount(np.asarray(items, np.int64), minlength=self.n_items)
        self.sampling_probability.assign((counts / max(counts.sum(), 1)).astype("float32"))

    def call(self, logits, item):
        probability = ops.take(self.sampling_probability, item, axis=0)
        logits = self.correction(logits, ops.broadcast_to(ops.expand_dims(probability, 0),
                                                          ops.shape(logits)))
        item = ops.cast(item, "int32")
        same = ops.equal(ops.expand_dims(item, 1), ops.expand_dims(item, 0))
        accidental = ops.logical_and(same, ops.logical_not(ops.eye(ops.shape(logits)[0],
                                                                    dtype="bool")))
        return ops.where(accidental, ops.cast(-1e9, logits.dtype), logits)

    def compute_output_shape(self, logits_shape, item_shape=None):
        return logits_shape

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items}


@keras.saving.register_keras_serializable(package="kerasrec")
class InBatchSoftmax(keras.losses.Loss):
    """Softmax cross-entropy whose positives are the diagonal of ``(batch, batch)``
    logits (:class:`InBatchCorrection`); ``y_true`` is not read."""

    def __init__(self, name: str = "in_batch_softmax", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        labels = ops.eye(ops.shape(y_pred)[0], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(labels, y_pred, from_logits=True)


@keras.saving.register_keras_serializable(package="kerasrec")
class FirstRowsSoftmax(keras.losses.Loss):
    """Sparse softmax cross-entropy of logits over the catalog for the batch's first
    rows (as many as ``y_pred`` has; every row when it has them all): ``y_true`` holds
    the item index of every row of the batch."""

    def __init__(self, name: str = "first_rows_softmax", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        labels = ops.reshape(y_true, (-1,))[:ops.shape(y_pred)[0]]
        return keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
