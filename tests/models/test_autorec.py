from __future__ import annotations

import keras
import numpy as np
import pytest

import kerasrec as kr
from kerasrec.models import build_autorec, masked_squared_error, rating_matrix
from tests.conftest import rmse


def test_masked_loss_ignores_unobserved_entries():
    y_true = np.array([[4.0, 0.0, 2.0], [0.0, 0.0, 5.0]], dtype="float32")
    close = np.array([[4.0, 99.0, 2.0], [-7.0, 3.0, 5.0]], dtype="float32")
    np.testing.assert_allclose(np.asarray(masked_squared_error(y_true, close)), [0.0, 0.0])
    off = np.array([[3.0, 0.0, 2.0], [0.0, 0.0, 3.0]], dtype="float32")
    # Row 0: one error of 1 (the 0 entry is not compared); row 1: an error of 2.
    np.testing.assert_allclose(np.asarray(masked_squared_error(y_true, off)), [1.0, 4.0])


def test_rating_matrix_rejects_zero_targets():
    with pytest.raises(ValueError, match="non-zero"):
        rating_matrix(np.array([1]), np.array([1]), np.array([0.0]), 2, 2)


def test_autorec_beats_global_mean(sample):
    """Trained with training.fit, stopping on held-out entries of the training matrix."""
    from kerasrec import training

    train, test = kr.random_split(sample.ratings, 0.2, seed=0)
    pipeline = kr.FeaturePipeline(rating_scaling="none").fit(sample.with_ratings(train))
    x, t = pipeline.transform(train), pipeline.transform(test)
    shape = (pipeline.n_users, pipeline.n_items)
    fit_idx, val_idx = training.validation_cut(len(x["rating"]), 0.1, seed=0)
    fit_matrix, val_matrix = (
        rating_matrix(x["user_id"][i], x["item_id"][i], x["rating"][i], *shape)
        for i in (fit_idx, val_idx))
    model = build_autorec(pipeline.n_users, learning_rate=3e-3, seed=0)
    inputs = {"item_ratings": fit_matrix}
    history = training.fit(model, inputs, fit_matrix, validation=(inputs, val_matrix),
                           config=training.TrainConfig(epochs=40, batch_size=32, verbose=0,
                                                       monitor="masked_squared_error"))
    assert "val_masked_squared_error" in history.history
    recon = model.predict(inputs, verbose=0)
    mean = x["rating"].mean()
    known = (t["user_id"] > 0) & (t["item_id"] > 0)
    pred = np.clip(np.where(known, recon[t["item_id"], t["user_id"]], mean), 0.5, 5.0)
    assert rmse(pred, test["rating"]) < rmse(np.full(len(test), mean), test["rating"]) - 0.03


def test_autorec_round_trip(tmp_path):
    model = build_autorec(7, hidden=4)
    data = {"item_ratings": np.random.default_rng(0).random((3, 7)).astype("float32")}
    model.fit(data, data["item_ratings"], epochs=1, verbose=0)  # the optimizer has state
    path = tmp_path / "autorec.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    assert loaded.loss is masked_squared_error or getattr(loaded.loss, "__name__", "") == "masked_squared_error"
