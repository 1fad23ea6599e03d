"""Accuracy and ranking metrics for rating predictions, in stars.

Every function takes plain arrays or a frame with ``userId``, ``movieId``, ``rating``
(the truth) and ``prediction``. Ranking metrics rank each user's *test* items by
prediction, ties broken by ``movieId``; :func:`score` gives the same numbers as the
project's shared scorer (``score_predictions.py``) under the same names.
"""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import pandas as pd

from kerasrec.errors import ArgumentError

_COLUMNS = ("userId", "movieId", "rating", "prediction")
#: A movie counts as liked from this share of the top of the rating scale: 4 stars of 5,
#: 8 of 10.
LIKED_SHARE = 0.8


def liked_threshold(rating_range: Tuple[float, float]) -> float:
    """The rating from which a movie counts as liked on a scale: ``0.8 * high`` (4.0 on
    MovieLens' 0.5-5 stars and on 1-5, 8.0 on 1-10); ``high`` on a scale that does not
    go above zero.

    Example:
        >>> liked_threshold((1, 10))
        8.0
    """
    high = float(rating_range[1])
    return LIKED_SHARE * high if high > 0 else high


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
        raise ArgumentError(f"truth and prediction must be 1-d and the same non-zero length, got "
                         f"{truth.shape} and {prediction.shape}")
    if np.isnan(prediction).any():
        raise ArgumentError("predictions contain NaN")
    if rating_range is not None:
        prediction = np.clip(prediction, *rating_range)
    return truth, prediction


def _need(frame, columns: Tuple[str, ...], name: str) -> None:
    """Refuse ``frame`` unless it is a DataFrame with ``columns``, naming it."""
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"{name} must be a DataFrame with columns {list(columns)}, got "
                            f"{type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ArgumentError(f"{name} lacks column(s) {missing}; needs {list(columns)}, has "
                            f"{[str(c) for c in frame.columns]}")


def _users(frame: pd.DataFrame) -> Iterator[Tuple[object, np.ndarray, np.ndarray, np.ndarray]]:
    """(userId, movieIds, truth, prediction) per user, each user's rows by movieId."""
    _need(frame, _COLUMNS, "frame")
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
        raise ArgumentError("catalog_size must be positive")
    return len(set(np.asarray(list(recommended)).ravel().tolist())) / catalog_size


def score(frame: pd.DataFrame, k: int = 10, relevant: float = 4.0,
          rating_range: Tuple[float, float] = (0.5, 5.0)) -> Dict[str, Optional[float]]:
    """All metrics of a predictions frame, as one dict.

    ``rmse``, ``mae`` and ``n_rows`` are the shared scorer's. Every ranking figure here
    only re-orders each user's own test movies (a dozen, most of them liked), so it is
    named ``rerank_...`` and says little about the lists people see — those are
    :func:`topn_score`'s. They are the shared scorer's ``ndcg@10``, ``top5_overlap``,
    ``top5_position_accuracy`` and ``top5_mrr`` (as ``rerank_ndcg@10``, ...), and
    precision, recall, MAP and hit rate at ``k`` and MRR (relevance: true rating >=
    ``relevant``), averaged over users; ``n_users_ranked`` counts the users with ten
    test movies.

    Raises:
        ArgumentError: If a column is missing, a prediction is NaN or a pair repeats.
    """
    _need(frame, _COLUMNS, "frame")
    if frame.duplicated(["userId", "movieId"]).any():
        raise ArgumentError("predictions repeat a (userId, movieId) pair")
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
    out["rerank_ndcg@10"] = float(np.mean(ndcgs)) if ndcgs else None
    for name, values in zip(("top5_overlap", "top5_position_accuracy", "top5_mrr"),
                            zip(*checks) if checks else ((), (), ())):
        out[f"rerank_{name}"] = float(np.mean(values)) if values else None
    out["n_users_ranked"] = len(ndcgs)
    report = per_user_report(frame, k, relevant)
    for column in (f"precision@{k}", f"recall@{k}", f"map@{k}", f"hit_rate@{k}", "mrr"):
        values = report[column].dropna()
        out[f"rerank_{column}"] = float(values.mean()) if len(values) else None
    return out


