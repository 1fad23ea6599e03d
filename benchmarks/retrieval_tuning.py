"""Choose the hybrid's retrieval settings on validation data cut from the training file.

Usage:
    python benchmarks/retrieval_tuning.py [--split temporal] [--grid retrieval_weight=0.05,0.2,1]
                                          [--grid retrieval_dim=32,64]

Holds out each user's last 10% of the *training* file's ratings by time (the temporal
protocol inside the training data; the test file is never read), trains the hybrid on
the rest for every combination of the grid, and scores each one's top-10 lists over
the whole catalog (kerasrec.metrics.topn_score) and its RMSE on the held-out ratings.
Prints one JSON line per setting and the best setting by watched recall@10 last.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, emit, missing_real_data, split_file  # noqa: E402

import numpy as np  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import metrics  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("temporal", "random"), default="temporal")
    parser.add_argument("--grid", action="append", default=[],
                        help="OPTION=v1,v2,... (JSON values); repeat for more options")
    parser.add_argument("--model", default="hybrid", help="a registered model, e.g. ease as "
                        "the reference (with --grid l2=...)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if missing_real_data():
        return 2
    grid = {}
    for item in args.grid or (["retrieval_weight=0.05,0.2,1.0"] if args.model == "hybrid" else []):
        key, _, values = item.partition("=")
        grid[key] = [json.loads(v) for v in values.split(",")]
    data = kr.load_movies(REAL_XLSX)
    train = kr.load_ratings(split_file(args.split))
    fit, valid = kr.temporal_split(train, 0.1)
    users = np.intersect1d(valid["userId"].unique(), fit["userId"].unique())
    results = []
    for values in itertools.product(*grid.values()):
        options = dict(zip(grid, values))
        start = time.perf_counter()
        rec = kr.Recommender(args.model, seed=args.seed, **options).fit(data.with_ratings(fit))
        seconds = time.perf_counter() - start
        scores = metrics.topn_score(rec.recommend_many(users, k=10), valid, fit, ks=(10,))
        stars = rec.predict(valid)
        result = {"model": args.model, **options, "fit_seconds": round(seconds, 1),
                  "val_rmse": float(np.sqrt(np.mean((stars - valid["rating"]) ** 2))),
                  **{k: scores[k] for k in ("watched_recall@10", "watched_ndcg@10",
                                            "liked_recall@10", "coverage@10")}}
        results.append(result)
        print(json.dumps(result), flush=True)
    emit({"best": max(results, key=lambda r: r["watched_recall@10"]), "split": args.split})
    return 0


if __name__ == "__main__":
    sys.exit(main())
