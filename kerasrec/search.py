"""Choose a Recommender's settings on validation data cut from the training data.

scikit-learn's ``GridSearchCV`` assumes rows are independent samples and a ``fit(X, y)``;
a recommender's validation must instead hold out *ratings* by the package's split
protocols (at random, or each user's latest for "what comes next") and score top-N
lists over the whole catalog. :func:`grid_search` does that, with scikit-learn's own
parts: :class:`~sklearn.model_selection.ParameterGrid` for the grid and
:func:`~sklearn.base.clone` for fresh estimators (``Recommender`` implements
``get_params``/``set_params``).

Example:
    >>> from kerasrec.search import grid_search
    >>> result = grid_search(kr.Recommender("mf"), data, {"dim": [16, 32]},
    ...                      split="temporal", metric="watched_recall@10")
    >>> result.best_params, result.results
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import pandas as pd

from kerasrec.data.movie_data import MovieData, require_movie_data
from kerasrec.errors import ArgumentError, check_fraction, true_or_false, whole_number
from kerasrec.metrics import evaluation_names
from kerasrec.split import random_split, temporal_split

#: Metrics where lower is better; every other metric is maximised.
LOWER_IS_BETTER = ("rmse", "mae")
SEARCH_SPLITS = ("random", "temporal")


@dataclass
class SearchResult:
    """What :func:`grid_search` found.

    Attributes:
        results: One row per setting and fold: the parameters, the fold, ``metric`` and
            the other evaluation figures, and ``fit_seconds``.
        best_params: The setting with the best mean ``metric`` over the folds.
        best_score: That mean.
        best_estimator: A clone with ``best_params``, refitted on all of ``data`` (None
            with ``refit=False``).
    """

    results: pd.DataFrame
    best_params: Dict[str, Any]
    best_score: float
    best_estimator: Optional[Any] = None


def grid_search(estimator, data: MovieData, param_grid: Union[Mapping, Sequence[Mapping]], *,
                split: str = "temporal", validation_size: float = 0.2, folds: int = 1,
                metric: str = "watched_recall@10", seed: int = 0,
                refit: bool = True) -> SearchResult:
    """Try every setting of ``param_grid`` on validation cuts of ``data``.

    Args:
        estimator: An unfitted :class:`~kerasrec.Recommender` (any registered model).
        data: The *training* data; validation ratings are cut from it, never from a
            test file.
        param_grid: As scikit-learn's (a dict of lists, or a list of them); keys are
            ``Recommender`` parameters: ``model``, ``seed``, ``train`` or model options.
        split: ``"temporal"`` (each user's latest ``validation_size`` held out: "what
            comes next") or ``"random"``.
        validation_size: Share of the ratings held out per fold.
        folds: Validation cuts; the random split draws a new one per fold (seeds
            ``seed``, ``seed + 1``, ...), the temporal split has one cut.
        metric: A key of :meth:`Recommender.evaluate` (``rmse`` and ``mae`` are
            minimised, everything else maximised).
        seed: Seed of the random cuts.
        refit: Refit the best setting on all of ``data``.

    Returns:
        A :class:`SearchResult`.

    Raises:
        ArgumentError: For an estimator that is not a Recommender, data that is not a
            MovieData, an unknown split, a temporal split with several folds, a metric
            ``evaluate`` does not report, an empty grid or one scikit-learn cannot read.
    """
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    from kerasrec.recommend import Recommender

    if not isinstance(estimator, Recommender):
        raise ArgumentError(f"estimator must be an unfitted kerasrec.Recommender, got "
                            f"{type(estimator).__name__}")
    require_movie_data(data, "data")
    if split not in SEARCH_SPLITS:
        raise ArgumentError(f"split must be one of {SEARCH_SPLITS}, got {split!r}")
    check_fraction(validation_size, "validation_size")
    whole_number(folds, "folds")
    whole_number(seed, "seed", 0)
    true_or_false(refit, "refit")
    if split == "temporal" and folds > 1:
        raise ArgumentError("the temporal split has one validation cut; use folds=1")
    names = evaluation_names()
    if metric not in names:
        raise ArgumentError(f"evaluate reports no {metric!r}; choose from {names}")
    try:
        grid = list(ParameterGrid(param_grid))
    except TypeError as error:  # e.g. {"dim": 64} for {"dim": [64]}; scikit-learn says so
        raise ArgumentError(f"param_grid: {error}") from None
    if not grid:
        raise ArgumentError("param_grid holds no setting")
    for params in grid:  # unknown names and values fail here, before any training
        clone(estimator).set_params(**params)

    cuts = [temporal_split(data.ratings, validation_size) if split == "temporal"
            else random_split(data.ratings, validation_size, seed + fold)
            for fold in range(folds)]
    rows = []
    for number, params in enumerate(grid):
        for fold, (train, validation) in enumerate(cuts):
            candidate = clone(estimator).set_params(**params)
            start = time.perf_counter()
            candidate.fit(data.with_ratings(train))
            seconds = time.perf_counter() - start
            scores = candidate.evaluate(validation)
            if scores[metric] is None:  # a re-ranking figure no validation user has
                raise ArgumentError(f"{metric!r} is undefined on this validation cut "
                                    f"(too few validation ratings per user); choose "
                                    f"another metric, e.g. 'watched_recall@10'")
            rows.append({"setting": number, **{f"param_{k}": v for k, v in params.items()},
                         "fold": fold, metric: scores[metric],
                         **{k: v for k, v in scores.items() if k != metric},
                         "fit_seconds": round(seconds, 2)})
    results = pd.DataFrame(rows)
    means = results.groupby("setting")[metric].mean()
    best = int(means.idxmin() if metric in LOWER_IS_BETTER else means.idxmax())
    best_params = grid[best]
    best_estimator = clone(estimator).set_params(**best_params).fit(data) if refit else None
    return SearchResult(results, best_params, float(means[best]), best_estimator)


__all__ = ["SearchResult", "grid_search"]
