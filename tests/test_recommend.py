"""The analyst API end to end on the bundled sample."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec.training import TrainConfig  # noqa: E402
from tests.conftest import rmse  # noqa: E402

FAST = TrainConfig(epochs=6, batch_size=256, learning_rate=3e-3, verbose=0)
UNKNOWN_USER, UNKNOWN_MOVIE = 10 ** 6, 10 ** 8


@pytest.fixture(scope="module")
def split(sample_split):
    return sample_split


@pytest.fixture(scope="module")
def rec(hybrid):
    return hybrid


def test_another_rating_scale_gives_the_same_lists_and_scores(split):
    """Ratings out of ten: stars twice as large, errors twice as large, and "liked" at 8
    of 10 as at 4 of 5, so the lists and their scores are the same."""
    train, test = split
    ten = kr.MovieData(train.products, train.ratings.assign(rating=train.ratings["rating"] * 2),
                       rating_range=(1, 10))
    five = kr.Recommender("baseline").fit(train).evaluate(test)
    doubled = kr.Recommender("baseline").fit(ten).evaluate(test.assign(rating=test["rating"] * 2))
    assert doubled["rmse"] == pytest.approx(2 * five["rmse"])
    assert doubled["n_users_liked"] == five["n_users_liked"]
    for key in ("watched_recall@10", "liked_recall@10", "liked_ndcg@10", "coverage@10"):
        assert doubled[key] == pytest.approx(five[key]), key
    assert kr.metrics.liked_threshold((1, 10)) == 8.0
    assert kr.metrics.liked_threshold((0.5, 5)) == kr.metrics.liked_threshold((1, 5)) == 4.0


def _user(split):
    return int(split[0].ratings["userId"].iloc[0])


def _unrated_catalog_movie(rec):
    unrated = rec.catalog_.movies.index[rec.catalog_.movies["n_ratings"] == 0]
    assert len(unrated), "the sample should have movies nobody rated in training"
    return int(unrated[0])


def test_fit_returns_self_and_is_unfitted_before(split):
    rec = kr.Recommender(train=FAST)
    with pytest.raises(kr.NotFittedError, match="fit"):
        rec.predict(split[1])
    assert "unfitted" in repr(rec)
    with pytest.raises(ValueError, match="unknown model"):
        kr.Recommender("transformer").fit(split[0])


def test_hybrid_beats_the_global_mean(rec, split):
    train, test = split
    scores = rec.evaluate(test)
    baseline = rmse(np.full(len(test), train.ratings["rating"].mean()), test["rating"])
    assert scores["rmse"] < baseline - 0.1
    assert scores["rerank_ndcg@10"] > 0.8 and 0 < scores["rerank_precision@10"] <= 1
    assert "ndcg@10" not in scores and "recall@10" not in scores  # only honest names
    assert set(rec.history_) >= {"loss", "val_loss"}


def test_predict_is_the_model_output_for_known_pairs(rec, split):
    from kerasrec import training

    test = split[1]
    x = rec.pipeline_.transform(test)
    known = (x["user_id"] > 0) & (x["item_id"] > 0)
    raw = rec.pipeline_.to_stars(training.predict(rec.model_.keras_model, x), test["movieId"].to_numpy())
    np.testing.assert_allclose(rec.predict(test)[known], np.clip(raw, 0.5, 5.0)[known],
                               atol=1e-4)


@pytest.mark.parametrize("who", ["known", "unknown user", "unrated movie", "outside catalog",
                                 "both unknown"])
def test_explanation_parts_add_up_to_predict(rec, split, who):
    user = UNKNOWN_USER if who in ("unknown user", "both unknown") else _user(split)
    movie = {"unrated movie": _unrated_catalog_movie(rec), "outside catalog": UNKNOWN_MOVIE,
             "both unknown": UNKNOWN_MOVIE}.get(who, int(split[1]["movieId"].iloc[0]))
    for context in (None, {"daytime": 1, "weekend": 1}, 1_500_000_000):
        parts = rec.explain(user, movie, context=context)
        pairs = pd.DataFrame({"userId": [user], "movieId": [movie]})
        if isinstance(context, dict):
            pairs = pairs.assign(**context)
        elif context is not None:
            pairs = pairs.assign(timestamp=context)
        # predict reads the float32 score table, explain runs the model
        assert parts.sum() == pytest.approx(rec.predict(pairs)[0], abs=1e-5)
        assert parts.attrs["prediction"] == pytest.approx(parts.sum())
    assert {"intercept", "mf", "mlp", "item_features", "context", "user_bias",
            "item_bias"} <= set(parts.index)


def test_cold_start_rules(rec, split):
    user, known_movie = _user(split), int(split[1]["movieId"].iloc[0])
    cold = rec.explain(UNKNOWN_USER, known_movie)
    for part in ("mf", "mlp", "user_bias", "user_neighbours", "item_neighbours"):
        assert cold[part] == 0.0, part
    assert cold["item_bias"] != 0.0 and cold["item_features"] != 0.0
    # every unknown user is the same user
    pairs = pd.DataFrame({"userId": [UNKNOWN_USER, UNKNOWN_USER + 1], "movieId": known_movie})
    a, b = rec.predict(pairs)
    assert a == b
    # a never-rated movie is scored from its genres: different genres, different scores
    unrated = rec.catalog_.movies.index[rec.catalog_.movies["n_ratings"] == 0][:20]
    scores = rec.predict(pd.DataFrame({"userId": user, "movieId": unrated}))
    assert np.unique(np.round(scores, 6)).size > 1
    movie_parts = rec.explain(user, int(unrated[0]))
    assert movie_parts["item_bias"] == 0.0 and movie_parts["mlp"] == 0.0
    assert movie_parts["user_bias"] != 0.0
    # both unknown: the global mean
    both = rec.predict(pd.DataFrame({"userId": [UNKNOWN_USER], "movieId": [UNKNOWN_MOVIE]}))
    assert both[0] == pytest.approx(split[0].ratings["rating"].mean())


def test_recommend_for_a_known_user(rec, split):
    user = _user(split)
    top = rec.recommend(user, k=7, rank_by="rating")
    assert list(top.columns) == ["rank", "movieId", "title", "year", "genres",
                                 "predicted_rating"]
    assert top["rank"].tolist() == list(range(1, 8))
    assert top["predicted_rating"].is_monotonic_decreasing
    seen = set(split[0].ratings.loc[split[0].ratings["userId"] == user, "movieId"])
    assert not seen & set(top["movieId"])
    from kerasrec.schema import display_titles

    # titles as people write them ("Matrix, The (1999)" -> "The Matrix (1999)")
    expected = display_titles(rec.catalog_.movies.loc[top["movieId"], "title"])
    assert (top["title"].to_numpy() == expected.to_numpy()).all()
    # the list is the argmax of predict over the candidates
    candidates = rec.catalog_.movies.index[rec.catalog_.movies["n_ratings"] > 0].difference(list(seen))
    scores = rec.predict(pd.DataFrame({"userId": user, "movieId": candidates}))
    assert top["predicted_rating"].iloc[0] == pytest.approx(scores.max())
    with_seen = rec.recommend(user, k=50, exclude_seen=False)
    assert seen & set(with_seen["movieId"])
    # by default the list ranks by relevance: the argmax of what the user will choose
    from kerasrec import scoring

    by_relevance = rec.recommend(user, k=7)
    pairs = pd.DataFrame({"userId": user, "movieId": candidates})
    relevance = rec.model_.relevance(scoring.make_block(rec.pipeline_, rec.model_, pairs))
    best = candidates[np.lexsort((candidates, -relevance))[:7]]
    assert by_relevance["movieId"].tolist() == best.tolist()
    assert by_relevance["movieId"].tolist() != top["movieId"].tolist()
    # the list says which order it is in: its stars need not fall when ranked by relevance
    assert (by_relevance.attrs["ranked_by"], top.attrs["ranked_by"]) == ("relevance", "rating")
    assert rec.recommend(UNKNOWN_USER, k=3).attrs["ranked_by"] == "rating"


def test_recommend_for_an_unknown_user_lists_popular_well_rated_movies(rec, split):
    top = rec.recommend(UNKNOWN_USER, k=10)
    stats = rec.catalog_.movies.loc[top["movieId"]]
    rated = rec.catalog_.movies[rec.catalog_.movies["n_ratings"] > 0]
    assert (stats["n_ratings"] >= max(10, rated["n_ratings"].median())).all()
    assert stats["mean_rating"].mean() > rec.global_mean_ + 0.3


def test_similar_items(rec, split):
    movie = int(split[1]["movieId"].iloc[0])
    similar = rec.similar_items(movie, k=5)
    assert len(similar) == 5 and movie not in set(similar["movieId"])
    assert similar["similarity"].is_monotonic_decreasing and similar["similarity"].max() <= 1
    # a never-rated movie still has a vector, from its genres
    assert len(rec.similar_items(_unrated_catalog_movie(rec), k=3)) == 3
    with pytest.raises(kr.UnknownMovieError, match="not in the catalog"):
        rec.similar_items(UNKNOWN_MOVIE)


def test_save_load_gives_the_same_answers(rec, split, tmp_path):
    test = split[1]
    rec.predict(test)  # builds the score table, which is saved with the model
    path = rec.save(tmp_path / "rec")
    assert sorted(p.name for p in path.iterdir()) == [
        "catalog.parquet", "fallback.npz", "model.keras", "pipeline.json",
        "recommender.json", "scores.npz", "seen.parquet"]
    loaded = kr.Recommender.load(path)
    np.testing.assert_array_equal(loaded.predict(test), rec.predict(test))
    user = _user(split)
    pd.testing.assert_frame_equal(loaded.recommend(user), rec.recommend(user))
    pd.testing.assert_series_equal(loaded.explain(user, 1), rec.explain(user, 1))
    assert not list(tmp_path.glob(".*tmp*")), "no temporary folder left behind"
    # without the stored table the loaded model rebuilds it, to the same numbers
    (path / "scores.npz").unlink()
    rebuilt = kr.Recommender.load(path)
    np.testing.assert_allclose(rebuilt.predict(test), rec.predict(test), atol=1e-6)


def test_load_rejects_what_is_not_a_recommender(tmp_path):
    with pytest.raises(kr.ArtifactError, match="no recommender.json"):
        kr.Recommender.load(tmp_path)
    (tmp_path / "recommender.json").write_text('{"format": "other"}')
    with pytest.raises(kr.ArtifactError, match="expected 'kerasrec.Recommender'"):
        kr.Recommender.load(tmp_path)


@pytest.mark.parametrize("name", ["item_knn", "svd"])
def test_baseline_models_through_the_same_api(split, tmp_path, name):
    train, test = split
    rec = kr.Recommender(name).fit(train.ratings, train.products)
    baseline = rmse(np.full(len(test), train.ratings["rating"].mean()), test["rating"])
    assert rec.evaluate(test)["rmse"] < baseline - 0.05
    assert len(rec.recommend(_user(split), k=4)) == 4
    with pytest.raises(kr.CapabilityError, match="hybrid"):
        rec.explain(_user(split), 1)
    loaded = kr.Recommender.load(rec.save(tmp_path / name))
    np.testing.assert_array_equal(loaded.predict(test), rec.predict(test))
    if name == "svd":
        assert len(rec.similar_items(int(test["movieId"].iloc[0]), k=3)) == 3
    else:
        with pytest.raises(kr.CapabilityError, match="no item vectors"):
            rec.similar_items(int(test["movieId"].iloc[0]))


def test_mf_cold_pairs_fall_back_to_the_baseline(split):
    rec = kr.Recommender("mf", train=FAST).fit(split[0])
    pairs = pd.DataFrame({"userId": [UNKNOWN_USER], "movieId": [UNKNOWN_MOVIE]})
    assert rec.predict(pairs)[0] == pytest.approx(rec.global_mean_)
    assert len(rec.similar_items(int(split[1]["movieId"].iloc[0]), k=3)) == 3


def test_sigmoid_output_explains_its_activation(split):
    rec = kr.Recommender(output="sigmoid", train=TrainConfig(epochs=2, verbose=0)).fit(split[0])
    parts = rec.explain(_user(split), int(split[1]["movieId"].iloc[0]))
    assert "output_activation" in parts.index
    pairs = pd.DataFrame({"userId": [_user(split)], "movieId": [int(split[1]["movieId"].iloc[0])]})
    assert parts.sum() == pytest.approx(rec.predict(pairs)[0], abs=1e-9)
    with pytest.raises(kr.CapabilityError, match="sigmoid"):
        rec.score_table()


def test_autorec_through_the_same_api(split, tmp_path):
    train, test = split
    rec = kr.Recommender("autorec").fit(train)  # its own defaults: stops on held-out entries
    baseline = rmse(np.full(len(test), train.ratings["rating"].mean()), test["rating"])
    assert rec.evaluate(test)["rmse"] < baseline - 0.05
    top = rec.recommend(_user(split), k=5)
    assert len(top) == 5 and top["predicted_rating"].is_monotonic_decreasing
    cold = pd.DataFrame({"userId": [UNKNOWN_USER], "movieId": [int(test["movieId"].iloc[0])]})
    baseline = kr.Recommender("baseline").fit(train)
    assert rec.predict(cold)[0] == pytest.approx(baseline.predict(cold)[0], abs=1e-5)
    loaded = kr.Recommender.load(rec.save(tmp_path / "autorec"))
    np.testing.assert_array_equal(loaded.predict(test), rec.predict(test))
    (tmp_path / "autorec" / "scores.npz").unlink()  # rebuilt from the stored matrix
    np.testing.assert_allclose(kr.Recommender.load(tmp_path / "autorec").predict(test),
                               rec.predict(test), atol=1e-5)


def test_a_tampered_or_swapped_file_is_named_and_nothing_runs(rec, tmp_path):
    import json
    import shutil

    path = rec.save(tmp_path / "rec")
    for name in ("model.keras", "fallback.npz", "seen.parquet", "pipeline.json"):
        copy = shutil.copytree(path, tmp_path / f"edited-{name}")
        with open(copy / name, "ab") as handle:
            handle.write(b"\0")
        with pytest.raises(kr.ArtifactError, match=f"{name}' was changed or damaged"):
            kr.Recommender.load(copy)
    # a file the manifest lists is gone
    gone = shutil.copytree(path, tmp_path / "gone")
    (gone / "catalog.parquet").unlink()
    with pytest.raises(kr.ArtifactError, match="catalog.parquet' is missing"):
        kr.Recommender.load(gone)
    # a folder of format 1 held pickles: refused with how to retrain
    old = shutil.copytree(path, tmp_path / "old")
    meta = json.loads((old / "recommender.json").read_text())
    (old / "recommender.json").write_text(json.dumps({**meta, "format_version": 1}))
    (old / "baseline.pkl").write_bytes(b"cos\nsystem\n(S'touch pwned'\ntR.")
    with pytest.raises(kr.ArtifactError, match="no longer loads.*retrain"):
        kr.Recommender.load(old)
    assert not (tmp_path / "pwned").exists()


def test_keras_files_load_in_safe_mode(tmp_path):
    import keras

    from kerasrec.models.keras_model import load_keras

    x = keras.Input((2,), name="x")
    model = keras.Model(x, keras.layers.Lambda(lambda t: t * 2)(x))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(kr.ArtifactError, match="lambda.keras.*safely"):
        load_keras(tmp_path / "lambda.keras")


def test_nothing_in_kerasrec_loads_pickles():
    from pathlib import Path

    package = Path(kr.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "allow_pickle=True" not in text, path


def test_recommend_many_is_recommend_for_each_user_in_one_frame(rec, split):
    users = [*np.unique(split[0].ratings["userId"])[:30], UNKNOWN_USER]
    many = rec.recommend_many(users, k=6, context={"daytime": 1, "weekend": 1})
    assert list(many.columns[:3]) == ["userId", "rank", "movieId"]
    for user in users:
        one = rec.recommend(user, k=6, context={"daytime": 1, "weekend": 1})
        mine = many[many["userId"] == user].drop(columns="userId").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[one.columns], one)
    seen = split[0].ratings[["userId", "movieId"]]
    assert not many.merge(seen, on=["userId", "movieId"]).shape[0], "never a movie rated"


def test_evaluate_scores_full_catalog_lists_beside_the_ratings(rec, split):
    train, test = split
    scores = rec.evaluate(test)
    for key in ("rmse", "watched_recall@10", "watched_ndcg@10", "liked_recall@10",
                "coverage@10", "novelty@10"):
        assert key in scores, key
    # the lists are the model's own top 10 over the catalog: scoring them by hand agrees
    from kerasrec import metrics

    users = np.intersect1d(test["userId"], train.ratings["userId"])
    by_hand = metrics.topn_score(rec.recommend_many(users, k=10), test, train.ratings, ks=(10,))
    assert scores["watched_recall@10"] == pytest.approx(by_hand["watched_recall@10"])
    assert 0 < scores["watched_recall@10"] < 1


def test_ids_beyond_64_bits_and_k_zero_are_argument_errors(rec, split):
    with pytest.raises(kr.ArgumentError, match="64-bit"):
        rec.recommend(2 ** 70)
    with pytest.raises(kr.ArgumentError, match="64-bit"):
        rec.predict(pd.DataFrame({"userId": [2 ** 70], "movieId": [1]}))
    with pytest.raises(kr.ArgumentError, match="k must be"):
        rec.evaluate(split[1], k=0)


@pytest.mark.parametrize("call, words", [
    (lambda r, t: r.evaluate(t, relevant="4"), "relevant must be a rating on the scale "
                                               "[0.5, 5] (the stars from which a movie counts "
                                               "as liked), got '4'"),
    (lambda r, t: r.evaluate(t, relevant=float("nan")), "got nan"),
    (lambda r, t: r.evaluate(t, relevant=40), "got 40"),
    (lambda r, t: r.evaluate(t, lists="yes"), "lists must be True or False, got 'yes'"),
    (lambda r, t: r.recommend(1, exclude_seen="no"), "exclude_seen must be True or False"),
    (lambda r, t: r.recommend(1, genres=5), "genres must be genre names, e.g. ['Comedy'], "
                                            "got 5"),
    (lambda r, t: r.recommend(1, movies=["x"]), "movies must hold whole-number ids, found 'x'"),
    (lambda r, t: r.recommend(1, exclude=[np.nan]), "exclude must hold whole-number ids"),
    (lambda r, t: r.recommend(1, context={"daytime": 1}),
     "context needs both daytime and weekend (0 or 1), or a timestamp alone; got 'daytime' "
     "without the other"),
    (lambda r, t: r.recommend(1, context={"daytime": "yes", "weekend": 0}),
     "context daytime must be 0 or 1 (or True/False), got 'yes'"),
    (lambda r, t: r.explain(1, 2, context={"daytime": 1, "weekend": 2}),
     "context weekend must be 0 or 1"),
])
def test_analyst_arguments_are_checked_by_name(rec, split, call, words):
    """Each of these gave a NumPy error, or an answer to another question: "no" read as
    True, a lone daytime flag as a weekday night, movies="12" as the movies 1 and 2."""
    with pytest.raises(kr.ArgumentError) as caught:
        call(rec, split[1].head(50))
    assert words in str(caught.value)


def test_candidate_lists_read_ids_as_the_other_arguments_do(rec):
    movie = int(rec.catalog_.movie_ids[5])
    one = rec.recommend(1, movies=str(movie), exclude_seen=False, min_ratings=0)
    assert one["movieId"].tolist() == [movie]  # "12" is movie 12, not the movies 1 and 2
    assert rec.recommend(1, movies=np.int64(movie), exclude_seen=False,
                         min_ratings=0)["movieId"].tolist() == [movie]
    top = rec.recommend(1, k=3)["movieId"].tolist()
    unwanted = rec.recommend(1, k=3, exclude=[str(top[0]), float(top[1])])
    assert not set(top[:2]) & set(unwanted["movieId"])
    flags = {"daytime": np.bool_(True), "weekend": 1.0}
    pd.testing.assert_frame_equal(rec.recommend(1, context=flags),
                                  rec.recommend(1, context={"daytime": 1, "weekend": 1}))


# --- scikit-learn parameters, callbacks, optimizer objects --------------------------------

def test_get_params_set_params_and_sklearn_clone():
    from sklearn.base import clone

    rec = kr.Recommender("mf", seed=3, dim=8, train=FAST)
    params = rec.get_params()
    assert params == {"model": "mf", "seed": 3, "timezone": "UTC", "rating_scaling": "minmax",
                      "train": FAST, "verbose": "auto", "candidates": 200, "dim": 8}
    twin = clone(rec)
    assert twin is not rec and twin.get_params()["dim"] == 8 and twin.train == FAST
    assert twin.set_params(dim=16, seed=5) is twin
    assert twin.get_params()["dim"] == 16 and twin.seed == 5 and rec.get_params()["dim"] == 8
    with pytest.raises(kr.ArgumentError, match="unknown mf option"):
        twin.set_params(mf_dim=4)
    with pytest.raises(kr.ArgumentError, match="unknown hybrid option"):
        twin.set_params(model="hybrid")  # 'dim' is not a hybrid option: nothing changes
    assert twin.model == "mf" and twin.get_params()["dim"] == 16


def test_fit_takes_keras_callbacks(split):
    import keras

    class Epochs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = 0

        def on_epoch_end(self, epoch, logs=None):
            self.ends += 1

    counter = Epochs()
    rec = kr.Recommender("mf", train=TrainConfig(epochs=3, verbose=0)).fit(split[0],
                                                                          callbacks=[counter])
    assert counter.ends == len(rec.history_["loss"]) >= 1
    assert rec.train.callbacks == ()  # the estimator's settings are left as they were
    with pytest.raises(kr.ArgumentError, match="not trained with Keras"):
        kr.Recommender("popularity").fit(split[0], callbacks=[counter])


def test_train_config_takes_an_optimizer_object(split, tmp_path):
    import keras

    template = keras.optimizers.SGD(learning_rate=0.05, momentum=0.5)
    config = TrainConfig(epochs=2, verbose=0, optimizer=template)
    rec = kr.Recommender("mf", train=config).fit(split[0])
    assert type(rec.model_.keras_model.optimizer) is keras.optimizers.SGD
    assert rec.model_.keras_model.optimizer is not template  # a fresh copy per fit
    assert int(template.iterations) == 0
    again = kr.Recommender.load(rec.save(tmp_path / "sgd"))
    assert isinstance(again.train.optimizer, keras.optimizers.SGD)
    assert again.train.optimizer.get_config()["momentum"] == 0.5
    np.testing.assert_allclose(again.predict(split[1]), rec.predict(split[1]), atol=1e-6)


# --- batch and filtered recommendations, explanations of many pairs -----------------------

def test_recommend_with_filters(rec, split):
    user = _user(split)
    comedies = rec.recommend(user, k=5, genres=["comedy"], years=(1990, 2005))
    assert len(comedies) == 5
    assert all("Comedy" in g.split("|") for g in comedies["genres"])
    assert comedies["year"].between(1990, 2005).all()
    chosen = rec.recommend(user, k=3).movieId.tolist()
    without = rec.recommend(user, k=3, exclude=chosen[:1]).movieId.tolist()
    assert without == chosen[1:] + without[2:]  # the rest moves up
    pool = rec.catalog_.movie_ids[:40]
    only = rec.recommend(user, k=50, movies=pool, exclude_seen=False, min_ratings=0)
    assert sorted(only["movieId"]) == sorted(pool)
    many = rec.recommend_many([user], k=5, genres=["comedy"], years=(1990, 2005))
    assert many["movieId"].tolist() == comedies["movieId"].tolist()


def test_recommend_many_takes_any_sequence_of_ids(rec, split):
    users = split[0].ratings["userId"].unique()[:3].tolist()
    lists = rec.recommend_many(users, k=4)
    assert lists.groupby("userId").size().to_dict() == {u: 4 for u in users}
    for user in users:
        assert lists[lists.userId == user]["movieId"].tolist() == \
            rec.recommend(user, k=4)["movieId"].tolist()
    with pytest.raises(kr.ArgumentError, match="user_ids must hold whole-number ids, found .a., .b."):
        rec.recommend_many(["a", "b"])


def test_explain_many_is_explain_for_each_pair(rec, split):
    test = split[1].head(25)
    many = rec.explain_many(test)
    assert len(many) == 25 and many["movieId"].tolist() == test["movieId"].tolist()
    np.testing.assert_allclose(many["prediction"], rec.predict(test), atol=1e-5)
    row = test.iloc[3]
    one = rec.explain(row.userId, row.movieId, context=int(row.timestamp))
    np.testing.assert_allclose(many.loc[3, one.index].to_numpy(float), one.to_numpy(), atol=1e-6)
    assert many.loc[3, "title"] == one.attrs["title"]


def test_pairs_take_the_usual_spellings_of_the_id_columns(rec, split):
    test = split[1].head(10)
    renamed = test.rename(columns={"userId": "user_id", "movieId": "MovieID"})
    np.testing.assert_allclose(rec.predict(renamed), rec.predict(test))
    with pytest.raises(kr.ArgumentError, match="lack column"):
        rec.predict(test.drop(columns="movieId"))


def test_pairs_read_ids_and_times_as_the_loaders_do(rec, split):
    """Ids as text or whole floats and times as dates give what ints and Unix seconds
    give: read otherwise, a text movieId missed the catalog (scored as an unknown movie)
    and a column of dates was read as nanoseconds."""
    test = split[1].head(50)[["userId", "movieId", "timestamp"]]
    expected = rec.predict(test)
    dates = pd.to_datetime(test["timestamp"], unit="s")
    for changed in (test.astype({"userId": str, "movieId": str}),
                    test.astype({"userId": float, "movieId": float}),
                    test.assign(timestamp=dates),
                    test.assign(timestamp=dates.dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo"))):
        np.testing.assert_array_equal(rec.predict(changed), expected)
    # a datetime object as the context of a list, too
    user = int(test["userId"].iloc[0])
    night = pd.Timestamp("2024-05-04 03:00")  # a Saturday, 03:00 UTC
    pd.testing.assert_frame_equal(rec.recommend(user, context=night.to_pydatetime()),
                                  rec.recommend(user, context=int(night.timestamp())))
    with pytest.raises(kr.ArgumentError, match="whole-number ids, found nan at positions 1"):
        rec.predict(pd.DataFrame({"userId": [1, None], "movieId": [1, 2]}))
    np.testing.assert_array_equal(  # ISO 8601 text, as a CSV holds dates
        rec.predict(test.assign(timestamp=dates.dt.strftime("%Y-%m-%d %H:%M:%S"))), expected)
    with pytest.raises(kr.ArgumentError, match="Unix seconds or dates, found '04/05/2024'"):
        rec.predict(test.head(1).assign(timestamp="04/05/2024"))
    # one id rule everywhere an id is given
    movie = int(test["movieId"].iloc[0])
    pd.testing.assert_frame_equal(rec.recommend(str(user), recent=[str(movie)]),
                                  rec.recommend(user, recent=[movie]))
    pd.testing.assert_frame_equal(rec.similar_items(str(movie)), rec.similar_items(movie))
    pd.testing.assert_frame_equal(rec.because(str(user), float(movie)), rec.because(user, movie))
    with pytest.raises(kr.ArgumentError, match="movie_id must hold whole-number ids"):
        rec.similar_items(True)
    # a single user is checked as a column of ids is: no silent user 2 for 2.5, or 1 for True
    for bad, words in ((float("nan"), "found nan"), (2.5, "found 2.5"), (True, "found True"),
                       ([user, user], "one id, got a list")):
        with pytest.raises(kr.ArgumentError, match=f"user_id must.* {words}"):
            rec.recommend(bad)
        with pytest.raises(kr.ArgumentError, match=f"user_id must.* {words}"):
            rec.because(bad, movie)
    with pytest.raises(kr.ArgumentError, match="movie_id must be one id, got a list"):
        rec.because(user, [movie, movie])
    pd.testing.assert_frame_equal(rec.recommend(np.asarray(user)), rec.recommend(user))


def test_evaluate_reads_test_ratings_as_predict_reads_pairs(rec, split):
    """Id columns under other names, or a mapping of columns, score as the DataFrame
    does; a test without rows, without ratings or with words for stars is refused by
    name, not with pandas' KeyError or the metrics' length error."""
    test = split[1].head(200)
    expected = rec.evaluate(test, lists=False)
    renamed = test.rename(columns={"userId": "user_id", "movieId": "item"})
    assert rec.evaluate(renamed, lists=False) == expected
    assert rec.evaluate({c: test[c].tolist() for c in test.columns}, lists=False) == expected
    with pytest.raises(kr.ArgumentError, match=r"held-out ratings.*got 0 rows"):
        rec.evaluate(test.head(0))
    with pytest.raises(kr.ArgumentError, match=r"held-out ratings.*columns \['userId', 'movieId'"):
        rec.evaluate(test.drop(columns="rating"))
    words = test.astype({"rating": object})
    words.iloc[3, words.columns.get_loc("rating")] = "four"
    with pytest.raises(kr.ArgumentError, match="found 'four' at positions 3"):
        rec.evaluate(words)


def test_pairs_as_a_mapping_of_columns(rec, split):
    """``{"userId": [...], "movieId": [...]}`` (or single ids) is the DataFrame it
    describes, in predict and explain_many; columns of unequal length are refused."""
    test = split[1].head(20)[["userId", "movieId", "timestamp"]]
    columns = {name: test[name].tolist() for name in test.columns}
    np.testing.assert_array_equal(rec.predict(columns), rec.predict(test))
    pd.testing.assert_frame_equal(rec.explain_many(columns), rec.explain_many(test))
    first = {name: values[0] for name, values in columns.items()}
    np.testing.assert_array_equal(rec.predict(first), rec.predict(test.head(1)))
    with pytest.raises(kr.ArgumentError, match=r"one length, got \{'userId': 2, 'movieId': 1\}"):
        rec.predict({"userId": [1, 2], "movieId": [3]})
    with pytest.raises(kr.ArgumentError, match="a DataFrame \\(or a mapping of columns\\)"):
        rec.predict([(1, 2)])


# --- signs of life -------------------------------------------------------------------------

def test_auto_verbosity_follows_the_terminal_or_jupyter(monkeypatch):
    import io
    import sys

    from kerasrec.recommend import resolve_verbose

    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a file: not a terminal
    assert resolve_verbose("auto") == 0 and resolve_verbose(2) == 2
    monkeypatch.setitem(sys.modules, "ipykernel", sys)  # inside Jupyter: a line per epoch
    assert resolve_verbose("auto") == 2
    with pytest.raises(kr.ArgumentError, match="verbose must be"):
        resolve_verbose("loud")


def test_verbose_shows_the_fit_and_the_score_table(split, capsys):
    rec = kr.Recommender("mf", verbose=1, dim=4).fit(split[0])
    rec.recommend(_user(split), k=3)
    out = capsys.readouterr().out
    assert "Epoch 1/" in out and "score table:" in out and "user" in out
    kr.Recommender("mf", verbose=0, dim=4).fit(split[0]).recommend(_user(split), k=3)
    assert capsys.readouterr().out == ""


def test_a_saved_recommender_answers_from_its_table_without_tensorflow(rec, split, tmp_path):
    """recommend and similar_items read the saved score table; the model's weights (and
    TensorFlow) are read only when a context or an explanation needs them."""
    import subprocess
    import sys

    rec.score_table()  # saved with the folder (a run folder always has it)
    folder = rec.save(tmp_path / "saved")
    user = _user(split)
    movie = int(rec.catalog_.movie_ids[0])
    code = ("import sys, json, kerasrec as kr\n"
            "rec = kr.Recommender.load(sys.argv[1])\n"
            f"top = rec.recommend({user}, k=5)['movieId'].tolist()\n"
            f"near = rec.similar_items({movie}, k=5)['movieId'].tolist()\n"
            "quiet = 'tensorflow' not in sys.modules\n"
            f"weekend = rec.recommend({user}, k=5, context={{'daytime': 0, 'weekend': 1}})\n"
            "print(json.dumps([top, near, quiet, weekend['movieId'].tolist(),\n"
            "                  'tensorflow' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    top, near, quiet, weekend, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert quiet and loaded  # no TensorFlow until the weekend context needed the model
    assert top == rec.recommend(user, k=5)["movieId"].tolist()
    assert near == rec.similar_items(movie, k=5)["movieId"].tolist()
    context = {"daytime": 0, "weekend": 1}
    assert weekend == rec.recommend(user, k=5, context=context)["movieId"].tolist()


@pytest.mark.parametrize("model", ["ease", "svd", "item_knn", "popularity", "mf"])
@pytest.mark.parametrize("params, words", [
    ({"seed": "7"}, "seed must be a whole number, 0 or more, got '7'"),
    ({"seed": -1}, "got -1"),
    ({"candidates": 0}, "candidates must be a positive whole number, got 0"),
    ({"verbose": 5}, "verbose must be 0, 1, 2 or 'auto', got 5"),
    ({"train": {"epochs": 2}}, "train must be a kerasrec.TrainConfig or None, got dict"),
])
def test_fit_checks_the_constructor_arguments_of_every_model(tiny, model, params, words):
    """set_params (and scikit-learn's clone) do not pass through __init__, so fit checks
    them all, for models trained without Keras too: before, EASE^R failed inside NumPy
    on seed='7' and SVD trained with it."""
    rec = kr.Recommender(model).set_params(**params)
    with pytest.raises(kr.ArgumentError) as caught:
        rec.fit(tiny)
    assert words in str(caught.value)
    assert not rec._fitted()


def test_candidates_is_a_checked_setting_kept_by_save_and_clone(tmp_path):
    from sklearn.base import clone

    for bad in (0, -3, 2.5, True, "200"):
        with pytest.raises(kr.ArgumentError, match="candidates"):
            kr.Recommender(candidates=bad)
    rec = kr.Recommender("mf", dim=4, candidates=50, train=FAST).fit(kr.load_sample())
    assert clone(rec).candidates == 50
    assert kr.Recommender.load(rec.save(tmp_path / "saved")).candidates == 50
