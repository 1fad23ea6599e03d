"""How much of what comes next each part of the hybrid's lists knows, on a temporal cut.

Usage:
    python benchmarks/sequence_signal.py [--seed 0]

Uses only ../shared/data/splits/movies_temporal80_train.csv: each user's latest 10% is
held out (as ``hybrid_ablation.py --split temporal`` does), the default hybrid is fitted
on the rest, and each held-out user's top 10 over the whole catalog (movies rated in
training excluded) is ranked by one part of what lists rank by at a time:

* ``pooled``: the retrieval tower's pooled history, ``q_u . v_i + b_i``;
* ``recent``: the sequence branch's vector alone, ``r_u . v_i + b_i``;
* ``pooled + recent``: the two as lists add them (``recent_weight``);
* ``co-watch``: the co-watch part alone (EASE^R's and the "after" weights, each rated
  movie weighted by ``0.5 ** (age / half_life)``);
* the sums, and the lists ``Recommender.recommend_many`` makes (which rerank by stars).

Then the co-watch part alone with other weights per rated movie, to see whether a
learned weighting over the recent movies (what the sequence branch's attention could
add) has room: other half-lives, the movie's rating (liked movies weigh more),
coherence (movies like the user's recent ones weigh more: ``exp(lam * cos(v_j,
recent centroid))``) and time (movies rated within h hours of the user's latest weigh
more: what a time-gap embedding could read), each times the half-life the fit chose;
and half-lives in hours instead of ratings. Last, the three parts plus a hand-made
"era popularity" (each movie's log count of training ratings within 30, 90 or 365
days of the user's latest rating), what eras in the branch could learn; and a
hand-made "history-position popularity" (each movie's log count among every user's
n-th to (1 + share) n-th ratings, n the user's own count: what people rate at the
point of their history this user is about to reach). Prints watched recall@10 per line
and a JSON object of every figure last.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, hybrid_on_temporal_cut, missing_real_data  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from kerasrec import metrics  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if missing_real_data():
        return 2
    data, fit, val, users, rec = hybrid_on_temporal_cut(args.seed)
    b, pipeline = rec.model_.backbone, rec.model_.pipeline
    rows = pipeline.user_index(users)

    # Each user's training ratings, oldest first, with their age (ratings since).
    mine = fit[fit["userId"].isin(users)].sort_values(["userId", "timestamp"], kind="stable")
    owner = pd.Index(users).get_indexer(mine["userId"])
    rated = pipeline.item_index(mine["movieId"].to_numpy())
    stars = mine["rating"].to_numpy(np.float64)
    counts = np.bincount(owner, minlength=len(users))
    ages = np.repeat(np.cumsum(counts), counts) - 1 - np.arange(len(owner))
    seen = np.zeros((len(users), pipeline.n_items), bool)
    seen[owner, rated] = True
    seen[:, 0] = True
    movies = np.append(-1, pipeline.item_vocabulary_)

    def recall(scores: np.ndarray) -> float:
        top = np.argpartition(-np.where(seen, -np.inf, scores), 10, axis=1)[:, :10]
        lists = pd.DataFrame({"userId": np.repeat(users, 10),
                              "rank": np.tile(np.arange(1, 11), len(users)),
                              "movieId": movies[top].ravel()})
        return round(metrics.topn_score(lists, val, fit, ks=(10,))["watched_recall@10"], 4)

    vectors = np.asarray(b.catalog_scores.item_vectors(), np.float32)
    bias = np.asarray(b.catalog_scores.item_bias.numpy(), np.float32)
    pooled = np.asarray(b.query_model()(rows.astype(np.int32)), np.float32)
    recent = b.recent_vectors(rows)
    co_watch = b.co_watch_weight * b.co_watch_scores(rows)
    neural = (pooled + b.recent_weight * recent) @ vectors.T + bias
    parts = {"pooled": pooled @ vectors.T + bias, "recent": recent @ vectors.T + bias,
             "pooled + recent": neural, "co-watch": co_watch,
             "pooled + co-watch": pooled @ vectors.T + bias + co_watch,
             "pooled + recent + co-watch": neural + co_watch}
    result = {"chosen": {k: v for k, v in rec.model_.chosen.items() if not k.startswith("val_")},
              "parts": {}, "co_watch_weighting": {}}
    for name, scores in parts.items():
        result["parts"][name] = recall(scores)
        print(f"{name:34s} watched recall@10 {result['parts'][name]:.4f}", flush=True)
    lists = rec.recommend_many(users, k=10)
    result["parts"]["lists (with the stars)"] = round(
        metrics.topn_score(lists, val, fit, ks=(10,))["watched_recall@10"], 4)
    print(f"{'lists (with the stars)':34s} watched recall@10 "
          f"{result['parts']['lists (with the stars)']:.4f}", flush=True)

    offsets, columns, strengths = (np.asarray(t) for t in b.co_watch.csr())
    weights = sp.csr_matrix((strengths, columns, offsets),
                            shape=(pipeline.n_items, pipeline.n_items))
    # The re-weightings multiply the decay the fit chose, so they are compared with it.
    chosen = float(b.co_watch_half_life)
    decay = 0.5 ** (ages / chosen) if chosen else np.ones(len(ages))
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    centroid = np.asarray(sp.csr_matrix((decay, (owner, rated)), shape=seen.shape) @ unit)
    centroid /= np.maximum(np.linalg.norm(centroid, axis=1, keepdims=True), 1e-9)
    coherence = np.sum(unit[rated] * centroid[owner], axis=1)
    variants = {f"half-life {h}": 0.5 ** (ages / h) for h in (3, 5, 8, 12)}
    base = f"half-life {chosen:g}"
    variants[f"{base}, x rating / 4"] = decay * stars / 4
    variants[f"{base}, x (1 if rating >= 3.5 else 0.5)"] = decay * np.where(stars >= 3.5, 1.0, 0.5)
    for lam in (0.5, 1.0, 2.0, 4.0):
        variants[f"{base}, x exp({lam:g} x coherence)"] = decay * np.exp(lam * coherence)
    # Time instead of count: hours before the user's latest rating (same sitting or not).
    times = mine["timestamp"].to_numpy(np.int64)
    latest = np.zeros(len(users), np.int64)
    np.maximum.at(latest, owner, times)
    hours = (latest[owner] - times) / 3600.0
    for h in (1, 24, 168):
        variants[f"{base}, x (1 if within {h} h of the latest else 0.3)"] = decay * np.where(
            hours <= h, 1.0, 0.3)
        variants[f"time half-life {h} h (no count decay)"] = 0.5 ** (hours / h)
    for name, weight in variants.items():
        per_user = sp.csr_matrix((weight, (owner, rated)), shape=seen.shape)
        result["co_watch_weighting"][name] = recall(np.asarray((per_user @ weights).todense()))
        print(f"co-watch alone, {name:44s} {result['co_watch_weighting'][name]:.4f}",
              flush=True)

    # What everyone watched around the user's latest time: each movie's log count of
    # training ratings within +-days of it, added to pooled + recent + co-watch (the
    # era popularity a learned era embedding could carry, made by hand).
    both = neural + co_watch
    spread = float(np.std(both[~seen]))

    def log_counts(items: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Each user's log count of every movie in ``items[lo[u]:hi[u]]``, unit spread."""
        sizes = hi - lo
        at = np.repeat(lo - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
        near = sp.csr_matrix((np.ones(len(at)), (np.repeat(np.arange(len(users)), sizes),
                                                 items[at])), shape=seen.shape)
        popularity = np.log1p(np.asarray(near.todense()))
        return popularity / max(float(popularity.std()), 1e-9)

    result["era_popularity"] = {}
    by_time = fit.sort_values("timestamp", kind="stable")
    all_times = by_time["timestamp"].to_numpy(np.int64)
    all_items = pipeline.item_index(by_time["movieId"].to_numpy())
    for days in (30, 90, 365):
        popularity = log_counts(all_items, np.searchsorted(all_times, latest - days * 86400),
                                np.searchsorted(all_times, latest + days * 86400, "right"))
        for lam in (0.1, 0.3):
            name = f"+ {lam:g} x era popularity, +-{days} days"
            result["era_popularity"][name] = recall(both + lam * spread * popularity)
            print(f"pooled + recent + co-watch {name:34s} {result['era_popularity'][name]:.4f}",
                  flush=True)

    # What other users rated at the point of their history this user is about to reach:
    # each movie's log count among everyone's n-th to ((1 + share) n)-th ratings, n this
    # user's count (user time rather than calendar time).
    result["history_position_popularity"] = {}
    everyone = fit.sort_values(["userId", "timestamp"], kind="stable")
    position = everyone.groupby("userId").cumcount().to_numpy()
    by_position = np.argsort(position, kind="stable")
    position = position[by_position]
    items = pipeline.item_index(everyone["movieId"].to_numpy())[by_position]
    for share in (0.12, 0.25, 0.5):
        popularity = log_counts(items, np.searchsorted(position, counts), np.searchsorted(
            position, np.ceil(counts * (1 + share)).astype(int), "right"))
        alone = f"alone, positions n to {1 + share:g} n"
        result["history_position_popularity"][alone] = recall(popularity)
        for lam in (0.1, 0.3):
            name = f"pooled + recent + co-watch + {lam:g} x it, n to {1 + share:g} n"
            result["history_position_popularity"][name] = recall(
                both + lam * spread * popularity)
        for name in list(result["history_position_popularity"])[-3:]:
            print(f"history-position popularity, {name:50s} "
                  f"{result['history_position_popularity'][name]:.4f}", flush=True)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
