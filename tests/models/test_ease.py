"""EASE: closed-form lists of what users watch, chosen on validation, bounded in size."""

from __future__ import annotations

import numpy as np
import pytest

import kerasrec as kr
from kerasrec import metrics
from kerasrec.models.ease import L2_GRID, ease_weights
from tests.conftest import popular_lists, taste_groups


def test_weights_solve_the_closed_form():
    rng = np.random.default_rng(0)
    import scipy.sparse as sp

    rated = sp.csr_matrix((rng.random((40, 12)) < 0.3).astype(np.float32))
    weights = ease_weights(rated, 5.0).astype(np.float64)
    assert np.allclose(np.diag(weights), 0.0)
    # stationarity of ||X - XB||^2 + l2 ||B||^2 off the diagonal: (G + l2 I) B = G + diag
    gram = (rated.T @ rated).toarray()
    residual = (gram + 5.0 * np.eye(12)) @ weights - gram
    off = ~np.eye(12, dtype=bool)
    assert np.abs(residual[off]).max() < 1e-3


def test_ease_lists_beat_the_most_popular_movies():
    data = taste_groups()
    train, test = kr.temporal_split(data.ratings, 0.25)
    rec = kr.Recommender("ease").fit(data.with_ratings(train))
    assert rec.model_.l2 in L2_GRID  # chosen on a validation cut of the training ratings
    tried = rec.model_.chosen["val_recall@10_by_l2"]
    assert set(tried) == {f"{l2:g}" for l2 in L2_GRID}
    assert rec.model_.l2 == float(max(tried, key=tried.get))
    users = np.intersect1d(test["userId"], train["userId"])
    ease = metrics.topn_score(rec.recommend_many(users, k=10), test, train, ks=(10,))
    baseline = metrics.topn_score(popular_lists(train, users), test, train, ks=(10,))
    assert ease["watched_recall@10"] > 1.5 * baseline["watched_recall@10"], (ease, baseline)
    # its stars are the baseline's; lists by rating differ from lists by relevance
    user = int(users[0])
    by_rating = rec.recommend(user, k=10, rank_by="rating")["movieId"].tolist()
    assert by_rating != rec.recommend(user, k=10)["movieId"].tolist()
    with pytest.raises(kr.ArgumentError, match="rank_by"):
        rec.recommend(user, rank_by="stars")


def test_rank_by_relevance_needs_a_model_that_has_it(sample_split):
    rec = kr.Recommender("baseline").fit(sample_split[0])
    with pytest.raises(kr.CapabilityError, match="no relevance; models that do: .*ease"):
        rec.recommend(1, rank_by="relevance")


def test_too_many_movies_is_a_clear_error(sample_split):
    with pytest.raises(kr.ArgumentError, match="max_items=100"):
        kr.Recommender("ease", max_items=100).fit(sample_split[0])


def test_l2_and_the_validation_share_are_checked_when_made():
    from kerasrec.models import model_class

    for options, words in (({"l2": 0}, "ease option l2 must be a positive number, or None"),
                           ({"l2": "big"}, "got 'big'"),
                           ({"validation_fraction": 1.0}, "validation_fraction must lie")):
        with pytest.raises(kr.ArgumentError, match=words):
            model_class("ease")(**options)
