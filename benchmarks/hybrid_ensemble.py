"""Validation experiment: seed-averaged hybrids, alone and blended with item-KNN.

Usage:
    python benchmarks/hybrid_ensemble.py [--seeds 3] [--weights 0.2 0.3]

Uses only ../shared/data/splits/movies_random80_train.csv: a random 10% of it is the
validation set (seed 1), the rest trains. The test file is not read. Prints RMSE of
each single hybrid, of their running mean, and of the mean blended with item-KNN,
then one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, SPLITS, emit  # noqa: E402

import numpy as np  # noqa: E402

import kerasrec as kr  # noqa: E402


def _rmse(pred, truth) -> float:
    return float(np.sqrt(np.mean((np.clip(pred, 0.5, 5.0) - truth) ** 2)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.2, 0.3])
    args = parser.parse_args(argv)
    from kerasrec import training
    from kerasrec.models import build_baseline, build_model

    data = kr.load_movies(REAL_XLSX)
    fit_part, val = kr.random_split(kr.load_ratings(SPLITS / "movies_random80_train.csv"),
                                    0.1, seed=1)
    pipeline = kr.FeaturePipeline().fit(data.with_ratings(fit_part))
    x, v = pipeline.transform(fit_part), pipeline.transform(val)
    truth = val["rating"].to_numpy()
    result, preds = {"single": [], "mean": []}, []
    for seed in range(args.seeds):
        model = build_model("hybrid", pipeline, x, seed=seed)
        training.fit(model, x, x["rating"], validation=(v, v["rating"]),
                     config=training.TrainConfig(verbose=0, seed=seed))
        preds.append(pipeline.to_stars(training.predict(model, v)))
        result["single"].append(round(_rmse(preds[-1], truth), 4))
        result["mean"].append(round(_rmse(np.mean(preds, axis=0), truth), 4))
        print(f"seed {seed}: single {result['single'][-1]}, mean so far {result['mean'][-1]}")
    knn = build_baseline("item_knn").fit(fit_part, data.products).predict(val)
    result["item_knn"] = round(_rmse(knn, truth), 4)
    for w in args.weights:
        result[f"blend_knn_{w:g}"] = round(_rmse((1 - w) * np.mean(preds, axis=0) + w * knn,
                                                 truth), 4)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
