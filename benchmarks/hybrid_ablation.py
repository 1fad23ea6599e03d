"""Validation ablation of the hybrid: the default, then each part switched off.

Usage:
    python benchmarks/hybrid_ablation.py [--split random|temporal] [--seed 0]
                                         [--holdout 0.1]
                                         [--only default no_history_attention ...]

Uses only ../shared/data/splits/movies_{random,temporal}80_train.csv. The validation
set is cut from it the way the split's test set was cut from the whole: a random 10%
(seed 1) for ``random``, each user's latest 10% for ``temporal`` (``--holdout 0.2``:
20%, the test files' share, so a part is judged as far ahead as the test reaches; the
fit's own cut stays 10%). The rest trains
(``Recommender.fit``, with its usual inner 10% for early stopping and the blend). The
test file is not read: this is how the defaults were chosen. Prints one line per
variant (validation RMSE, validation watched/liked recall@10 over the whole catalog,
fit seconds) and a JSON object of every figure as its last line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, emit, missing_real_data, validation_cut  # noqa: E402

import numpy as np  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import metrics  # noqa: E402
from kerasrec.models.hybrid import Hybrid  # noqa: E402

VARIANTS = {
    "default": {},
    "no_history_attention": {"history_attention": False},
    "history_shared": {"history_training": "shared"},
    "history_joint": {"history_training": "joint"},
    "history_length_50": {"history_length": 50},
    "history_length_100": {"history_length": 100},
    "history_dim_128": {"history_dim": 128},
    "history_eras_0": {"history_eras": 0},
    "history_eras_8": {"history_eras": 8},
    "history_eras_128": {"history_eras": 128},
    "sequence_tower": {"pooled_history": False},
    "sequence_tower_rows_64": {"pooled_history": False, "history_rows": 64},
    "no_co_watch": {"co_watch": False},
    "bag_of_movies": {"history_attention": False, "co_watch_recency": False,
                      "co_watch_window": 0},
    "no_co_watch_no_history_attention": {"co_watch": False, "history_attention": False},
    "retrieval_dim_64": {"retrieval_dim": 64},
    "co_watch_l2_400": {"co_watch_l2": 400.0},
    "patience_2": {"train": {"patience": 2}},
    "batch_1024": {"train": {"batch_size": 1024}},
    "batch_1024_lr_4e-3": {"train": {"batch_size": 1024, "learning_rate": 4e-3}},
    "patience_3": {"train": {"patience": 3}},
    "in_batch_negatives": {"retrieval_negatives": "in_batch"},
    # Training settings (TrainConfig fields) go under "train".
    "catch_up": {"train": {"catch_up": True}},
    "no_catch_up": {"train": {"catch_up": False}},
    "retrieval_weight_0.2": {"retrieval_weight": 0.2},
    "retrieval_weight_0.01": {"retrieval_weight": 0.01},
    "no_retrieval": {"retrieval": False},
    "no_neighbours": {"neighbours": ()},
    "item_neighbours_only": {"neighbours": ("item",)},
    "no_session_bias": {"session_bias": False},
    "no_recent_stars": {"recent_stars": False},
    "recent_stars_length_5": {"recent_stars_length": 5},
    "recent_stars_length_20": {"recent_stars_length": 20},
    "recent_stars_no_fade": {"recent_stars_fade": False},
    "no_movie_bias_refit": {"movie_bias_refit": False},
    "no_user_history": {"user_history": False},
    "no_feature_factors": {"feature_factors": False},
    "no_mlp": {"mlp": False},
    "no_item_features": {"item_features": False},
    "no_context": {"context": False},
    "article_four_branches": {"neighbours": (), "session_bias": False, "user_history": False,
                              "feature_factors": False, "retrieval": False},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("random", "temporal"), default="random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args(argv)
    if missing_real_data():
        return 2
    data = kr.load_movies(REAL_XLSX)
    fit_part, val, users = validation_cut(args.split, args.holdout)
    result = {}
    for name in args.only:
        start = time.perf_counter()
        # The fit's own cut (best epoch, blend weights) is made the same way.
        options = dict(VARIANTS[name])
        train_config = Hybrid.train_config(
            seed=args.seed, validation_cut="temporal" if args.split == "temporal" else None,
            **options.pop("train", {}))
        rec = kr.Recommender("hybrid", seed=args.seed, verbose=0, train=train_config, **options)
        rec.fit(data.with_ratings(fit_part))
        seconds = time.perf_counter() - start
        stars = rec.predict(val)
        lists = rec.recommend_many(users, k=10)
        topn = metrics.topn_score(lists, val, fit_part, ks=(10,))
        result[name] = {"val_rmse": round(float(np.sqrt(np.mean((stars - val["rating"]) ** 2))), 4),
                        "chosen": {k: v for k, v in rec.model_.chosen.items()
                                   if not k.startswith("val_")},
                        "val_watched_recall@10": round(topn["watched_recall@10"], 4),
                        "val_liked_recall@10": round(topn["liked_recall@10"], 4),
                        "fit_seconds": round(seconds, 1),
                        "epochs": len(rec.history_.get("loss", []))}
        r = result[name]
        print(f"{name:24s} val RMSE {r['val_rmse']:.4f}  watched recall@10 "
              f"{r['val_watched_recall@10']:.4f}  liked {r['val_liked_recall@10']:.4f}  "
              f"({r['fit_seconds']:.1f} s, {r['epochs']} epochs)", flush=True)
    emit({"split": args.split, "holdout": args.holdout, "results": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
