"""Every Keras builder: trains briefly on the sample and beats the global mean."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerasrec as kr
from kerasrec import training
from kerasrec.models import HybridBackbone, HybridConfig, build_model
from tests.conftest import rmse

FAST = training.TrainConfig(epochs=8, batch_size=256, learning_rate=3e-3, verbose=0)


def _test_rmse(model, prepared) -> float:
    pipeline, t = prepared["pipeline"], prepared["t"]
    stars = np.clip(pipeline.to_stars(training.predict(model, t)), 0.5, 5.0)
    return rmse(stars, prepared["test"]["rating"])


def _global_mean_rmse(prepared) -> float:
    mean = prepared["train"]["rating"].mean()
    return rmse(np.full(len(prepared["test"]), mean), prepared["test"]["rating"])


@pytest.mark.parametrize("name", ["hybrid", "mf", "neumf", "embedding_mlp"])
def test_builder_beats_global_mean(prepared, name):
    model = build_model(name, prepared["pipeline"], prepared["x"])
    history = training.fit(model, prepared["x"], prepared["x"]["rating"], config=FAST)
    assert len(history.history["val_loss"]) >= 2
    baseline = _global_mean_rmse(prepared)
    assert _test_rmse(model, prepared) < baseline - 0.05, name


def test_hybrid_trained_on_stars_alone_trains_what_they_read_without_warnings(prepared):
    """The builder route (``model.fit`` on the stars): the sequence branch, which only
    ``training_model()``'s ``recent`` softmax reads, is left out of what the optimizer
    updates (Keras would warn that it has no gradient), and stays as initialised (which
    variables get gradients from which loss: tests/models/test_hybrid_retrieval.py)."""
    import warnings

    model = build_model("hybrid", prepared["pipeline"], prepared["x"])
    branch = [v.numpy().copy() for v in model.history_attention.trainable_weights]
    assert branch, "the default hybrid has the sequence branch"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        training.fit(model, prepared["x"], prepared["x"]["rating"],
                     config=training.TrainConfig(epochs=1, verbose=0))
    assert not [w for w in caught if "Gradients do not exist" in str(w.message)]
    for before, after in zip(branch, model.history_attention.trainable_weights):
        np.testing.assert_array_equal(after.numpy(), before)
    assert {id(v) for v in model.trainable_variables} == {id(v) for v in model.trainable_weights}


def test_hybrid_names_read_like_the_design(prepared):
    model = build_model("hybrid", prepared["pipeline"], prepared["x"])
    assert [t.name for t in model.inputs] == ["user_id", "item_id", "item_features", "context",
                                              "timestamp"]
    names = {layer.name for layer in model.layers}
    for expected in ("user_embedding_mf", "item_embedding_mf", "mf_dot", "user_embedding_mlp",
                     "item_embedding_mlp", "mlp_concat", "mlp_hidden_1", "mlp_dropout_1",
                     "mlp_hidden_2", "item_features_dense", "context_dense", "user_bias",
                     "item_bias", "branches", "rating", "user_history_factors",
                     "item_feature_factors", "item_neighbourhood", "user_neighbourhood",
                     "session_bias"):
        assert expected in names, expected


@pytest.mark.parametrize("branch, gone, kept_inputs", [
    ("mf", {"mf_dot", "user_embedding_mf", "user_history_factors"}, None),
    ("mlp", {"mlp_hidden_1", "mlp_concat", "user_embedding_mlp"}, None),
    ("context", {"context_dense"}, ["user_id", "item_id", "item_features", "timestamp"]),
    ("item_features", {"item_features_dense"}, None),
    ("neighbours", {"item_neighbourhood", "user_neighbourhood"}, None),
    # The sequence branch still reads the timestamp.
    ("session_bias", {"session_bias"},
     ["user_id", "item_id", "item_features", "context", "timestamp"]),
    ("biases", {"user_bias", "item_bias", "session_bias"},
     ["user_id", "item_id", "item_features", "context", "timestamp"]),
    ("history_attention", {"recent_ratings", "history_attention"}, None),
])
def test_switching_a_branch_off_removes_it(prepared, branch, gone, kept_inputs):
    off = () if branch == "neighbours" else False
    model = build_model("hybrid", prepared["pipeline"], prepared["x"], **{branch: off})
    names = {layer.name for layer in model.layers}
    assert not gone & names
    if kept_inputs:
        assert [t.name for t in model.inputs] == kept_inputs


def test_without_sessions_sequence_and_recent_stars_the_timestamp_input_goes(prepared):
    model = build_model("hybrid", prepared["pipeline"], prepared["x"], session_bias=False,
                        history_attention=False, recent_stars=False)
    assert [t.name for t in model.inputs] == ["user_id", "item_id", "item_features", "context"]
    assert model.history_attention is None
    # The co-watch part reads the stored history outside the trained graph.
    assert model.co_watch is not None and model.recent_ratings is not None
    assert "co_watch" not in {layer.name for layer in model.layers}
    bare = build_model("hybrid", prepared["pipeline"], prepared["x"], session_bias=False,
                       history_attention=False, co_watch=False, recent_stars=False)
    assert bare.co_watch is None and bare.recent_ratings is None
    assert bare.recent_residuals is None
    drift = build_model("hybrid", prepared["pipeline"], prepared["x"], session_bias=False,
                        history_attention=False, co_watch=False)
    assert [t.name for t in drift.inputs][-1] == "timestamp"
    assert drift.branch_layout[-1] == ("recent_stars", 1)


def test_features_only_hybrid_has_no_id_embeddings(prepared):
    model = build_model("hybrid", prepared["pipeline"], prepared["x"], mf=False, mlp=False,
                        biases=False, neighbours=(), history_attention=False,
                        recent_stars=False)
    assert not [l for l in model.layers if isinstance(l, keras.layers.Embedding)]
    assert [t.name for t in model.inputs] == ["user_id", "item_id", "item_features", "context"]


def test_no_branch_is_an_error(prepared):
    with pytest.raises(ValueError, match="at least one branch"):
        build_model("hybrid", prepared["pipeline"], prepared["x"], mf=False, mlp=False,
                    item_features=False, context=False, biases=False, neighbours=())


def test_backbone_builds_from_sizes_alone(prepared):
    p = prepared["pipeline"]
    with pytest.raises(ValueError, match="neighbours must list"):
        build_model("hybrid", p, prepared["x"], neighbours=("movie",))
    model = HybridBackbone(p.n_users, p.n_items, len(p.feature_names), config=HybridConfig(
        user_history=False, neighbours=(), session_bias=False))
    assert model.count_params() > 0
    assert [name for name, _ in model.branch_layout] == [
        "mf", "mlp", "item_features", "context", "retrieval", "user_bias", "item_bias",
        "recent_stars"]
    assert model.mf_dot.name == "mf_dot" and model.context_dense.name == "context_dense"
    # config = constructor arguments: the same model again from its config
    again = HybridBackbone.from_config(model.get_config())
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]


def test_unknown_option_and_model(prepared):
    with pytest.raises(ValueError, match="unknown hybrid option"):
        build_model("hybrid", prepared["pipeline"], prepared["x"], colour="red")
    with pytest.raises(ValueError, match="unknown model"):
        build_model("transformer", prepared["pipeline"], prepared["x"])


@pytest.mark.parametrize("options, words", [
    ({"mf_dim": "abc"}, "hybrid option mf_dim must be a whole number (default 32), got 'abc'"),
    ({"mf_dim": 32.0}, "must be a whole number"),
    ({"mf_dim": True}, "must be a whole number"),
    ({"dropout": float("nan")}, "hybrid option dropout must be a number"),
    ({"dropout": "0.1"}, "must be a number"),
    ({"dropout": -0.1}, "hybrid option dropout cannot be negative"),
    ({"ids_only": 1}, "hybrid option ids_only must be true or false"),
    # sizes Keras refused only inside a layer, after the data was read
    ({"mf_dim": 0}, "mf_dim must be a positive whole number, got 0"),
    ({"retrieval_dim": 0}, "retrieval_dim must be a positive whole number, got 0"),
    ({"context_units": 0}, "context_units must be a positive whole number, got 0"),
    ({"mlp_units": [64, 0]}, "each of mlp_units must be a positive whole number, got 0"),
    ({"dropout": 1.5}, "dropout must be in [0, 1), got 1.5"),
])
def test_options_of_another_kind_are_refused_by_name(options, words):
    with pytest.raises(kr.ArgumentError) as caught:
        kr.models.model_class("hybrid")(**options)
    assert words in str(caught.value)


def test_numpy_option_values_train_save_and_reload(tiny, tmp_path):
    """Options computed with NumPy reach Keras as Python numbers: before, dim=np.int64(4)
    failed in keras.layers.Embedding ("output_dim must be a positive integer") and an
    np.float32 l2 in the regularizer."""
    rec = kr.Recommender("mf", dim=np.int64(2), l2=np.float32(1e-3),
                         train=kr.TrainConfig(epochs=1, verbose=0)).fit(tiny)
    assert rec.model_.options == {"dim": 2, "l2": pytest.approx(1e-3)}
    assert type(rec.model_.options["dim"]) is int
    back = kr.Recommender.load(rec.save(tmp_path / "mf"))
    assert back.config == {"dim": 2, "l2": pytest.approx(1e-3)}
    np.testing.assert_array_equal(back.predict(tiny.ratings), rec.predict(tiny.ratings))


def test_ids_only_hybrid_matches_feature_input(prepared):
    """The in-model feature table gives the same graph as passing features explicitly.

    Movies unseen in training share index 0, whose table row has no genres, so only
    movies known to the model are compared.
    """
    p, x = prepared["pipeline"], prepared["x"]
    with_input = build_model("hybrid", p, x, dropout=0.0)
    ids_only = build_model("hybrid", p, x, dropout=0.0, ids_only=True)
    assert "item_features" not in [t.name for t in ids_only.inputs]
    for layer in with_input.layers:  # copy weights by layer name
        if layer.weights:
            ids_only.get_layer(layer.name).set_weights(layer.get_weights())
    known = prepared["t"]["item_id"] > 0
    assert 0 < known.sum() < len(known)
    np.testing.assert_allclose(training.predict(ids_only, prepared["t"])[known],
                               training.predict(with_input, prepared["t"])[known], atol=1e-5)


@pytest.mark.parametrize("name, options", [
    ("hybrid", {}), ("hybrid", {"output": "sigmoid", "similarity": "cosine"}),
    ("mf", {}), ("neumf", {}), ("embedding_mlp", {})])
def test_keras_file_round_trip(tmp_path, prepared, name, options):
    model = build_model(name, prepared["pipeline"], prepared["x"], **options)
    training.fit(model, prepared["x"], prepared["x"]["rating"],
                 config=training.TrainConfig(epochs=1, verbose=0))
    before = training.predict(model, prepared["t"])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(training.predict(loaded, prepared["t"]), before, atol=1e-6)


def test_sigmoid_output_stays_in_range(prepared):
    p, x = prepared["pipeline"], prepared["x"]
    model = build_model("hybrid", p, x, output="sigmoid")
    out = training.predict(model, prepared["t"])
    assert out.min() >= 0.0 and out.max() <= 1.0
    model = HybridBackbone.from_training(p, x, HybridConfig(output="sigmoid"),
                                         target_range=(0.5, 5.0))
    out = training.predict(model, prepared["t"])
    assert out.min() >= 0.5 and out.max() <= 5.0
