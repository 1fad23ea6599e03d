"""Retrieve, then rerank: how often the two-stage top 10 is the exhaustive top 10.

Usage:
    python benchmarks/rerank.py [--run RUN_DIR | --data FILE] [--users 200]
                                [--candidates 50 100 200 400] [--split random|temporal]

Fits the default hybrid on the training file of ``../shared`` (``--split``; the bundled
sample when it is missing), or loads a saved Recommender (``--run``). For ``--users``
random training users it ranks the whole catalog as lists rank it (relevance: the
first stage plus the blend of the stars; or, for a model that ranks by stars, the
stars), every movie scored, no score table, seen movies excluded, and compares the
exhaustive top 10 with the two-stage one (``kerasrec.rerank``: stars for the first
stage's best ``--candidates`` only). ``--run`` takes a Recommender saved at any size
(``benchmarks/scale.py --save``).
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
    import pandas as pd

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
    from kerasrec import scoring

    module = rec.model_.retrieval_module() if rec.model_.supports("retrieval") else None
    if module is None:
        raise SystemExit("this model ranks in one stage; nothing to compare")
    pipeline, catalog = rec.pipeline_, rec.catalog_
    rng = np.random.default_rng(args.seed)
    n_users = len(pipeline.user_vocabulary_)
    rows = np.sort(rng.choice(np.arange(1, n_users + 1), min(args.users, n_users),
                              replace=False)).astype(np.int64)
    # Every movie scored, no table (so it runs at any size): the first stage and the
    # stars of the whole catalog, a few users at a time.
    items = pipeline.item_index(catalog.movie_ids).astype(np.int64)
    every = np.arange(len(items))
    context = pd.DataFrame({"userId": [0], "movieId": [0]})
    start = time.perf_counter()
    first = np.concatenate([np.asarray(module(rows[lo:lo + 20]), np.float64)[:, items]
                            for lo in range(0, len(rows), 20)])
    stars = np.concatenate([scoring.pair_stars(rec.model_, pipeline, catalog, rows[lo:lo + 20],
                                               np.tile(every, (len(rows[lo:lo + 20]), 1)),
                                               context)
                            for lo in range(0, len(rows), 20)])
    allowed = catalog.allowed(rows)
    w1, w2 = module.first_weight, module.stars_weight
    exhaustive = best_columns(np.where(allowed, w1 * first + w2 * stars, -np.inf), 10)
    result = {"data": source, "users": len(rows), "movies": len(items),
              "ranks_by": module.rank_by, "first_weight": w1, "stars_weight": w2,
              "fit_or_load_seconds": round(fit_seconds, 1),
              "exhaustive_seconds": round(time.perf_counter() - start, 1)}
    for c in args.candidates:
        two_stage, _, _ = rerank(first, allowed, lambda pool: np.take_along_axis(stars, pool, 1),
                              10, w1, w2, c)
        held = [len(set(a) & set(b)) / 10 for a, b in zip(two_stage, exhaustive)]
        result[f"top10_overlap_at_{c}"] = round(float(np.mean(held)), 4)
        result[f"identical_lists_at_{c}"] = round(float(np.mean(np.equal(held, 1.0))), 4)
        print(f"candidates {c:4d}: overlap {np.mean(held):.4f}", flush=True)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
