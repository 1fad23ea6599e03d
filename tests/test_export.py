"""The SavedModel export, checked as a client would: a fresh process with TensorFlow only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec.export import export_saved_model, next_version  # noqa: E402
from tests.conftest import largest_graph_constant  # noqa: E402

UNKNOWN_USER, UNKNOWN_MOVIE = 10 ** 6, 10 ** 8

CLIENT = r"""
import json, sys
import numpy as np
import tensorflow as tf

served = tf.saved_model.load(sys.argv[1])
requests = json.loads(open(sys.argv[2]).read())
dtypes = {"user_id": tf.int64, "movie_id": tf.int64, "timestamp": tf.int64, "k": tf.int64,
          "daytime": tf.float32, "weekend": tf.float32, "exclude_seen": tf.bool,
          "recent_movie_ids": tf.int64}
out = {"signatures": sorted(served.signatures)}
for name, inputs in requests.items():
    signature = served.signatures[name.split(":")[0]]
    result = signature(**{k: tf.constant(v, dtypes[k]) for k, v in inputs.items()})
    out[name] = {k: v.numpy().tolist() for k, v in result.items()}
out["kerasrec_imported"] = any(m.startswith("kerasrec") for m in sys.modules)
print(json.dumps(out))
"""


#: A TensorFlow 1 session load: restore the variables, then run the init op.
SESSION_CLIENT = r"""
import json, sys
import tensorflow as tf

users, movies = json.loads(sys.argv[2]), json.loads(sys.argv[3])
with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], sys.argv[1])
    signature = meta.signature_def["serving_default"]
    feed = {"user_id": users, "movie_id": movies, "daytime": [0.0] * len(users),
            "weekend": [0.0] * len(users), "timestamp": [-1] * len(users)}
    out = session.run(signature.outputs["rating"].name,
                      {signature.inputs[k].name: v for k, v in feed.items()})
