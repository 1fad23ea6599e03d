"""Accuracy and ranking metrics for rating predictions, in stars.

Every function takes plain arrays or a frame with ``userId``, ``movieId``, ``rating``
(the truth) and ``prediction``. Ranking metrics rank each user's *test* items by
prediction, ties broken by ``movieId``; :func:`score` gives the same numbers as the
project's shared scorer (``score_predictions.py``) under the same names.
"""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, Optional, Tuple

import numpy as np
import pandas as pd

_COLUMNS = ("userId", "movieId", "rating", "prediction")


def rmse(truth, prediction, rating_range: Optional[Tuple[float, float]] = (0.5, 5.0)) -> float:
    """Root mean squared error; predictions are clipped to ``rating_range`` first."""
    truth, prediction = _pair(truth, prediction, rating_range)
    return float(np.sqrt(np.mean((truth - prediction) ** 2)))


def mae(truth, prediction, rating_range: Optional[Tuple[float, float]] = (0.5, 5.0)) -> float:
    """Mean absolute error; predictions are clipped to ``rating_range`` first."""
    truth, prediction = _pair(truth, prediction, rating_range)
    return float(np.mean(np.abs(truth - prediction)))


def _pair(truth, prediction, rating_range):
    truth = np.asarray(truth, dtype=float)
    prediction = np.asarray(prediction, dtype=float)
    if truth.shape != prediction.shape or truth.ndim != 1 or not len(truth):
        raise ValueError(f"truth and prediction must be 1-d and the same non-zero length, got "
                         f"{truth.shape} and {prediction.shape}")
    if np.isnan(prediction).any():
        raise ValueError("predictions contain NaN")
    if rating_range is not None:
        prediction = np.clip(prediction, *rating_range)
    return truth, prediction


