"""The implicit library's ALS as a registered model (the optional extra kerasrec[implicit])."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

import kerasrec as kr
from kerasrec import metrics
from kerasrec.models import model_class
from tests.conftest import popular_lists, taste_groups

needs_implicit = pytest.mark.skipif(not model_class("implicit_als").available(),
                                    reason="the optional implicit library is not installed")


@needs_implicit
def test_implicit_als_learns_who_watches_what():
    data = taste_groups()
    train, test = kr.temporal_split(data.ratings, 0.25)
    users = np.intersect1d(test["userId"], train["userId"])
    reference = metrics.topn_score(popular_lists(train, users), test, train, ks=(10,))
    rec = kr.Recommender("implicit_als", factors=16, iterations=10).fit(data.with_ratings(train))
    scores = metrics.topn_score(rec.recommend_many(users, k=10), test, train, ks=(10,))
    assert scores["watched_recall@10"] > 1.5 * reference["watched_recall@10"], (scores, reference)
    assert rec.model_.supports("relevance")


def test_a_missing_implicit_library_is_named(sample_split, monkeypatch):
    real_import = builtins.__import__

    def no_implicit(name, *args, **kwargs):
        if name.startswith("implicit"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_implicit)
    with pytest.raises(kr.MissingDependencyError, match=r'pip install "kerasrec\[implicit\]"'):
        kr.Recommender("implicit_als").fit(sample_split[0])