print(json.dumps(out.tolist()))
"""


@pytest.fixture(scope="module")
def exported(hybrid, tmp_path_factory):
    return export_saved_model(hybrid, tmp_path_factory.mktemp("served") / "movies")


def _requests(rec, split):
    train, test = split
    users = [int(u) for u in train.ratings["userId"].unique()[:4]] + [UNKNOWN_USER]
    unrated = rec.catalog_.movies.index[rec.catalog_.movies["n_ratings"] == 0][:3].tolist()
    pairs = pd.concat([test.head(300), pd.DataFrame({
        "userId": [UNKNOWN_USER, users[0], UNKNOWN_USER, users[1]],
        "movieId": [int(test["movieId"].iloc[0]), UNKNOWN_MOVIE, UNKNOWN_MOVIE, unrated[0]],
        "rating": 3.0, "timestamp": 1_400_000_000})], ignore_index=True)
    rng = np.random.default_rng(1)
    # half the rows give a timestamp, half flags only (timestamp -1)
    stamps = np.where(np.arange(len(pairs)) % 2 == 0, pairs["timestamp"], -1)
    flags = rng.integers(0, 2, (len(pairs), 2)).astype(float)
    n = len(users)
    return pairs, stamps, flags, users, {
        "serving_default": {"user_id": pairs["userId"].tolist(),
                            "movie_id": pairs["movieId"].tolist(),
                            "daytime": flags[:, 0].tolist(), "weekend": flags[:, 1].tolist(),
                            "timestamp": stamps.tolist()},
        "recommend": {"user_id": users, "daytime": [1.0] * n, "weekend": [0.0] * n,
                      "timestamp": [-1, -1, 1_500_000_000, -1, -1],
                      "k": [10, 3, 10, 10, 5], "exclude_seen": [True, True, True, False, True]},
        "recommend_user": {"user_id": users, "k": [4, 10, 10, 2, 10]},
        "similar_items": {"movie_id": [int(test["movieId"].iloc[0]), unrated[0], UNKNOWN_MOVIE],
                          "k": [5, 5, 4]},
    }


#: Per user of the requests: movies rated since training (padded with -1; an unknown
#: movie is ignored; the last user is unseen in training).
RECENT = [[1, 2, 3, -1], [-1, -1, -1, -1], [10, UNKNOWN_MOVIE, 11, 12], [5, -1, -1, -1],
          [7, 8, 9, -1]]


def _run_client(path: Path, requests: dict, tmp_path: Path) -> dict:
    request_file = tmp_path / "requests.json"
    request_file.write_text(json.dumps(requests))
    done = subprocess.run([sys.executable, "-c", CLIENT, str(path), str(request_file)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _same_ranking(movies, ratings, expected_movies, expected_ratings):
    np.testing.assert_allclose(ratings, expected_ratings, atol=1e-5)
    for i, (a, b) in enumerate(zip(movies, expected_movies)):
        # float32 vs float64 may swap near-ties only
        if a != b:
            assert abs(ratings[i] - expected_ratings[i]) < 1e-5
            assert i + 1 < len(ratings) and abs(expected_ratings[i] - expected_ratings[i + 1]) < 1e-5


@pytest.fixture(scope="module")
def exported_two_stages(hybrid, tmp_path_factory):
    """The same hybrid exported without its users x movies table."""
    return export_saved_model(hybrid, tmp_path_factory.mktemp("served") / "movies",
                              score_table=False)


def test_fresh_tensorflow_process_gets_the_recommender_answers(hybrid, sample_split, exported,
                                                               tmp_path):
    _check_client(hybrid, sample_split, exported, tmp_path)


def test_two_stage_export_gets_the_same_answers_without_the_table(
        hybrid, sample_split, exported_two_stages, tmp_path):
    """Retrieve, then rerank, in the graph: the same answers as Recommender."""
    _check_client(hybrid, sample_split, exported_two_stages, tmp_path)


def test_two_stage_export_allocates_nothing_users_by_movies(hybrid, exported_two_stages,
                                                           exported):
    """No stored array is users x movies or movies x movies (the table export holds the
    former, which is how the check can fail); the sparse co-watch weights and seen
    movies are flat arrays."""
    import tensorflow as tf

    n_users, n_movies = len(hybrid.pipeline_.user_vocabulary_), len(hybrid.catalog_.movies)

    def dense(path):
        stored = tf.train.list_variables(str(Path(path) / "variables" / "variables"))
        return [(name, shape) for name, shape in stored if len(shape) == 2 and (
            (shape[0] >= n_users and shape[1] >= n_movies // 2)
            or min(shape) >= n_movies // 2)]

    assert dense(exported), "the table export holds users x movies"
    assert dense(exported_two_stages) == []


def test_two_stage_export_stores_the_session_keys_once(hybrid, exported_two_stages):
    """The model scores known users with its own session biases; the export's separate
    terms serve only unknown users, so no session array is stored beside the model's
    (at 25M ratings a second copy added about 300 MB)."""
    import tensorflow as tf

    from kerasrec.scoring import additive_terms

    n_sessions = len(additive_terms(hybrid.model_).session_keys)
    in_model = [w.shape for w in hybrid.model_.keras_model.weights if n_sessions in w.shape]
    stored = tf.train.list_variables(str(Path(exported_two_stages) / "variables" / "variables"))
    in_export = [shape for _, shape in stored if n_sessions in shape]
    assert len(in_model) >= 2  # the keys and the biases
    assert sorted(map(list, in_export)) == sorted(map(list, in_model))


def _check_client(hybrid, sample_split, exported, tmp_path, similar: bool = True):
    pairs, stamps, flags, users, requests = _requests(hybrid, sample_split)
    out = _run_client(exported, requests, tmp_path)
    assert out["kerasrec_imported"] is False
    # recommend_recent only for models whose lists read recent movies
    recent = ["recommend_recent"] * hybrid.model_.supports("recent")
    assert out["signatures"] == ["recommend", *recent, "recommend_user", "serving_default",
                                 "similar_items"]

    expected = hybrid.predict(pairs.assign(timestamp=np.where(stamps >= 0, stamps, np.nan),
                                           daytime=flags[:, 0], weekend=flags[:, 1]))
    np.testing.assert_allclose(out["serving_default"]["rating"], expected, atol=1e-5)

    def same_lists(signature: str, tops: list) -> None:
        got = out[signature]
        for i, top in enumerate(tops):
            k = len(top)
            _same_ranking(got["movie_id"][i][:k], got["rating"][i][:k], top["movieId"].tolist(),
                          top["predicted_rating"].to_numpy())
            assert got["movie_id"][i][k:] == [-1] * (10 - k), "rows asking for fewer are padded"

    recommend = requests["recommend"]
    same_lists("recommend", [
        hybrid.recommend(user, k=recommend["k"][i], exclude_seen=recommend["exclude_seen"][i],
                         context=(recommend["timestamp"][i] if recommend["timestamp"][i] >= 0
                                  else {"daytime": 1, "weekend": 0}))
        for i, user in enumerate(users)])
    # ids only: Recommender.recommend's defaults (no context, seen movies left out)
    same_lists("recommend_user", [hybrid.recommend(user, k=k)
                                  for user, k in zip(users, requests["recommend_user"]["k"])])

    if not similar:
        return
    similar = out["similar_items"]
    for i, movie in enumerate(requests["similar_items"]["movie_id"][:2]):
        ref = hybrid.similar_items(movie, k=5)
        _same_ranking(similar["movie_id"][i], similar["similarity"][i],
                      ref["movieId"].tolist(), ref["similarity"].to_numpy())
    # a movie outside the catalog: the most rated movies, similarity 0, no error
    most_rated = hybrid.catalog_.movies.sort_values("n_ratings", ascending=False, kind="stable")
    assert similar["similarity"][2][:4] == [0.0] * 4
    assert set(similar["movie_id"][2][:4]) <= set(most_rated.index[:10])


@pytest.mark.parametrize("tower", [{}, {"pooled_history": False, "history_rows": 16}],
                         ids=["pooled", "sequence-only"])
def test_recommend_recent_in_a_fresh_process(tmp_path, tower):
    """A hybrid whose lists use its sequence branch (users whose taste drifts; weights
    chosen on each user's latest ratings) serves recommend_recent from TensorFlow alone,
    equal to Recommender.recommend(user, recent=...); so does one whose user tower is
    the sequence branch alone."""
    from kerasrec.training import TrainConfig
    from tests.conftest import drifting_tastes

    data = drifting_tastes()
    train, _ = kr.temporal_split(data.ratings, 0.25)
    rec = kr.Recommender(neighbours=(), retrieval_weight=0.5, **tower, train=TrainConfig(
        epochs=15, batch_size=64, learning_rate=5e-3, verbose=0, validation_cut="temporal"))
    rec.fit(data.with_ratings(train))
    assert rec.model_.supports("recent")
    path = export_saved_model(rec, tmp_path / "served")
    users = [1, 2, 3, 4, UNKNOWN_USER]
    n = len(users)
    out = _run_client(path, {"recommend_recent": {
        "user_id": users, "daytime": [1.0] * n, "weekend": [0.0] * n, "timestamp": [-1] * n,
        "k": [10, 3, 10, 10, 5], "exclude_seen": [True] * n, "recent_movie_ids": RECENT}},
        tmp_path)
    assert out["kerasrec_imported"] is False
    got = out["recommend_recent"]
    for i, user in enumerate(users):
        recent = [m for m in RECENT[i] if m >= 0]
        top = rec.recommend(user, k=[10, 3, 10, 10, 5][i], recent=recent,
                            context={"daytime": 1, "weekend": 0})
        k = len(top)
        _same_ranking(got["movie_id"][i][:k], got["rating"][i][:k], top["movieId"].tolist(),
                      top["predicted_rating"].to_numpy())
        assert not set(got["movie_id"][i][:k]) & set(recent)


def test_unknown_ids_get_the_cold_start_scores(hybrid, exported):
    import tensorflow as tf

    served = tf.saved_model.load(str(exported))
    known_movie = int(hybrid.catalog_.movies.index[hybrid.catalog_.movies["n_ratings"] > 0][0])
    result = served.signatures["serving_default"](
        user_id=tf.constant([UNKNOWN_USER, UNKNOWN_USER], tf.int64),
        movie_id=tf.constant([UNKNOWN_MOVIE, known_movie], tf.int64),
        daytime=tf.zeros(2), weekend=tf.ones(2), timestamp=tf.constant([-1, -1], tf.int64))
    rating = result["rating"].numpy()
    assert rating[0] == pytest.approx(hybrid.global_mean_, abs=1e-5)
    assert rating[1] == pytest.approx(hybrid.explain(UNKNOWN_USER, known_movie,
                                                     {"daytime": 0, "weekend": 1}).sum(),
                                      abs=1e-5)


def test_versions_and_failed_exports(hybrid, exported, tmp_path, monkeypatch):
    import keras

    base = exported.parent
    assert exported.name == "1" and (exported / "saved_model.pb").is_file()
    assert next_version(base) == 2
    with pytest.raises(kr.ArtifactError, match="immutable"):
        export_saved_model(hybrid, base, version=1)
    # a failure while writing leaves no version folder and no debris
    target = tmp_path / "served"
    export_saved_model(hybrid, target, version=3)
    before = sorted(p.name for p in target.iterdir())

    def broken(self, path, **kwargs):
        Path(path, "saved_model.pb").write_text("half")
        raise OSError(28, "No space left on device")

    archive = type(keras.export.ExportArchive())
    monkeypatch.setattr(archive, "write_out", broken)
    with pytest.raises(kr.ArtifactError, match="No space left"):
        export_saved_model(hybrid, target)
    assert sorted(p.name for p in target.iterdir()) == before == ["3"]


@pytest.mark.parametrize("call, words", [
    (lambda rec, out: export_saved_model(rec, out, version="2"),
     "version must be a positive whole number, got '2'"),
    (lambda rec, out: export_saved_model(rec, out, version=1.5), "got 1.5"),  # was version 1
    (lambda rec, out: export_saved_model(rec, out, version=True), "got True"),
    (lambda rec, out: export_saved_model(rec, out, version=0), "got 0"),
    (lambda rec, out: export_saved_model(rec, out, score_table="no"),  # read as True
     "score_table must be True or False, got 'no'"),
    (lambda rec, out: export_saved_model("runs/latest", out),
     "export_saved_model takes a fitted kerasrec.Recommender, got str"),
])
def test_export_arguments_are_checked_before_anything_is_written(hybrid, tmp_path, call, words):
    with pytest.raises(kr.ArgumentError) as caught:
        call(hybrid, tmp_path / "served")
    assert words in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_baselines_cannot_be_exported(sample_split, tmp_path):
    rec = kr.Recommender("item_knn").fit(sample_split[0])
    with pytest.raises(kr.CapabilityError, match="keeps no score table"):
        export_saved_model(rec, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_saved_model_cli_show_and_run(exported):
    cli = Path(sys.executable).parent / "saved_model_cli"
    if not cli.is_file():
        pytest.skip("saved_model_cli is not installed beside this Python")
    show = subprocess.run([str(cli), "show", "--dir", str(exported), "--all"],
                          capture_output=True, text=True, timeout=300)
    assert show.returncode == 0, show.stderr[-2000:]
    for words in ("signature_def['serving_default']", "signature_def['recommend']",
                  "signature_def['similar_items']", "user_id", "movie_id", "exclude_seen"):
        assert words in show.stdout, words
    run = subprocess.run([str(cli), "run", "--dir", str(exported), "--tag_set", "serve",
                          "--signature_def", "serving_default", "--input_exprs",
                          "user_id=[1,2];movie_id=[3,4];daytime=[0.,1.];weekend=[1.,0.];"
                          "timestamp=[-1,-1]"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "rating" in run.stdout
    ids_only = subprocess.run([str(cli), "run", "--dir", str(exported), "--tag_set", "serve",
                               "--signature_def", "recommend_user", "--input_exprs",
                               "user_id=[1,1000000];k=[3,2]"],
                              capture_output=True, text=True, timeout=300)
    assert ids_only.returncode == 0, ids_only.stderr[-2000:]
    assert "movie_id" in ids_only.stdout


def test_serving_soak_no_errors_and_flat_memory(hybrid, exported):
    """A short run of ``benchmarks/soak.py``'s client (docs/benchmarks.md reports 100,000 calls)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from soak import run_soak, soak_ids
    finally:
        sys.path.pop(0)
    result = run_soak(exported, soak_ids(hybrid), calls=4000)
    assert result["errors"] == 0, result["first_errors"]
    assert result["growth_mb"] < 25, result["rss_trace_mb"]


def test_hashed_neighbourhood_trains_reloads_and_serves_as_the_dense_one(sample_split,
                                                                          tmp_path):
    """Above ``dense_residuals_limit`` the neighbourhood keeps its residuals in hash
    tables rebuilt from plain weights on load: trained alike, it predicts what the dense
    table predicts; a saved Recommender reloads to its predictions, and a fresh
    TensorFlow process gets its answers."""
    from kerasrec.training import TrainConfig

    train, test = sample_split
    fast = TrainConfig(epochs=2, batch_size=256, learning_rate=3e-3, verbose=0)
    # without the retrieval tower, which the neighbourhood does not read (half the time)
    dense = kr.Recommender(train=fast, seed=3, retrieval=False).fit(train)
    hashed = kr.Recommender(train=fast, seed=3, retrieval=False, dense_residuals_limit=0).fit(train)
    layer = hashed.model_.backbone.neighbourhoods["item"]
    assert not layer.dense and layer.shards == 2
    assert dense.model_.backbone.neighbourhoods["item"].dense
    np.testing.assert_allclose(hashed.predict(test), dense.predict(test), atol=1e-4)
    loaded = kr.Recommender.load(hashed.save(tmp_path / "rec"))
    np.testing.assert_allclose(loaded.predict(test), hashed.predict(test), atol=1e-6)
    served = export_saved_model(hashed, tmp_path / "served", score_table=False)
    _check_client(hashed, sample_split, served, tmp_path)
    # The tables are filled from the restored weights, not from a copy in the graph
    # (which would hold each shard's pairs).
    assert largest_graph_constant(served) < layer.n_pairs / layer.shards / 4
    # ... also where a session restores, then initializes (TensorFlow Serving's order).
    pairs = test.head(50)
    done = subprocess.run([sys.executable, "-c", SESSION_CLIENT, str(served),
                           json.dumps(pairs["userId"].tolist()),
                           json.dumps(pairs["movieId"].tolist())],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(json.loads(done.stdout.strip().splitlines()[-1]),
                               hashed.predict(pairs.assign(timestamp=np.nan, daytime=0.0,
                                                           weekend=0.0)), atol=1e-5)


@pytest.mark.parametrize("score_table", [True, False], ids=["table", "two-stage"])
def test_recent_residuals_serve_as_in_python(scale_drift, score_table, tmp_path):
    """A hybrid whose stars read the user's recent residuals (``recent_stars``, a
    weight chosen on validation) answers the same in a fresh process, at moments in
    the past and now (its movie vectors learn little: not compared)."""
    data, train, test, fitted = scale_drift
    rec = fitted[True]
    assert rec.model_.chosen["recent_stars_weight"] > 0
    path = export_saved_model(rec, tmp_path / "served", score_table=score_table)
    _check_client(rec, (data.with_ratings(train), test), path, tmp_path, similar=False)
