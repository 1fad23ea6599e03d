"""The hybrid's retrieval layers: movie scores for a user vector over the whole catalog
(:class:`CatalogScores`), the co-watch weights (:class:`CoWatch`), and what trains the
softmax over the catalog or over a batch's own movies (:class:`FirstRows`,
:class:`InBatchCorrection`, :class:`InBatchSoftmax`, :class:`FirstRowsSoftmax`)."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from kerasrec.models.hybrid.co_watch import co_watch_scores_tf, co_watch_weight_tf


@keras.saving.register_keras_serializable(package="kerasrec")
class CatalogScores(layers.Layer):
    """How strongly a user vector points at movies: ``q . (e_i + W f_i) + b_i``.

    The retrieval half of the hybrid: ``e_i`` a learned movie vector, ``f_i`` the movie's
    features (genres, old; a frozen table, so movies never rated still get a vector),
    ``W`` a learned projection and ``b_i`` a learned movie bias (its popularity).
    Called with the query alone it scores every movie (the logits of a softmax over the
    catalog, for training); called with ``(query, item)`` it scores one movie per row;
    with ``candidates=`` (item indices) it scores every row against those movies (the
    batch's own, for in-batch negatives); ``residual=`` adds a vector to the query that
    alone learns from these scores
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
        self.supports_jit = False  # ragged ranges: see history_layers.HistoryFactors

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
        return co_watch_weight_tf(items, targets, *self.csr())

    def call(self, rows, items, ages, n_rows, half_life):
        return co_watch_scores_tf(rows, items, ages, *self.csr(), half_life, n_rows)

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items, "n_weights": self.n_weights}


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
