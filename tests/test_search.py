"""Choosing settings on validation cuts of the training data."""

from __future__ import annotations

import numpy as np
import pytest

import kerasrec as kr
from kerasrec.search import grid_search
from kerasrec.training import TrainConfig

QUICK = TrainConfig(epochs=2, batch_size=512, verbose=0)


def test_grid_search_picks_on_a_validation_cut_and_refits(sample_split):
    train, test = sample_split
    result = grid_search(kr.Recommender("mf", train=QUICK), train, {"dim": [2, 16]},
                         split="temporal", metric="rmse")
    assert list(result.results["param_dim"]) == [2, 16]
    means = result.results.groupby("param_dim")["rmse"].mean()
    assert result.best_params == {"dim": int(means.idxmin())}
    assert result.best_score == pytest.approx(means.min())
    assert "watched_recall@10" in result.results.columns
    best = result.best_estimator
    assert best.get_params()["dim"] == result.best_params["dim"]
    # Refitted on all of the training data: every training user is known, the test is unseen.
    assert set(best.pipeline_.user_vocabulary_) == set(train.ratings["userId"])
    assert np.all(np.isfinite(best.predict(test)))


def test_random_folds_and_maximised_metrics(sample_split):
    train, _ = sample_split
    result = grid_search(kr.Recommender("popularity"), train, {"shrinkage": [0.0, 50.0]},
                         split="random", folds=2, metric="watched_recall@10", refit=False)
    assert len(result.results) == 4 and set(result.results["fold"]) == {0, 1}
    means = result.results.groupby("setting")["watched_recall@10"].mean()
    assert result.best_score == pytest.approx(means.max()) and result.best_estimator is None


@pytest.mark.parametrize("kwargs, words", [
    ({"split": "article"}, "split must be one of"),
    ({"split": "temporal", "folds": 2}, "one validation cut"),
    ({"validation_size": 1.5}, "validation_size"),
    ({"metric": "accuracy"}, "evaluate reports no 'accuracy'"),
    ({"seed": "0"}, "seed must be a whole number, 0 or more, got '0'"),
    ({"folds": 2.0, "split": "random"}, "folds must be a positive whole number, got 2.0"),
    ({"refit": "no"}, "refit must be True or False, got 'no'"),
])
def test_bad_search_arguments(sample_split, kwargs, words):
    with pytest.raises(kr.ArgumentError, match=words):
        grid_search(kr.Recommender("popularity"), sample_split[0], {"shrinkage": [1.0]},
                    **{"refit": False, **kwargs})


def test_unknown_parameters_fail_before_any_training(sample_split):
    with pytest.raises(kr.ArgumentError, match="unknown popularity option"):
        grid_search(kr.Recommender("popularity"), sample_split[0], {"shrinkage": [1.0],
                                                                     "dim": [3]})


def test_an_unknown_metric_fails_before_any_training(sample_split, monkeypatch):
    def no_training(self, data):
        raise AssertionError("trained before the metric was checked")

    monkeypatch.setattr(kr.Recommender, "fit", no_training)
    with pytest.raises(kr.ArgumentError) as caught:
        grid_search(kr.Recommender("popularity"), sample_split[0], {"shrinkage": [1.0]},
                    metric="watched_recall@5", refit=False)
    assert "evaluate reports no 'watched_recall@5'" in str(caught.value)
    assert "'watched_recall@10'" in str(caught.value)  # the choices, spelled as accepted


def test_a_figure_no_validation_user_has_is_named_not_averaged():
    from tests.conftest import taste_groups

    data = taste_groups()  # 16 ratings a user: none has 10 validation ratings to re-rank
    with pytest.raises(kr.ArgumentError, match="'rerank_ndcg@10' is undefined on this "
                                               "validation cut"):
        grid_search(kr.Recommender("popularity"), data, {"shrinkage": [1.0]},
                    metric="rerank_ndcg@10", refit=False)


def test_what_is_searched_and_on_what_is_named(sample_split):
    data = sample_split[0]
    cases = [
        (lambda: grid_search("popularity", data, {"shrinkage": [1.0]}),
         "estimator must be an unfitted kerasrec.Recommender, got str"),
        (lambda: grid_search(kr.Recommender("popularity"), data.ratings, {"shrinkage": [1.0]}),
         "data must be a kerasrec.MovieData (load_movies(...), MovieData.from_frames(products, "
         "ratings) or data.with_ratings(train)), got DataFrame"),
        (lambda: grid_search(kr.Recommender("popularity"), data, {"shrinkage": 1.0}),
         "param_grid: Parameter grid for parameter 'shrinkage' needs to be a list"),
    ]
    for call, words in cases:
        with pytest.raises(kr.ArgumentError) as caught:
            call()
        assert words in str(caught.value)
