"""The co-watch part's choices, measured: how EASE^R's weights are kept sparse, what
weighting recent movies does, and what the "after" weights (what people rate next) add.

Usage:
    python benchmarks/co_watch.py

On each shared split: EASE^R (l2 200) fitted on the training file, lists of 10 over the
whole catalog (seen movies excluded), watched recall@10 on the test file, with every
weight kept, with ``400 x movies`` weights kept by one threshold over the whole matrix
(what :func:`kerasrec.models.hybrid.co_watch.fit_co_watch` keeps), and with the top 400
of each movie's row. Then, on a temporal validation cut of the temporal training file
(each user's latest 10%; the test file is not read), recall@10 for recency half-lives
0, 5 and 20 (:func:`~kerasrec.models.hybrid.co_watch.co_watch_scores`).

Then, on each split, the co-watch part alone as the hybrid chooses it: the half-life
and the weight of the "after" weights (window 10) are chosen on a validation cut of
the training file (each user's latest 10% on the temporal split, a random 10% on the
random one), the weights refitted on the whole training file, and the test file
scored; once with EASE^R's weights alone and once with the after weights, for movies
with at least 1 and at least 3 training ratings (``co_watch_min_ratings``), with the
seconds each fit takes. Prints one JSON object last.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SPLITS, emit, missing_real_data  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec.models.baselines import rated_matrix  # noqa: E402
from kerasrec.models.ease import ease_weights  # noqa: E402
from kerasrec.models.hybrid.co_watch import (AFTER_WEIGHTS, HALF_LIVES,  # noqa: E402
                                             co_watch_scores, co_watch_weights, fit_co_watch,
                                             sparse_co_watch)
from kerasrec.models.hybrid.recent import sorted_history, whole_history  # noqa: E402

L2, POOL = 200.0, 400


def recall(scores: np.ndarray, train: pd.DataFrame, test: pd.DataFrame, users, items) -> float:
    """Mean watched recall@10 over test users seen in training (denominator: their test
    ratings, at most 10), seen movies excluded."""
    scores = np.array(scores, np.float64)
    u, i = users.get_indexer(train["userId"]), items.get_indexer(train["movieId"])
    scores[u, i] = -np.inf
    scores[:, 0] = -np.inf
    test = test[test["userId"].isin(users)]
    tu, ti = users.get_indexer(test["userId"]), items.get_indexer(test["movieId"])
    truth = sp.csr_matrix((np.ones((ti >= 0).sum()), (tu[ti >= 0], ti[ti >= 0])),
                          shape=scores.shape)
    wanted = np.bincount(tu, minlength=len(users))
    top = np.argpartition(-scores, 9, axis=1)[:, :10]
    hits = np.asarray(truth[np.arange(len(users))[:, None], top].sum(axis=1)).ravel()
    mine = wanted > 0
    return round(float(np.mean(hits[mine] / np.minimum(wanted[mine], 10))), 4)


def indices(train: pd.DataFrame):
    """Index 0 is left free (unknown), as in the package."""
    users = pd.Index(np.append(-1, np.unique(train["userId"])))
    items = pd.Index(np.append(-1, np.unique(train["movieId"])))
    return users, items, users.get_indexer(train["userId"]), items.get_indexer(train["movieId"])


def pruning(split: str) -> dict:
    train = pd.read_csv(SPLITS / f"movies_{split}80_train.csv")
    test = pd.read_csv(SPLITS / f"movies_{split}80_test.csv")
    users, items, u, i = indices(train)
    rated = rated_matrix(u, i, (len(users), len(items)))
    full = ease_weights(rated, L2)
    per_row = np.argpartition(-np.abs(full), POOL, axis=1)[:, :POOL]
    rows = np.zeros_like(full)
    np.put_along_axis(rows, per_row, np.take_along_axis(full, per_row, axis=1), axis=1)
    offsets, columns, strengths = fit_co_watch(u, i, len(items), L2, POOL * len(items),
                                               10 ** 6)
    kept = sp.csr_matrix((strengths[:offsets[-1]], columns[:offsets[-1]], offsets),
                         shape=full.shape)
    return {"every weight": recall(rated @ full, train, test, users, items),
            f"{POOL} per movie, one threshold": recall((rated @ kept).toarray(), train,
                                                       test, users, items),
            f"top {POOL} of each row": recall(rated @ rows, train, test, users, items)}


def history(frame: pd.DataFrame, users, items):
    """Each user's rated movies with their ages (ratings since), for co_watch_scores."""
    u, i = users.get_indexer(frame["userId"]), items.get_indexer(frame["movieId"])
    keys, sorted_items, _ = sorted_history(u, i, frame["timestamp"], np.zeros(len(u)))
    owner, positions, ages = whole_history(keys, np.arange(len(users)),
                                           np.full(len(users), -1))
    return owner, sorted_items[positions], ages


