"""Accuracy of one model on the shared 80/20 split, scored by the shared scorer.

Usage:
    python benchmarks/accuracy.py --model hybrid
    python benchmarks/accuracy.py --model NAME [--seed 0] [--out DIR]

Trains on ../shared/data/splits/movies_random80_train.csv with product features from
../shared/data/data_movies.xlsx (Keras models pick their best epoch on a random 10% of
the training file; the test file is never looked at before prediction), predicts
movies_random80_test.csv, writes DIR/predictions_NAME.csv and prints the JSON of
../shared/bench/score_predictions.py as its last line. A line before it gives the
training time. Models: every registered one (``kerasrec.models.model_names()``), each
trained through ``Recommender`` with its own training defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, ROOT, SCORER, SPLITS, emit, missing_real_data  # noqa: E402

import numpy as np  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec.models import model_class, model_names  # noqa: E402


def train_and_predict(name: str, data: kr.MovieData, train, test, seed: int):
    """Fit model ``name`` on ``train`` and return (test predictions in stars, info)."""
    start = time.perf_counter()
    rec = kr.Recommender(name, seed=seed, train=model_class(name).train_config(seed=seed))
    rec.fit(data.with_ratings(train))
    info = {"train_seconds": round(time.perf_counter() - start, 2)}
    watched = f"val_{rec.train.monitor}" if rec.train is not None else None
    if watched in rec.history_:
        info.update(best_epoch=int(np.argmin(rec.history_[watched])) + 1,
                    epochs_run=len(rec.history_["loss"]))
    return rec.predict(test), info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        choices=model_names())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out"))
    args = parser.parse_args(argv)
    if missing_real_data():
        return 2
    data = kr.load_movies(REAL_XLSX)
    train = kr.load_ratings(SPLITS / "movies_random80_train.csv")
    test = kr.load_ratings(SPLITS / "movies_random80_test.csv")
    stars, info = train_and_predict(args.model, data, train, test, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"predictions_{args.model}.csv"
    test.assign(prediction=np.clip(stars, 0.5, 5.0))[
        ["userId", "movieId", "rating", "prediction"]].to_csv(path, index=False)
    print(json.dumps({"model": args.model, **info}))
    scored = subprocess.run([sys.executable, str(SCORER), str(path), "--test",
                             str(SPLITS / "movies_random80_test.csv")],
                            check=True, capture_output=True, text=True)
    emit(json.loads(scored.stdout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
