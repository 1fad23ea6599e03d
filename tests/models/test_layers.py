"""The shared layers (:mod:`kerasrec.models.layers`) against Keras' own and
hand-computed values on tiny inputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasrec.models.layers import Embedding, RowDot, table_from_weights
from tests.conftest import largest_graph_constant


def test_table_from_weights_is_filled_from_the_weights_also_in_a_saved_model(tmp_path):
    """The hashed neighbourhood's tables: filled from two weights, a selection of them,
    or left empty (TensorFlow's tables cannot be); a SavedModel fills them from its
    restored variables, with no copy of the pairs among its graph's constants."""
    import tensorflow as tf

    keys = keras.Variable(np.arange(1, 41, dtype="int64") * 3)
    values = keras.Variable(np.arange(40, dtype="float32") / 4)
    module = tf.Module()
    module.tables = [table_from_weights(keys, values, -9.0),
                     table_from_weights(keys, values, -9.0, lambda k: k % 2 == 0),
                     table_from_weights(keys, values, -9.0, lambda k: k > 1000),  # none
                     table_from_weights(keys, values, -9.0, filled=False)]
    module.look = tf.function(lambda asked: tf.stack([t.lookup(asked) for t in module.tables]),
                              input_signature=[tf.TensorSpec([None], tf.int64)])
    asked = np.array([3, 6, 120, 4, -1, 0], "int64")
    every = np.where(asked % 3 == 0, asked / 3 - 1, np.nan) / 4
    every[asked <= 0] = np.nan
    expected = np.stack([every, np.where(asked % 2 == 0, every, np.nan),
                         np.full(6, np.nan), np.full(6, np.nan)])
    expected = np.where(np.isnan(expected), -9.0, expected)
    np.testing.assert_array_equal(module.look(asked), expected)
    tf.saved_model.save(module, str(tmp_path))
    np.testing.assert_array_equal(tf.saved_model.load(str(tmp_path)).look(asked), expected)
    assert largest_graph_constant(tmp_path) < 20


def test_embedding_looks_up_like_keras_and_leaves_the_table_sparse(tmp_path):
    import tensorflow as tf

    ours, theirs = Embedding(7, 3, name="e"), keras.layers.Embedding(7, 3)
    ours.build((None,))
    theirs.build((None,))
    table = np.random.default_rng(0).normal(size=(7, 3)).astype("float32")
    ours.set_weights([table])
    theirs.set_weights([table])
    ids = np.array([[6, 0], [2, 2]], "int32")
    np.testing.assert_array_equal(ours(ids), theirs(ids))
    np.testing.assert_array_equal(ours(ids.astype("float32")), table[ids])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(ours(ids))
    gradient = tape.gradient(loss, ours.trainable_variables[0].value)
    # Sparse rows only: what lets LazyAdam/SGD update just those rows.
    assert isinstance(gradient, tf.IndexedSlices)
    assert sorted(gradient.indices.numpy().tolist()) == [0, 2, 2, 6]

    model = keras.Sequential([keras.Input((2,), dtype="int32"), ours])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0]) is Embedding
    np.testing.assert_array_equal(loaded(ids), table[ids])


@pytest.mark.parametrize("normalize", [False, True])
def test_row_dot_equals_keras_dot_and_round_trips(normalize):
    rng = np.random.default_rng(4)
    left, right = (rng.normal(size=(6, 5)).astype("float32") for _ in "lr")
    expected = np.asarray(keras.layers.Dot(axes=1, normalize=normalize)([left, right]))
    layer = RowDot(normalize=normalize)
    got = np.asarray(layer([left, right]))
    assert got.shape == (6, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    again = RowDot.from_config(layer.get_config())
    np.testing.assert_allclose(np.asarray(again([left, right])), got)
