"""Small serializable building blocks shared by the model builders."""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
from keras import layers, ops


def id_input(name: str) -> keras.KerasTensor:
    """A scalar int32 id input (an embedding index from the FeaturePipeline)."""
    return keras.Input(shape=(), dtype="int32", name=name)


def l2_penalty(l2: float):
    """Keras L2 regularizer with weight ``l2``, or None when ``l2`` is 0."""
    return keras.regularizers.L2(l2) if l2 else None


def embedding(n: int, dim: int, name: str, l2: float, initializer=None) -> layers.Embedding:
    """An embedding table with per-occurrence L2 on the looked-up rows.

    The penalty is an activity regularizer, which Keras averages over the batch: each
    rating penalises the rows it touches, as in classic SGD matrix factorization, so
    frequent users and movies are not shrunk less than rare ones per rating.
    """
    return layers.Embedding(
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
def masked_squared_error(y_true, y_pred):
    """Squared error summed over the observed entries of each row (``y_true != 0``).

    AutoRec's objective: unobserved ratings (stored as 0) contribute nothing, and
    every observed rating weighs the same, whichever row it is in (a per-row mean
    would give a movie with one rating as much weight as one with three hundred).
    """
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

    def __init__(self, n_users: int, n_items: int, n_pairs: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.n_users, self.n_items, self.n_pairs, self.dim = (
            int(n_users), int(n_items), int(n_pairs), int(dim))

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
        counts = np.bincount(users, minlength=self.n_users).astype("float32")
        self.pair_users.assign(users)
        self.pair_items.assign(np.asarray(items, dtype="int32"))
        self.pair_weights.assign(1.0 / np.sqrt(counts[users]))

    def call(self, user):
        contributions = ops.take(self.item_factors, self.pair_items, axis=0)
        contributions = contributions * ops.expand_dims(self.pair_weights, -1)
        pooled = ops.segment_sum(contributions, self.pair_users, num_segments=self.n_users)
        return ops.take(pooled, user, axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self):
        return {**super().get_config(), "n_users": self.n_users, "n_items": self.n_items,
                "n_pairs": self.n_pairs, "dim": self.dim}
