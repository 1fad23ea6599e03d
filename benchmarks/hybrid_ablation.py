"""Validation ablation of the hybrid: the default, then each part switched off.

Usage:
    python benchmarks/hybrid_ablation.py [--seed 0] [--only default no_neighbours ...]

Uses only ../shared/data/splits/movies_random80_train.csv: a random 10% of it (seed 1)
is the validation set, the rest trains (with the usual inner 10% for early stopping).
The test file is not read: this is how the defaults were chosen. Prints one line per
variant and a JSON object of validation RMSEs as its last line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, SPLITS, emit  # noqa: E402

import numpy as np  # noqa: E402

import kerasrec as kr  # noqa: E402

VARIANTS = {
    "default": {},
    "no_neighbours": {"neighbours": ()},
    "item_neighbours_only": {"neighbours": ("item",)},
    "neighbour_pool_50": {"neighbour_pool": 50},
    "no_session_bias": {"session_bias": False},
    "no_user_history": {"user_history": False},
    "no_feature_factors": {"feature_factors": False},
    "no_mlp": {"mlp": False},
    "no_item_features": {"item_features": False},
    "no_context": {"context": False},
    "article_four_branches": {"neighbours": (), "session_bias": False, "user_history": False,
                              "feature_factors": False},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args(argv)
    from kerasrec import training
    from kerasrec.models import build_model

    data = kr.load_movies(REAL_XLSX)
    fit_part, val = kr.random_split(kr.load_ratings(SPLITS / "movies_random80_train.csv"),
                                    0.1, seed=1)
    pipeline = kr.FeaturePipeline().fit(data.with_ratings(fit_part))
    x, v = pipeline.transform(fit_part), pipeline.transform(val)
    truth = val["rating"].to_numpy()
    result = {}
    for name in args.only:
        start = time.perf_counter()
        model = build_model("hybrid", pipeline, x, seed=args.seed, **VARIANTS[name])
        history = training.fit(model, x, x["rating"],
                               config=training.TrainConfig(verbose=0, seed=args.seed))
        stars = np.clip(pipeline.to_stars(training.predict(model, v)), 0.5, 5.0)
        result[name] = round(float(np.sqrt(np.mean((stars - truth) ** 2))), 4)
        print(f"{name:24s} val RMSE {result[name]:.4f}  "
              f"({time.perf_counter() - start:.1f} s, {len(history.history['loss'])} epochs)",
              flush=True)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
