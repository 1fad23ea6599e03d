"""Small serializable building blocks shared by the model builders."""

from __future__ import annotations

import functools
from typing import Optional

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
