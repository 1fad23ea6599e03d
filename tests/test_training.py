from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import training  # noqa: E402
from kerasrec.optimizers import LazyAdam  # noqa: E402
from tests.conftest import rmse  # noqa: E402
from tests.models.conftest import KERAS_MODELS  # noqa: E402


def test_validation_cut_is_random_and_seeded():
    train, val = training.validation_cut(1000, 0.1, seed=3)
    assert len(val) == 100 and not set(train) & set(val)
    assert val.max() > 500 and val.min() < 500  # not a block at the end
    assert np.array_equal(val, training.validation_cut(1000, 0.1, seed=3)[1])


def test_same_seed_same_training(prepared):
    from kerasrec.models import build_model

    config = training.TrainConfig(epochs=2, verbose=0, seed=5)
    runs = []
    for _ in range(2):
        model = build_model("mf", prepared["pipeline"], prepared["x"], seed=5)
        training.fit(model, prepared["x"], prepared["x"]["rating"], config=config)
        runs.append(training.predict(model, prepared["t"]))
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-6)


def test_diverging_run_stops_with_a_clear_error(prepared):
    from kerasrec.models import build_model

    x = dict(prepared["x"])
    target = x["rating"].copy()
    target[::7] = np.nan
    model = build_model("mf", prepared["pipeline"], x)
    with pytest.raises(kr.TrainingError, match="the loss became NaN in epoch 1"):
        training.fit(model, x, target, config=training.TrainConfig(epochs=3, verbose=0))


def test_model_inputs_names_missing(prepared):
    from kerasrec.models import build_model

    model = build_model("hybrid", prepared["pipeline"], prepared["x"])
    with pytest.raises(KeyError, match="context"):
        training.model_inputs(model, {"user_id": 1, "item_id": 1, "item_features": 1})


def test_dataset_batches(prepared):
    data = training.make_dataset({"user_id": prepared["x"]["user_id"]}, prepared["x"]["rating"],
                                 batch_size=100, shuffle=True, seed=1)
    first = next(iter(data))
    assert first[0]["user_id"].shape[0] == 100


def test_hybrid_trained_with_lazy_adam_beats_the_mean(prepared):
    from kerasrec.models import build_model

    model = build_model("hybrid", prepared["pipeline"], prepared["x"], seed=0)
    config = training.TrainConfig(epochs=4, batch_size=256, learning_rate=3e-3,
                                  optimizer="lazy_adam", verbose=0)
    training.fit(model, prepared["x"], prepared["x"]["rating"], config=config)
    assert isinstance(model.optimizer, LazyAdam)
    truth = prepared["t"]["rating"]
    predicted = training.predict(model, prepared["t"])
    assert rmse(predicted, truth) < 0.93 * rmse(np.full_like(truth, truth.mean()), truth)


def test_too_few_ratings_to_hold_out_train_on_all_and_watch_the_loss(prepared):
    """Each user's latest 10% of four ratings is none: no empty validation set (Keras
    would warn that it ran out of data and that ``val_loss`` is missing); early stopping
    and the learning-rate schedule watch the training loss."""
    import warnings

    from kerasrec.models import build_model

    x = prepared["x"]
    order = np.argsort(x["user_id"], kind="stable")
    users = x["user_id"][order]
    keep = np.sort(order[np.arange(len(users)) - np.searchsorted(users, users) < 4])
    few = {k: v[keep] for k, v in x.items()}
    assert np.bincount(few["user_id"]).max() <= 4
    _, held = training.validation_rows(few, 0.1, 0, "temporal")
    assert len(held) == 0
    model = build_model("mf", prepared["pipeline"], few, seed=0)
    config = training.TrainConfig(epochs=3, verbose=0, validation_cut="temporal")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = training.fit(model, few, few["rating"], config=config)
    assert not [w for w in caught if "val_loss" in str(w.message)
                or "ran out of data" in str(w.message)]
    assert "val_loss" not in history.history and len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("field, value", [("epochs", 0), ("batch_size", -1), ("epochs", 2.5),
                                          ("learning_rate", -1e-3), ("learning_rate", 0),
                                          ("validation_fraction", 1.0), ("patience", -1),
                                          ("patience", 1.5), ("seed", "x"), ("seed", -1),
                                          ("learning_rate", True), ("learning_rate", "1e-3"),
                                          ("validation_fraction", "0.1"),
                                          ("min_delta", float("nan")), ("verbose", 7),
                                          ("catch_up", "yes"), ("monitor", ""),
                                          ("callbacks", "x"), ("callbacks", [1])])
def test_train_config_rejects_unusable_settings_by_name(field, value):
    with pytest.raises(kr.ArgumentError, match=field):
        training.TrainConfig(**{field: value})


def test_train_config_keeps_numpy_numbers_as_python_ones(tiny, tmp_path):
    """Settings computed with NumPy (a grid, a schedule) are taken and saved: before,
    np.float32 learning rates were refused as "not positive" and np.int64 epochs
    passed but failed when the model was saved ("'numpy.int64' object is not
    iterable")."""
    config = training.TrainConfig(epochs=np.int64(3), batch_size=np.int32(64),
                                  learning_rate=np.float32(0.01), seed=np.uint8(2),
                                  validation_fraction=np.float64(0.2), verbose=0)
    settings = config.to_config()
    assert json.loads(json.dumps(settings))["epochs"] == 3
    assert type(settings["learning_rate"]) is float and settings["seed"] == 2
    rec = kr.Recommender("mf", dim=2, train=config).fit(tiny)
    assert kr.Recommender.load(rec.save(tmp_path / "mf")).train == config


