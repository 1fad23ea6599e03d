"""The hybrid learns what each user watches: its lists beat the most popular movies."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import metrics  # noqa: E402
from kerasrec.training import TrainConfig  # noqa: E402
from tests.conftest import popular_lists, taste_groups  # noqa: E402

FAST = TrainConfig(epochs=15, batch_size=64, learning_rate=5e-3, verbose=0)


def test_retrieval_learns_who_watches_what():
    data = taste_groups()
    train, test = kr.temporal_split(data.ratings, 0.25)
    users = np.intersect1d(test["userId"], train["userId"])
    reference = metrics.topn_score(popular_lists(train, users), test, train, ks=(10,))
    scores = {}
    for retrieval in (True, False):
        rec = kr.Recommender(train=FAST, retrieval=retrieval, retrieval_weight=0.5)
        rec.fit(data.with_ratings(train))
        lists = rec.recommend_many(users, k=10)
        scores[retrieval] = metrics.topn_score(lists, test, train, ks=(10,))["watched_recall@10"]
    assert scores[True] > 1.5 * reference["watched_recall@10"], (scores, reference)
    assert scores[True] > 1.5 * scores[False], scores
    assert rec.model_.supports("relevance") is False  # switched off: ranks by rating


def test_the_blend_weight_is_chosen_on_validation_not_test(sample_split):
    rec = kr.Recommender(train=TrainConfig(epochs=2, verbose=0)).fit(sample_split[0])
    tried = rec.model_.chosen["val_recall@10_by_blend"]
    assert len(tried) >= 3 and not any(k.startswith("val_recall") for k in rec.history_)
    assert rec.model_.backbone.relevance_blend == float(max(tried, key=tried.get))


def test_retrieval_is_switched_off_with_a_message_above_the_softmax_limit(
        sample_split, monkeypatch, tmp_path):
    import pytest

    from kerasrec.models.hybrid import model as hybrid_model

    monkeypatch.setattr(hybrid_model, "RETRIEVAL_SOFTMAX_LIMIT", 100)
    with pytest.warns(UserWarning, match="retrieval switched off: .* exceed the full-softmax"):
        rec = kr.Recommender(train=TrainConfig(epochs=1, verbose=0)).fit(sample_split[0])
    assert not rec.model_.supports("relevance")
    loaded = kr.Recommender.load(rec.save(tmp_path / "rec"))
    assert not loaded.model_.supports("relevance")
    assert loaded.recommend(1, k=3)["movieId"].tolist() == rec.recommend(1, k=3)["movieId"].tolist()


def test_similar_items_use_the_retrieval_vectors(hybrid):
    """Neighbours by who watches what, not by genre (benchmarks/similar_items.py measures
    the difference on MovieLens: 56% of neighbours co-rated by 20+ users against 17%)."""
    movies = hybrid.catalog_.movie_ids
    rows = hybrid.pipeline_.item_index(movies)
    expected = np.asarray(hybrid.model_.backbone.catalog_scores.item_vectors())[rows]
    np.testing.assert_allclose(hybrid.item_vectors(), expected, rtol=1e-6)
    top = hybrid.similar_items(int(movies[0]), k=5)
    unit = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    cosine = unit[hybrid.catalog_.position(top["movieId"])] @ unit[0]
    np.testing.assert_allclose(top["similarity"], cosine, rtol=1e-5)
