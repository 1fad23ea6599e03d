"""The hybrid's retrieval layers and losses (:mod:`kerasrec.models.hybrid.retrieval_layers`)
on tiny inputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasrec.models.hybrid.retrieval_layers import FirstRows, FirstRowsSoftmax


def test_first_rows_keeps_the_first_rows_and_round_trips():
    layer = FirstRows(3)
    a, b = np.arange(10).reshape(5, 2), np.arange(5)
    kept = [np.asarray(t) for t in layer([a, b])]
    np.testing.assert_array_equal(kept[0], a[:3])
    np.testing.assert_array_equal(kept[1], b[:3])
    assert [len(np.asarray(t)) for t in layer([a[:2], b[:2]])] == [2, 2]  # a short batch
    assert FirstRows.from_config(layer.get_config()).rows == 3
    # The loss of the first rows' logits against every row's item equals Keras's on them.
    logits = np.random.default_rng(0).normal(size=(3, 7)).astype("float32")
    items = np.array([4, 1, 6, 2, 2])
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(items[:3], logits)
    assert float(FirstRowsSoftmax()(items, logits)) == pytest.approx(float(expected), rel=1e-6)