def test_early_stopping_ignores_negligible_gains():
    """A relative ``min_delta``: once the loss only creeps (the learning rate at its floor),
    training stops instead of running every epoch; with 0 any gain resets the patience."""
    import keras

    from kerasrec.training import relative_early_stopping

    def run(min_delta):
        stop = relative_early_stopping("loss", patience=2, min_delta=min_delta)
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.stop_training = False  # as Model.fit sets it
        stop.set_model(model)
        stop.on_train_begin()
        losses = [1.0, 0.5, 0.4] + [0.4 * (1 - 1e-6) ** i for i in range(1, 40)]
        for epoch, loss in enumerate(losses):
            stop.on_epoch_end(epoch, {"loss": loss})
            if stop.model.stop_training:
                return epoch + 1
        return len(losses)

    assert run(1e-4) == 5  # two epochs of creeping after the last real gain
    assert run(0.0) == 42  # every millionth counts: all epochs run


def test_histories_report_errors_in_stars(prepared):
    rec = kr.Recommender("mf", train=training.TrainConfig(epochs=2, verbose=0)).fit(
        prepared["data"].with_ratings(prepared["train"]))
    history = rec.history_
    np.testing.assert_allclose(history["val_rmse_stars"], np.array(history["val_rmse"]) * 4.5)


def test_catch_up_learns_from_the_held_out_rows_after_the_best_epoch(prepared, capsys):
    """``catch_up``: one pass over the validation rows once the best epoch is restored;
    the held-out ratings' error falls, nothing else changes how training runs, and the
    progress output says what the extra pass is (Keras prints no epoch line for it)."""
    from kerasrec.models import build_model

    x, target = prepared["x"], prepared["x"]["rating"]
    _, held = training.validation_rows(x, 0.1, 5, "temporal")
    errors = {}
    for catch_up in (False, True):
        config = training.TrainConfig(epochs=3, verbose=2 if catch_up else 0, seed=5,
                                      validation_cut="temporal", catch_up=catch_up)
        model = build_model("mf", prepared["pipeline"], x, seed=5)
        history = training.fit(model, x, target, config=config)
        assert len(history.history["loss"]) == 3  # the catch-up pass is not an epoch
        held_x = {k: v[held] for k, v in x.items()}
        errors[catch_up] = rmse(training.predict(model, held_x), target[held])
    assert errors[True] < errors[False], errors
    printed = capsys.readouterr().out
    assert f"Catch-up: one pass over the {len(held):,} ratings held out" in printed
    assert printed.index("Epoch 3/3") < printed.index("Catch-up")


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_keras_models_train_where_keras_turns_xla_on_by_itself(name, monkeypatch, tmp_path):
    # On a machine with a GPU, Keras' jit_compile="auto" compiles with XLA whenever
    # every layer says it supports it; on CPU-only machines (CI's) auto is always off,
    # so the GPU rule is put in its place here. Layers XLA cannot compile must say so.
    from keras.src.trainers import trainer

    from kerasrec import testing

    monkeypatch.setattr(trainer.Trainer, "_resolve_auto_jit_compile",
                        lambda self: trainer.model_supports_jit(self))
    fitted = testing.fitted_model.__wrapped__(name)  # trained here, not the cached one
    testing.check_beats_the_global_mean(fitted, tmp_path)
    testing.check_cold_start_never_raises(fitted, tmp_path)


def test_a_monitor_the_model_does_not_report_stops_at_the_first_epoch(tiny):
    """Keras only warns about it and then trains every epoch with no early stopping and
    no best weights restored; kerasrec names the choices."""
    config = training.TrainConfig(epochs=5, verbose=0, monitor="rmse_x")
    with pytest.raises(kr.ArgumentError, match=r"TrainConfig\(monitor='rmse_x'\) names no loss "
                                               r"or metric of this model; choose from "
                                               r"\['loss', 'rmse'\]"):
        kr.Recommender("mf", dim=2, train=config).fit(tiny)
    fitted = kr.Recommender("mf", dim=2, train=training.TrainConfig(
        epochs=2, verbose=0, monitor="rmse")).fit(tiny)
    assert len(fitted.history_["rmse"]) == 2


@pytest.mark.parametrize("name", ["mf", "hybrid"])
def test_a_fit_traces_its_train_step_once(name, prepared, monkeypatch):
    """The optimizer's and the losses' state exist before the first step is traced, so
    TensorFlow traces the step once (twice when the trace itself creates variables), and
    the catch-up pass reuses that trace."""
    import keras

    traced = []
    train_step = keras.Model.train_step

    def counting(self, data):
        traced.append(self.name)
        return train_step(self, data)

    monkeypatch.setattr(keras.Model, "train_step", counting)
    config = training.TrainConfig(epochs=2, verbose=0, catch_up=True)
    kr.Recommender(name, train=config).fit(prepared["data"].with_ratings(prepared["train"]))
    assert len(traced) == 1, traced
