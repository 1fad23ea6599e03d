"""Experiment (not built in): a wider grid for the sequence branch's weight in lists.

Usage:
    python benchmarks/experiments/recent_weight_grid.py [--seed 0]
                                                       [--wide 0 0.5 1 1.5 2 3 4]

Validation chooses the branch's weight in lists (``recent_weight``) from
:data:`kerasrec.models.hybrid.list_weights.RECENT_WEIGHTS` (0, 0.5, 1); on the temporal cut it
chooses 1, the top of that grid. This fits the default hybrid twice on
../shared/data/splits/movies_temporal80_train.csv less each user's latest 10% (as
``hybrid_ablation.py --split temporal`` does; the test file is not read), once with the
default grid and once with ``--wide``, and prints for each: the weight chosen, the best
recall@10 of the fit's own inner cut per weight, and watched / liked recall@10 on the
held-out 10%. A JSON object of the same is the last line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import (REAL_XLSX, emit, missing_real_data, temporal_hybrid,  # noqa: E402
                     validation_cut)

import kerasrec as kr  # noqa: E402
from kerasrec import metrics  # noqa: E402
from kerasrec.models.hybrid import list_weights  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wide", type=float, nargs="+", default=[0, 0.5, 1, 1.5, 2, 3, 4])
    args = parser.parse_args(argv)
    if missing_real_data():
        return 2
    data = kr.load_movies(REAL_XLSX)
    fit_part, val, users = validation_cut("temporal")
    grids = {"default": list_weights.RECENT_WEIGHTS, "wide": tuple(args.wide)}
    result = {}
    try:
        for name, grid in grids.items():
            list_weights.RECENT_WEIGHTS = grid  # read by choose_list_weights
            start = time.perf_counter()
            rec = temporal_hybrid(data, fit_part, args.seed)
            topn = metrics.topn_score(rec.recommend_many(users, k=10), val, fit_part, ks=(10,))
            tried = rec.model_.chosen["val_recall@10_by_blend_recent_co_watch_half_life_after"]
            inner = {}
            for key, recall in tried.items():
                weight = float(key.split(",")[1])
                inner[weight] = max(inner.get(weight, 0.0), recall)
            result[name] = {"grid": list(grid), "chosen": rec.model_.chosen["recent_weight"],
                            "inner_recall@10_by_weight": {f"{w:g}": round(r, 4)
                                                          for w, r in sorted(inner.items())},
                            "val_watched_recall@10": round(topn["watched_recall@10"], 4),
                            "val_liked_recall@10": round(topn["liked_recall@10"], 4),
                            "fit_seconds": round(time.perf_counter() - start, 1)}
            print(name, result[name], flush=True)
    finally:
        list_weights.RECENT_WEIGHTS = grids["default"]
    emit({"split": "temporal", "seed": args.seed, "results": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
