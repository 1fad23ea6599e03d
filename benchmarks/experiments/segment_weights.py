"""Would list weights chosen per kind of user lift the temporal lists? (experiment)

Usage:
    python benchmarks/experiments/segment_weights.py [--seed 0] [--test]

The hybrid ranks every user's list by ``pooled + recent_weight x recent + co_watch``,
one ``recent_weight`` (the sequence branch's) and one co-watch weight for everyone.
This script fits the default hybrid on the training file with each user's latest 10%
held out (as ``benchmarks/sequence_signal.py`` does), then splits the held-out users
into quarters by a trait known when a list is made (how many ratings they have, over
how many days) and, per quarter, picks the branch's multiple (0, 0.5, 1, 2, 4 x the
chosen weight) and the co-watch part's (0.5, 1, 2 x) that recall most. It prints the
in-sample best (an upper bound) and an honest estimate: the weights chosen on one half
of the users, scored on the other half, both ways round. Recall@10 per user is
``hits / min(held-out movies, 10)``, as ``../shared/bench/score_topn.py`` counts it.
``--test`` then applies the quarters and multiples chosen on the whole cut to the
default hybrid fitted on the whole training file, on the temporal test file's users:
what building per-user weights would have given.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import (SPLITS, emit, hybrid_on_temporal_cut, missing_real_data,  # noqa: E402
                     temporal_hybrid)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import kerasrec as kr  # noqa: E402

RECENT = (0.0, 0.5, 1.0, 2.0, 4.0)
CO_WATCH = (0.5, 1.0, 2.0)


def _parts(rec, fit: pd.DataFrame, held: pd.DataFrame, users: np.ndarray):
    """What the lists of ``users`` rank by, part by part, and what they are scored on."""
    b, pipeline = rec.model_.backbone, rec.model_.pipeline
    rows = pipeline.user_index(users)
    index = pd.Index(users)
    mine = fit[fit["userId"].isin(users)]
    seen = np.zeros((len(users), pipeline.n_items), bool)
    seen[index.get_indexer(mine["userId"]), pipeline.item_index(mine["movieId"].to_numpy())] = 1
    seen[:, 0] = True
    held = held[held["userId"].isin(users)]
    truth = np.zeros_like(seen)
    truth[index.get_indexer(held["userId"]), pipeline.item_index(held["movieId"].to_numpy())] = 1
    truth[:, 0] = False  # a movie the model does not know is never a hit, but it counts below
    wanted = np.minimum(held.groupby("userId").size().reindex(users).to_numpy(), 10)
    vectors = np.asarray(b.catalog_scores.item_vectors(), np.float32)
    bias = np.asarray(b.catalog_scores.item_bias.numpy(), np.float32)
    pooled = np.asarray(b.query_model()(rows.astype(np.int32)), np.float32) @ vectors.T + bias
    recent = b.recent_weight * (b.recent_vectors(rows) @ vectors.T)
    co_watch = b.co_watch_weight * b.co_watch_scores(rows)
    return (pooled, recent, co_watch, seen, truth, wanted), mine


def _recalls(parts):
    """((recent x, co-watch x), each user's recall@10) for every pair of multiples."""
    pooled, recent, co_watch, seen, truth, wanted = parts
    for r, c in itertools.product(RECENT, CO_WATCH):
        scores = np.where(seen, -np.inf, pooled + r * recent + c * co_watch)
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        yield (r, c), np.take_along_axis(truth, top, 1).sum(1) / wanted


def _days(ratings: pd.DataFrame, users: np.ndarray) -> np.ndarray:
    times = ratings.groupby("userId")["timestamp"].agg(["min", "max"]).reindex(users)
    return (times["max"] - times["min"]).to_numpy() / 86400


def _on_test(data, per_user: dict, days: np.ndarray, picks: list, seed: int) -> dict:
    """The quarters' thresholds and multiples as chosen on the validation cut, applied to
    the test users of the temporal split (the first stage's lists, without the rerank)."""
    train = kr.load_ratings(SPLITS / "movies_temporal80_train.csv")
    test = kr.load_ratings(SPLITS / "movies_temporal80_test.csv")
    users = np.intersect1d(test["userId"].unique(), train["userId"].unique())
    parts, _ = _parts(temporal_hybrid(data, train, seed), train, test, users)
    recall = dict(_recalls(parts))
    quarter = np.searchsorted(np.quantile(days, [0.25, 0.5, 0.75]), _days(train, users))
    mixed = np.zeros(len(users))
    for q, pick in enumerate(picks):
        mixed[quarter == q] = recall[tuple(pick)][quarter == q]
    out = {"test: one weight for all": float(recall[(1.0, 1.0)].mean()),
           "test: branch off": float(recall[(0.0, 1.0)].mean()),
           "test: by days, chosen on validation": float(mixed.mean()),
           "test: users": len(users)}
    print("; ".join(f"{k} {v:.4f}" for k, v in out.items() if k != "test: users"), flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test", action="store_true",
                        help="then apply the weights chosen per quarter of days (on every "
                             "held-out user) to a model fitted on the whole training file, "
                             "and score the temporal test file's users")
    args = parser.parse_args(argv)
    if missing_real_data():
        return 2
    data, fit, val, users, rec = hybrid_on_temporal_cut(args.seed)
    parts, mine = _parts(rec, fit, val, users)
    per_user = dict(_recalls(parts))
    result = {"chosen": float(per_user[(1.0, 1.0)].mean()),
              "without the branch": float(per_user[(0.0, 1.0)].mean())}
    print(f"one weight for all (as chosen)  {result['chosen']:.4f}; branch off "
          f"{result['without the branch']:.4f}")

    traits = {"ratings": mine.groupby("userId").size().reindex(users).to_numpy(),
              "days": _days(mine, users)}
    halves = np.random.default_rng(args.seed).permutation(len(users)) % 2
    for trait, values in traits.items():
        quarter = np.searchsorted(np.quantile(values, [0.25, 0.5, 0.75]), values)

        def best(mask):
            return max(per_user, key=lambda key: per_user[key][mask].mean())

        upper, honest = np.zeros(len(users)), np.zeros(len(users))
        picks = []
        for q in range(4):
            mask = quarter == q
            picks.append(best(mask))
            upper[mask] = per_user[picks[-1]][mask]
            for h in (0, 1):  # choose on one half, score the other
                out = mask & (halves != h)
                honest[out] = per_user[best(mask & (halves == h))][out]
        result[f"by {trait}: in-sample best"] = float(upper.mean())
        result[f"by {trait}: chosen on the other half"] = float(honest.mean())
        result[f"by {trait}: picks (recent x, co-watch x) per quarter"] = picks
        print(f"by {trait}: in-sample best {upper.mean():.4f} {picks}; chosen on the "
              f"other half {honest.mean():.4f}", flush=True)
    if args.test:
        result.update(_on_test(data, per_user, traits["days"], result["by days: picks "
                                                                      "(recent x, co-watch x) "
                                                                      "per quarter"], args.seed))
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
