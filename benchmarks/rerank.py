"""Retrieve, then rerank: how often the two-stage top 10 is the exhaustive top 10.

Usage:
    python benchmarks/rerank.py [--run RUN_DIR | --data FILE] [--users 200]
                                [--candidates 50 100 200 400] [--split random|temporal]

Fits the default hybrid on the training file of ``../shared`` (``--split``; the bundled
sample when it is missing), or loads a saved Recommender (``--run``). For ``--users``
random training users it ranks the whole catalog by the model's relevance
(``RecModel.relevance``: the first stage plus the blend of the stars, every movie
scored; seen movies excluded) and compares the exhaustive top 10 with the two-stage
one (``kerasrec.rerank``: stars for the first stage's best ``--candidates`` only).
Prints, per candidate count, the share of the exhaustive top-10 movies that the
two-stage list holds, and the share of users whose lists are identical; one JSON
object as the last line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default=None)
    parser.add_argument("--data", default=None)
    parser.add_argument("--split", choices=("random", "temporal"), default="temporal")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--candidates", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import numpy as np

    from _common import REAL_XLSX, SPLITS, emit

    import kerasrec as kr
    from kerasrec.rerank import best_columns, rerank

    start = time.perf_counter()
    if args.run:
        rec = kr.Recommender.load(args.run)
        source = args.run
    else:
        from kerasrec.models import model_class

        train_file = SPLITS / f"movies_{args.split}80_train.csv"
        if args.data:
            data, source = kr.load_movies(args.data), args.data
        elif REAL_XLSX.is_file() and train_file.is_file():
            data = kr.load_movies(REAL_XLSX).with_ratings(kr.load_ratings(train_file))
            source = f"{train_file.name}"
        else:
            data, source = kr.load_sample(), "bundled sample"
        cut = "temporal" if args.split == "temporal" else None
        rec = kr.Recommender(seed=args.seed, train=model_class("hybrid").train_config(
            seed=args.seed, validation_cut=cut)).fit(data)
    fit_seconds = time.perf_counter() - start
    table = rec.score_table()
    if table.stars_weight is None:
        raise SystemExit("this model ranks in one stage; nothing to compare")
    rng = np.random.default_rng(args.seed)
    rows = np.sort(rng.choice(np.arange(1, len(table.user_ids) + 1),
                              min(args.users, len(table.user_ids)), replace=False))
    flags, stamps = np.zeros((len(rows), 2)), np.full(len(rows), -1)
    stars = table.users_scores(rows, flags, stamps, clip=False)
    allowed = rec.catalog_.allowed(rows)
    first = table.relevance[rows].astype(np.float64)
    exhaustive = best_columns(np.where(allowed, first + table.stars_weight * stars, -np.inf), 10)
    result = {"data": source, "users": len(rows), "stars_weight": table.stars_weight,
              "fit_or_load_seconds": round(fit_seconds, 1)}
    for c in args.candidates:
        two_stage, _, _ = rerank(first, allowed, lambda pool: np.take_along_axis(stars, pool, 1),
                              10, 1.0, table.stars_weight, c)
        held = [len(set(a) & set(b)) / 10 for a, b in zip(two_stage, exhaustive)]
        result[f"top10_overlap_at_{c}"] = round(float(np.mean(held)), 4)
        result[f"identical_lists_at_{c}"] = round(float(np.mean(np.equal(held, 1.0))), 4)
        print(f"candidates {c:4d}: overlap {np.mean(held):.4f}", flush=True)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
