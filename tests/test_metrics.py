"""kerasrec.metrics against hand-computed values and against the shared scorer."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

import kerasrec as kr
from kerasrec import metrics
from tests.conftest import SCORER, SPLITS


def test_rmse_and_mae_clip_predictions():
    assert metrics.rmse([4, 2], [4, 4]) == pytest.approx(np.sqrt(2))
    assert metrics.mae([4, 2], [5, 1]) == pytest.approx(1.0)
    # 6.0 is clipped to 5.0 before scoring
    assert metrics.rmse([5.0], [6.0]) == 0.0
    assert metrics.rmse([5.0], [6.0], rating_range=None) == 1.0
    with pytest.raises(kr.ArgumentError, match="NaN"):
        metrics.rmse([1.0], [np.nan])
    with pytest.raises(kr.ArgumentError, match="same non-zero length"):
        metrics.mae([1.0, 2.0], [1.0])


def test_ndcg_by_hand():
    truth = np.array([3.0, 5.0, 1.0])
    # predicted order: item 0, item 1, item 2 -> gains 3, 5, 1
    dcg = 3 + 5 / np.log2(3) + 1 / np.log2(4)
    idcg = 5 + 3 / np.log2(3) + 1 / np.log2(4)
    assert metrics.ndcg(truth, np.array([0.9, 0.8, 0.1]), k=3) == pytest.approx(dcg / idcg)
    assert metrics.ndcg(truth, truth, k=3) == pytest.approx(1.0)
    # ties keep row order: equal predictions rank items 0, 1, 2
    assert metrics.ndcg(truth, np.zeros(3), k=1) == pytest.approx(3 / 5)


def test_article_top_k_checks_by_hand():
    movies = np.array([10, 20, 30, 40, 50, 60])
    truth = np.array([5, 4, 3, 2, 1, 0.5])          # A = 10 20 30
    pred = np.array([3, 5, 1, 4, 0, 0])             # B = 20 40 10
    overlap, position, mrr = metrics.top_k_checks(movies, truth, pred, k=3)
    assert overlap == pytest.approx(2 / 3)          # 10 and 20 in both
    assert position == 0.0                          # no slot matches
    assert mrr == pytest.approx((1 / 3 + 1 / 1 + 0) / 3)


def test_per_user_ranking_metrics_by_hand():
    frame = pd.DataFrame({
        "userId": [1, 1, 1, 1, 2, 2],
        "movieId": [1, 2, 3, 4, 1, 2],
        "rating": [5.0, 2.0, 4.0, 1.0, 2.0, 3.0],
        "prediction": [4.0, 4.5, 3.0, 1.0, 3.0, 2.0],
    })
    report = metrics.per_user_report(frame, k=2, relevant=4.0)
    one = report.loc[1]
    # user 1 ranks 2, 1, 3, 4; relevant: movies 1 and 3
    assert one["precision@2"] == 0.5 and one["recall@2"] == 0.5
    assert one["map@2"] == pytest.approx((1 / 2) / 2)
    assert one["hit_rate@2"] == 1.0 and one["mrr"] == 0.5
    assert one["rmse"] == pytest.approx(np.sqrt((1 + 6.25 + 1 + 0) / 4))
    two = report.loc[2]                             # no relevant movie
    assert two["precision@2"] == 0.0 and np.isnan(two["recall@2"]) and np.isnan(two["mrr"])
    assert metrics.catalog_coverage([[1, 2], [2, 3]], 10) == 0.3


def test_score_rejects_bad_frames():
    frame = pd.DataFrame({"userId": [1, 1], "movieId": [1, 1], "rating": [4.0, 3.0],
                          "prediction": [4.0, 3.0]})
    with pytest.raises(kr.ArgumentError, match="repeat"):
        metrics.score(frame)
    with pytest.raises(kr.ArgumentError, match="lacks column"):
        metrics.per_user_report(frame.drop(columns="prediction"))


def _shared_scorer(path):
    """A scorer from ../shared/bench as a module (skips when ../shared is absent)."""
    if not path.is_file():
        pytest.skip(f"shared scorer not available: {path} is missing")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_score_matches_the_shared_scorer():
    scorer = _shared_scorer(SCORER)
    test = pd.read_csv(SPLITS / "movies_random80_test.csv")
    rng = np.random.default_rng(0)
    # noisy predictions, rounded so that ties occur and tie-breaking is exercised
    pred = np.round(test["rating"] + rng.normal(0, 0.9, len(test)), 1)
    frame = test[["userId", "movieId", "rating"]].assign(prediction=pred)
    theirs = scorer.score(frame, 0.5, 5.0)
    ours = metrics.score(frame)
    for key, value in theirs.items():
        # The shared scorer's re-ranking figures carry an honest "rerank_" name here.
        name = key if key in ("rmse", "mae", "n_rows", "n_users_ranked") else f"rerank_{key}"
        assert ours[name] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def _lists_for(train, test, seed=0):
    """Random lists over the catalog with some test movies planted, seen excluded."""
    rng = np.random.default_rng(seed)
    movies = np.unique(np.concatenate([train["movieId"], test["movieId"]]))
    seen = train.groupby("userId")["movieId"].apply(set)
    rows = []
    for user in seen.index:
        held = test.loc[test["userId"] == user, "movieId"].to_numpy()
        pool = np.concatenate([held[:rng.integers(0, 4)], rng.choice(movies, 40)])
        pool = [m for m in dict.fromkeys(pool.tolist()) if m not in seen[user]]
        rows += [(user, r + 1, m) for r, m in enumerate(pool[:rng.integers(3, 21)])]
    return pd.DataFrame(rows, columns=["userId", "rank", "movieId"]).sample(frac=1, random_state=0)


def test_topn_score_by_hand():
    train = pd.DataFrame({"userId": [1, 1, 2], "movieId": [10, 11, 10], "rating": 4.0})
    test = pd.DataFrame({"userId": [1, 1, 2, 3], "movieId": [12, 13, 11, 10],
                         "rating": [5.0, 2.0, 3.0, 4.0]})
    lists = pd.DataFrame({"userId": [1, 1, 2], "rank": [1, 2, 1], "movieId": [13, 14, 12]})
    out = metrics.topn_score(lists, test, train, ks=(2,))
    # user 1: 13 at rank 1 of {12, 13}; user 2: no hit; user 3 is not in training
    assert out["n_users"] == 2 and out["n_users_liked"] == 1
    assert out["watched_recall@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert out["watched_ndcg@2"] == pytest.approx((1 / (1 + 1 / np.log2(3))) / 2)
    assert out["liked_recall@2"] == 0.0 and out["watched_hit@2"] == 0.5
    assert out["coverage@10"] == 3 and out["novelty@10"] == 0.0  # none rated in training
    with pytest.raises(kr.ArgumentError, match="already rated"):
        metrics.topn_score(lists.assign(movieId=[10, 14, 12]), test, train)
    # each table is named when it is not one or lacks a column (was KeyError 'rating')
    for args, words in (((lists, test.drop(columns="rating"), train),
                         "test lacks column(s) ['rating']; needs ['userId', 'movieId', "
                         "'rating']"),
                        ((lists.to_dict("list"), test, train),
                         "lists must be a DataFrame with columns ['userId', 'rank', "
                         "'movieId'], got dict"),
                        ((lists, test, train.rename(columns={"movieId": "item"})),
                         "train lacks column(s) ['movieId']")):
        with pytest.raises(kr.ArgumentError) as caught:
            metrics.topn_score(*args)
        assert words in str(caught.value)


@pytest.mark.shared
def test_topn_score_equals_the_shared_scorer():
    from tests.conftest import SHARED

    shared = _shared_scorer(SHARED / "bench" / "score_topn.py")
    train = pd.read_csv(SPLITS / "movies_temporal80_train.csv")
    test = pd.read_csv(SPLITS / "movies_temporal80_test.csv")
    lists = _lists_for(train[train["userId"] <= 200], test)
    expected = shared.score(lists, test, train)
    got = metrics.topn_score(lists, test, train, ks=(10, 20))
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_evaluation_names_are_what_evaluate_reports(sample_split):
    data, test = sample_split
    rec = kr.Recommender("popularity").fit(data)
    assert metrics.evaluation_names() == list(rec.evaluate(test))
    assert metrics.evaluation_names(5, lists=False) == list(rec.evaluate(test, 5, lists=False))
    assert "liked_recall@5" in metrics.evaluation_names(5)
