"""Optimizers for models whose size is in their embedding tables.

Keras 3's Adam updates every row of every embedding table at each step, even though a
batch touches only the rows of its users and movies (keras-team/keras#19992): with
MovieLens-25M-sized tables (162k users, 59k movies) that full-table update costs more
than the forward and backward pass over a 4,096-row batch. :class:`LazyAdam` updates
only the rows a batch touched, as ``tf.contrib.opt.LazyAdamOptimizer`` and PyTorch's
``SparseAdam`` did; dense weights are updated exactly as by Adam.
"""

from __future__ import annotations

from typing import Union

import keras

from kerasrec.training import OPTIMIZER_NAMES

#: Names :func:`get_optimizer` accepts (written once, in :mod:`kerasrec.training`).
OPTIMIZERS = OPTIMIZER_NAMES


@keras.saving.register_keras_serializable(package="kerasrec")
class LazyAdam(keras.optimizers.Adam):
    """Adam that updates only the embedding rows present in a batch.

    For a sparse gradient (an embedding lookup under the TensorFlow backend) the
    moments and weights of the rows the batch looked up are updated by Adam's rule,
    with the step's bias correction; rows not looked up keep their moments and
    weights, where Adam would keep moving them with their stale momentum. Dense
    gradients take Adam's path unchanged, so on other backends (whose gradients are
    always dense) this is Adam.

    Accepts the arguments of ``keras.optimizers.Adam`` except ``amsgrad``.
    """

    def __init__(self, learning_rate=0.001, **kwargs) -> None:
        if kwargs.get("amsgrad"):
            raise ValueError("LazyAdam does not support amsgrad")
        super().__init__(learning_rate=learning_rate, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf

        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        # A row looked up several times in a batch gets one update with its summed gradient.
        rows, position = tf.unique(gradient.indices)
        grad = tf.math.unsorted_segment_sum(tf.cast(gradient.values, dtype), position,
                                            tf.shape(rows)[0])
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        alpha = (tf.cast(learning_rate, dtype) * tf.sqrt(1 - tf.pow(beta_2, step))
                 / (1 - tf.pow(beta_1, step)))
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        # Gather from the tf.Variable itself (a ResourceGather): reading the whole value
        # first would make the scatters below copy the full table.
        m_rows = beta_1 * tf.gather(_tf_variable(m), rows) + (1 - beta_1) * grad
        v_rows = beta_2 * tf.gather(_tf_variable(v), rows) + (1 - beta_2) * tf.square(grad)
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        # The rows' new values written over them, not subtracted in place: the same
        # numbers, but on CPU TensorFlow's scatter-subtract takes about twice as long as
        # a gather and a scatter-write (benchmarks/lookups.py); at 25M ratings the
        # step went from 64.3 to 60.2 ms (benchmarks/scale.py --steps 215).
        new_rows = (tf.gather(_tf_variable(variable), rows)
                    - alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon))
        self.assign(variable, tf.IndexedSlices(new_rows, rows))


def _tf_variable(variable):
    return variable.value if isinstance(variable, keras.Variable) else variable


def check_optimizer(name: Union[str, keras.optimizers.Optimizer]):
    """Return ``name`` if :func:`get_optimizer` knows it (or it is an optimizer object).

    Raises:
        ArgumentError: For an unknown name.
    """
    if isinstance(name, keras.optimizers.Optimizer):
        return name
    if name not in OPTIMIZERS:
        from kerasrec.errors import ArgumentError

        raise ArgumentError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    return name


def get_optimizer(name: Union[str, keras.optimizers.Optimizer],
                  learning_rate: float) -> keras.optimizers.Optimizer:
    """An optimizer by name: ``"adam"`` or ``"lazy_adam"`` (:class:`LazyAdam`).

    An optimizer instance is a template: a fresh copy of it is returned (an optimizer
    holds the state of the model it trained, so one object cannot train two models).

    Raises:
        ArgumentError: For an unknown name.
    """
    if isinstance(name, keras.optimizers.Optimizer):
        return type(name).from_config(name.get_config())
    if check_optimizer(name) == "lazy_adam":
        return LazyAdam(learning_rate)
    return keras.optimizers.Adam(learning_rate)