def recency() -> dict:
    ratings = kr.load_ratings(SPLITS / "movies_temporal80_train.csv")
    fit, held = kr.temporal_split(ratings, 0.1)
    users, items, u, i = indices(fit)
    weights = fit_co_watch(u, i, len(items), L2, POOL * len(items), 10 ** 6)
    rated = history(fit, users, items)
    return {f"half-life {h:g}": recall(co_watch_scores(*rated, weights, h, len(users)),
                                       fit, held, users, items) for h in (0.0, 5.0, 20.0)}


def after_weights(split: str, min_ratings: int, window: int = 10) -> dict:
    """Choose (half-life, after weight) on the validation cut, then score the test file,
    with and without the after weights."""
    train = kr.load_ratings(SPLITS / f"movies_{split}80_train.csv")
    test = kr.load_ratings(SPLITS / f"movies_{split}80_test.csv")
    fit, held = (kr.temporal_split(train, 0.1) if split == "temporal"
                 else kr.random_split(train, 0.1, seed=0))
    users, items, u, i = indices(fit)
    budget = POOL * len(items)
    start = time.perf_counter()
    covered, together, after = co_watch_weights(u, i, len(items), L2, 10 ** 6, min_ratings,
                                                fit["timestamp"].to_numpy(), window)
    seconds = time.perf_counter() - start
    sparse = [sparse_co_watch(covered, w, len(items), budget) for w in (together, after)]
    tried = {}
    rated = history(fit, users, items)
    for h in HALF_LIVES:
        alone, next_ = (co_watch_scores(*rated, w, h, len(users)) for w in sparse)
        unit = float(np.std(alone) / np.std(next_))
        for a in AFTER_WEIGHTS:
            tried[(h, a * unit)] = recall(alone + a * unit * next_, fit, held, users, items)
    result = {"fit seconds (validation part, both weights)": round(seconds, 1)}
    users, items, u, i = indices(train)
    rated = history(train, users, items)
    for name, keys in (("EASE^R alone", [k for k in tried if k[1] == 0]),
                       ("with after weights", list(tried))):
        h, a = max(keys, key=tried.get)
        weights = fit_co_watch(u, i, len(items), L2, POOL * len(items), 10 ** 6,
                               min_ratings=min_ratings, timestamps=train["timestamp"],
                               window=window, after_weight=a)
        result[name] = {"half_life": h, "after_weight": round(a, 4),
                        "validation recall@10": tried[(h, a)],
                        "test recall@10": recall(co_watch_scores(*rated, weights, h, len(users)),
                                                 train, test, users, items)}
    return result


def main() -> int:
    if missing_real_data():
        return 2
    result = {"l2": L2, "pool": POOL}
    for split in ("random", "temporal"):
        result[f"{split} test recall@10"] = pruning(split)
        print(split, result[f"{split} test recall@10"], flush=True)
    result["temporal validation recall@10"] = recency()
    print("recency", result["temporal validation recall@10"], flush=True)
    for split in ("temporal", "random"):
        for min_ratings in (1, 3):
            key = f"{split}, co-watch alone, min_ratings {min_ratings}"
            result[key] = after_weights(split, min_ratings)
            print(key, result[key], flush=True)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