def _users(frame: pd.DataFrame) -> Iterator[Tuple[object, np.ndarray, np.ndarray, np.ndarray]]:
    """(userId, movieIds, truth, prediction) per user, each user's rows by movieId."""
    missing = set(_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks column(s) {sorted(missing)}; needs {list(_COLUMNS)}")
    d = frame.sort_values(["userId", "movieId"], kind="stable")
    users = d["userId"].to_numpy()
    cuts = np.flatnonzero(users[1:] != users[:-1]) + 1
    movies = np.split(d["movieId"].to_numpy(), cuts)
    truth = np.split(d["rating"].to_numpy(float), cuts)
    pred = np.split(d["prediction"].to_numpy(float), cuts)
    for k, start in enumerate(np.concatenate([[0], cuts])):
        yield users[start], movies[k], truth[k], pred[k]


def _by_prediction(prediction):
    """Order of a user's items by prediction, best first, ties by movieId (rows sorted)."""
    return np.lexsort((np.arange(len(prediction)), -prediction))


def ndcg(truth: np.ndarray, prediction: np.ndarray, k: int = 10) -> float:
    """NDCG@k of one user's items: gain = true rating, ideal = items by true rating."""
    order = np.lexsort((np.arange(len(prediction)), -np.asarray(prediction)))[:k]
    truth = np.asarray(truth, float)
    ideal = np.sort(truth)[::-1][:k]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    idcg = float(np.sum(ideal * discount[:len(ideal)]))
    return float(np.sum(truth[order] * discount[:len(order)])) / idcg if idcg > 0 else 0.0


def top_k_checks(movies: np.ndarray, truth: np.ndarray, prediction: np.ndarray,
                 k: int = 5) -> Tuple[float, float, float]:
    """The article's per-user check of the k best items by truth (A) vs by prediction (B).

    Returns:
        ``(overlap, position_accuracy, mrr)``: ``|A & B| / k``, the share of the k slots
        holding the same movie, and the mean over A of 1 / (rank in B), 0 if absent.
        Ties are broken by movieId.
    """
    movies = np.asarray(movies)
    a = movies[np.lexsort((movies, -np.asarray(truth)))][:k]
    b = list(movies[np.lexsort((movies, -np.asarray(prediction)))][:k])
    overlap = len(set(a) & set(b)) / k
    position = float(np.mean(a == np.array(b)))
    mrr = float(np.mean([1.0 / (b.index(x) + 1) if x in b else 0.0 for x in a]))
    return overlap, position, mrr


def per_user_report(frame: pd.DataFrame, k: int = 10, relevant: float = 4.0) -> pd.DataFrame:
    """One row per user: test items, RMSE, MAE and ranking metrics at ``k``.

    ``relevant`` is the true rating from which a movie counts as a hit (precision,
    recall, MAP, hit rate, MRR). Ranking columns are NaN for users with fewer than
    ``k`` test items (NDCG) or no relevant item (recall, MAP, MRR).
    """
    rows = []
    for user, movies, truth, pred in _users(frame):
        order = _by_prediction(pred)
        hits = truth[order] >= relevant
        n_relevant = int(hits.sum())
        top = hits[:k]
        precisions = np.cumsum(top) / np.arange(1, len(top) + 1)
        first = int(np.argmax(hits)) if n_relevant else -1
        rows.append({
            "userId": user, "n_items": len(movies), "n_relevant": n_relevant,
            "rmse": float(np.sqrt(np.mean((truth - pred) ** 2))),
            "mae": float(np.mean(np.abs(truth - pred))),
            f"ndcg@{k}": ndcg(truth, pred, k) if len(movies) >= k else np.nan,
            f"precision@{k}": float(top.sum() / k),
            f"recall@{k}": float(top.sum() / n_relevant) if n_relevant else np.nan,
            f"map@{k}": (float(np.sum(precisions * top) / min(n_relevant, k))
                         if n_relevant else np.nan),
            f"hit_rate@{k}": float(top.any()),
            "mrr": 1.0 / (first + 1) if n_relevant else np.nan,
        })
    return pd.DataFrame(rows).set_index("userId")


def catalog_coverage(recommended: Iterable, catalog_size: int) -> float:
    """Share of the catalog that appears in at least one recommendation list."""
    if catalog_size <= 0:
        raise ValueError("catalog_size must be positive")
    return len(set(np.asarray(list(recommended)).ravel().tolist())) / catalog_size


def score(frame: pd.DataFrame, k: int = 10, relevant: float = 4.0,
          rating_range: Tuple[float, float] = (0.5, 5.0)) -> Dict[str, Optional[float]]:
    """All metrics of a predictions frame, as one dict.

    Includes the shared scorer's keys with its definitions (``rmse``, ``mae``,
    ``ndcg@10``, ``top5_overlap``, ``top5_position_accuracy``, ``top5_mrr``,
    ``n_rows``, ``n_users_ranked``), plus precision, recall, MAP and hit rate at
    ``k`` and MRR (relevance: true rating >= ``relevant``), averaged over users.

    Raises:
        ValueError: If a column is missing, a prediction is NaN or a pair repeats.
    """
    if frame.duplicated(["userId", "movieId"]).any():
        raise ValueError("predictions repeat a (userId, movieId) pair")
    frame = frame.assign(prediction=np.clip(frame["prediction"].to_numpy(float), *rating_range))
    out: Dict[str, Optional[float]] = {
        "n_rows": int(len(frame)),
        "rmse": rmse(frame["rating"], frame["prediction"], rating_range),
        "mae": mae(frame["rating"], frame["prediction"], rating_range),
    }
    ndcgs, checks = [], []
    for _, movies, truth, pred in _users(frame):
        if len(movies) >= 10:
            ndcgs.append(ndcg(truth, pred, 10))
        if len(movies) >= 5:
            checks.append(top_k_checks(movies, truth, pred, 5))
    out["ndcg@10"] = float(np.mean(ndcgs)) if ndcgs else None
    for name, values in zip(("top5_overlap", "top5_position_accuracy", "top5_mrr"),
                            zip(*checks) if checks else ((), (), ())):
        out[name] = float(np.mean(values)) if values else None
    out["n_users_ranked"] = len(ndcgs)
    report = per_user_report(frame, k, relevant)
    for column in (f"precision@{k}", f"recall@{k}", f"map@{k}", f"hit_rate@{k}", "mrr"):
        values = report[column].dropna()
        out[column] = float(values.mean()) if len(values) else None
    return out