def evaluation_names(k: int = 10, lists: bool = True) -> List[str]:
    """The names of the figures ``Recommender.evaluate(test, k, lists=lists)`` reports,
    known before anything is trained (read off :func:`score` and :func:`topn_score` on
    one made-up user, so they cannot drift apart).

    Example:
        >>> "watched_recall@10" in evaluation_names()
        True
    """
    frame = pd.DataFrame({"userId": [1, 1], "movieId": [1, 2], "rating": [4.0, 2.0],
                          "prediction": [4.0, 2.0]})
    names = list(score(frame, k=k))
    if lists:
        top = pd.DataFrame({"userId": [1], "rank": [1], "movieId": [1]})
        names += list(topn_score(top, frame, frame.iloc[:0], ks=(k,)))
    return names


def topn_score(lists: pd.DataFrame, test: pd.DataFrame, train: pd.DataFrame,
               ks: Tuple[int, ...] = (10, 20), liked: float = 4.0) -> Dict[str, float]:
    """Score top-N lists over the whole catalog, as ``../shared/bench/score_topn.py`` does.

    Every test user who also appears in ``train`` is scored; a user without a list
    scores zero. *Watched* relevance is every movie the user rated in ``test``; *liked*
    is those rated at least ``liked`` (users with none are skipped).
    ``recall@K = hits / min(|relevant|, K)``; NDCG@K is binary with the ideal over
    ``min(|relevant|, K)``; ``hit@K`` the share of users with a hit; ``coverage@10``
    the distinct movies in the top 10s; ``novelty@10`` the mean training-rating count
    of the recommended top-10 movies.

    Args:
        lists: userId, rank (1 = best), movieId: up to K rows per user.
        test: Held-out ratings (userId, movieId, rating).
        train: Training ratings (userId, movieId).
        ks: Cut-offs.
        liked: Rating from which a test movie counts as liked.

    Returns:
        ``watched_recall@K``, ``watched_ndcg@K``, ``watched_hit@K``, ``liked_recall@K``,
        ``liked_ndcg@K`` for each K, ``coverage@10``, ``novelty@10``, ``n_users``,
        ``n_users_liked``.

    Raises:
        ArgumentError: If a list lacks a column, repeats a movie, or recommends a movie
            the user rated in training.
    """
    _need(lists, ("userId", "rank", "movieId"), "lists")
    _need(test, ("userId", "movieId", "rating"), "test")
    _need(train, ("userId", "movieId"), "train")
    if lists.duplicated(["userId", "movieId"]).any():
        raise ArgumentError("a movie appears twice in one user's list")
    seen = pd.MultiIndex.from_frame(train[["userId", "movieId"]])
    rated = pd.MultiIndex.from_frame(lists[["userId", "movieId"]]).isin(seen)
    if rated.any():
        raise ArgumentError(f"{int(rated.sum())} recommended movies were already rated in training")
    ordered = lists.sort_values(["userId", "rank"], kind="stable")
    test = test[test["userId"].isin(pd.unique(train["userId"]))]
    out: Dict[str, float] = {"n_users": int(test["userId"].nunique()),
                             "n_users_liked": int(test.loc[test["rating"] >= liked,
                                                           "userId"].nunique())}
    position = ordered.groupby("userId").cumcount().to_numpy()
    for k in ks:
        top = ordered[position < k]
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        for name, relevant in (("watched", test), ("liked", test[test["rating"] >= liked])):
            hits = top.merge(relevant[["userId", "movieId"]], on=["userId", "movieId"])
            rank_in_list = hits.merge(top.assign(pos=position[position < k]),
                                      on=["userId", "movieId"])[["userId", "pos"]]
            n_relevant = np.minimum(relevant.groupby("userId").size(), k)
            gains = pd.Series(discount[rank_in_list["pos"].to_numpy()],
                              index=rank_in_list["userId"].to_numpy()).groupby(level=0).sum()
            n_hits = rank_in_list.groupby("userId").size()
            ideal = pd.Series(np.cumsum(discount)[n_relevant.to_numpy() - 1], n_relevant.index)
            recall = (n_hits.reindex(n_relevant.index, fill_value=0) / n_relevant)
            ndcg = gains.reindex(n_relevant.index, fill_value=0.0) / ideal
            out[f"{name}_recall@{k}"] = float(recall.mean()) if len(recall) else 0.0
            out[f"{name}_ndcg@{k}"] = float(ndcg.mean()) if len(ndcg) else 0.0
            if name == "watched":
                out[f"watched_hit@{k}"] = float((n_hits.reindex(n_relevant.index,
                                                                fill_value=0) > 0).mean())
    top10 = ordered[position < 10]
    counts = train["movieId"].value_counts()
    out["coverage@10"] = int(top10["movieId"].nunique())
    out["novelty@10"] = float(top10["movieId"].map(counts).fillna(0).mean()) if len(top10) else 0.0
    return out
