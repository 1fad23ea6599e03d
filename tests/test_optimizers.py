"""LazyAdam: Adam on the rows a batch touches, nothing on the others."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import training  # noqa: E402
from kerasrec.optimizers import LazyAdam, get_optimizer  # noqa: E402


def _lookup_model(n_rows: int = 6, dim: int = 3, seed: int = 0) -> keras.Model:
    ids = keras.Input((), dtype="int32", name="ids")
    vectors = keras.layers.Embedding(n_rows, dim, name="table",
                                     embeddings_initializer=keras.initializers.RandomNormal(
                                         0.0, 1.0, seed=seed))(ids)
    dense = keras.layers.Dense(1, name="head", kernel_initializer="ones")(vectors)
    return keras.Model(ids, keras.layers.Flatten()(dense))


def _train(optimizer, batches, n_rows=6):
    model = _lookup_model(n_rows)
    model.compile(optimizer=optimizer, loss="mse")
    for ids, target in batches:
        model.train_on_batch(ids, target)
    return model


def _numpy_lazy_adam(table, rows_per_step, grads_per_step, lr, b1=0.9, b2=0.999, eps=1e-7):
    """Reference lazy Adam: the update of Adam, applied to the listed rows only."""
    table, m, v = table.copy(), np.zeros_like(table), np.zeros_like(table)
    for step, (rows, grad) in enumerate(zip(rows_per_step, grads_per_step), start=1):
        alpha = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
        m[rows] = b1 * m[rows] + (1 - b1) * grad
        v[rows] = b2 * v[rows] + (1 - b2) * grad ** 2
        table[rows] -= alpha * m[rows] / (np.sqrt(v[rows]) + eps)
    return table


def test_matches_adam_when_every_row_is_in_every_batch():
    rng = np.random.default_rng(0)
    batches = [(rng.permutation(6).astype("int32"), rng.normal(size=6).astype("float32"))
               for _ in range(5)]
    lazy = _train(LazyAdam(0.05), batches)
    adam = _train(keras.optimizers.Adam(0.05), batches)
    for a, b in zip(lazy.get_weights(), adam.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_untouched_rows_keep_weights_and_moments_while_adam_moves_them():
    rng = np.random.default_rng(1)
    first = (np.arange(6, dtype="int32"), rng.normal(size=6).astype("float32"))
    only_low = [(np.array([0, 1, 1, 2], "int32"), rng.normal(size=4).astype("float32"))
                for _ in range(3)]
    lazy = _train(LazyAdam(0.05), [first])
    before = lazy.get_layer("table").get_weights()[0].copy()
    for ids, target in only_low:
        lazy.train_on_batch(ids, target)
    after = lazy.get_layer("table").get_weights()[0]
    np.testing.assert_array_equal(after[3:], before[3:])
    assert not np.allclose(after[:3], before[:3])

    adam = _train(keras.optimizers.Adam(0.05), [first, *only_low])
    assert not np.allclose(adam.get_layer("table").get_weights()[0][3:], before[3:])


def test_repeated_rows_get_one_update_with_the_summed_gradient():
    """Against a NumPy lazy Adam, with the mse gradient worked out by hand."""
    rng = np.random.default_rng(2)
    steps = [(np.array([4, 0, 4, 4, 2], "int32"), rng.normal(size=5).astype("float32")),
             (np.array([2, 2, 5], "int32"), rng.normal(size=3).astype("float32"))]
    model = _lookup_model()
    head = model.get_layer("head")
    head.trainable = False  # only the table learns, so its gradient is easy to write down
    model.compile(optimizer=LazyAdam(0.1), loss="mse")
    table = model.get_layer("table").get_weights()[0].copy()
    kernel, bias = (w.copy() for w in head.get_weights())
    current = table.copy()
    rows_per_step, grads_per_step = [], []
    for ids, target in steps:
        prediction = current[ids] @ kernel[:, 0] + bias[0]
        per_lookup = (2.0 / len(ids)) * (prediction - target)[:, None] * kernel[:, 0][None, :]
        rows = np.unique(ids)
        grad = np.stack([per_lookup[ids == r].sum(axis=0) for r in rows])
        rows_per_step.append(rows)
        grads_per_step.append(grad)
        reference = _numpy_lazy_adam(table, rows_per_step, grads_per_step, 0.1)
        model.train_on_batch(ids, target)
        current = model.get_layer("table").get_weights()[0]
        np.testing.assert_allclose(current, reference, rtol=1e-5, atol=1e-6)


def test_saved_model_reloads_with_its_optimizer(tmp_path):
    model = _train(LazyAdam(0.05), [(np.arange(6, dtype="int32"), np.ones(6, "float32"))])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, LazyAdam)
    assert loaded.optimizer.get_config()["learning_rate"] == pytest.approx(0.05)
    ids = np.array([5, 0, 3], "int32")
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))


def test_unknown_optimizer_is_refused():
    with pytest.raises(kr.ArgumentError, match="optimizer must be one of"):
        training.TrainConfig(optimizer="lazy")
    with pytest.raises(kr.ArgumentError, match="optimizer must be one of"):
        get_optimizer("sgd", 0.1)
    assert isinstance(get_optimizer("adam", 0.1), keras.optimizers.Adam)


def test_amsgrad_is_refused():
    with pytest.raises(ValueError, match="amsgrad"):
        LazyAdam(amsgrad=True)
