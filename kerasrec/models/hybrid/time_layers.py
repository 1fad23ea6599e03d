"""The hybrid's layers that read when each rating was made: the session bias
(:class:`SessionBias`), each moment's window of recent ratings (:class:`RecentRatings`),
the model's errors on them (:class:`RecentResiduals`) and the sequence branch's
self-attention over the window (:class:`HistoryAttention`). The rules they run in
TensorFlow sit beside their NumPy forms in :mod:`~kerasrec.models.hybrid.sessions` and
:mod:`~kerasrec.models.hybrid.recent`."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import layers, ops

from kerasrec.models.hybrid.recent import (era_of_ops, latest_time, recent_residual_ops,
                                           recent_window_ops, sorted_history,
                                           whole_history_ops)
from kerasrec.models.hybrid.sessions import (find_sessions_hashed, find_sessions_tf,
                                             session_keys_ops, session_table, user_offsets)
from kerasrec.models.layers import Embedding, gather_rows


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
        """Store the training sessions
        (:func:`~kerasrec.models.hybrid.sessions.training_sessions`)."""
        if len(keys) != self.n_sessions:
            raise ValueError(f"expected {self.n_sessions} sessions, got {len(keys)}")
        self.session_keys.assign(np.asarray(keys, np.int64))
        if self.n_users:
            self.user_offsets.assign(user_offsets(keys, self.n_users))
        self._training_lookup.value = session_table(keys)

    def call(self, inputs, training=None):
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
        eras = era_of_ops(gather_rows(self.keys, positions), self.era_edges)
        return items, ratings, valid, ops.where(valid, eras, 0)

    def whole(self, users, timestamps):
        """Every stored rating of each (user, time) made strictly before it, flat, in
        TensorFlow: ``(rows, items, ages)`` (see
        :func:`~kerasrec.models.hybrid.recent.whole_history`)."""
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
