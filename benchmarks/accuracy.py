"""Accuracy of one model on the shared 80/20 split, scored by the shared scorer.

Usage:
    python benchmarks/accuracy.py --model hybrid
    python benchmarks/accuracy.py --model NAME [--seed 0] [--out DIR]

Trains on ../shared/data/splits/movies_random80_train.csv with product features from
../shared/data/data_movies.xlsx (Keras models pick their best epoch on a random 10% of
the training file; the test file is never looked at before prediction), predicts
movies_random80_test.csv, writes DIR/predictions_NAME.csv and prints the JSON of
../shared/bench/score_predictions.py as its last line. A line before it gives the
training time. Models: hybrid, mf, neumf, embedding_mlp, autorec, global_mean,
baseline, content, user_knn, item_knn, svd.
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
from _common import REAL_XLSX, ROOT, SCORER, SPLITS, emit  # noqa: E402

import numpy as np  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec.models.registry import BASELINE_MODELS, KERAS_MODELS  # noqa: E402


def train_and_predict(name: str, data: kr.MovieData, train, test, seed: int):
    """Fit model ``name`` on ``train`` and return (test predictions in stars, info)."""
    start = time.perf_counter()
    if name in BASELINE_MODELS:
        from kerasrec.models import build_baseline

        model = build_baseline(name).fit(train, data.products)
        return model.predict(test), {"train_seconds": round(time.perf_counter() - start, 2)}
    if name == "autorec":
        return _autorec(data, train, test, seed, start)
    from kerasrec import training
    from kerasrec.models import build_model

    pipeline = kr.FeaturePipeline().fit(data.with_ratings(train))
    x = pipeline.transform(train)

    model = build_model(name, pipeline, x, seed=seed)
    history = training.fit(model, x, x["rating"], config=training.TrainConfig(seed=seed))
    seconds = time.perf_counter() - start
    best = int(np.argmin(history.history["val_loss"])) + 1
    stars = pipeline.to_stars(training.predict(model, pipeline.transform(test)))
    return stars, {"train_seconds": round(seconds, 2), "best_epoch": best,
                   "epochs_run": len(history.history["loss"])}


def _autorec(data, train, test, seed, start):
    from kerasrec import training
    from kerasrec.models import build_autorec, rating_matrix

    pipeline = kr.FeaturePipeline(rating_scaling="none").fit(data.with_ratings(train))
    x = pipeline.transform(train)
    shape = (pipeline.n_users, pipeline.n_items)
    # Validation: hide a random 10% of the observed training entries. The masked loss
    # scores a matrix holding only those entries on exactly them.
    fit_idx, val_idx = training.validation_cut(len(x["rating"]), 0.1, seed)
    fit_matrix, val_matrix = (
        rating_matrix(x["user_id"][idx], x["item_id"][idx], x["rating"][idx], *shape)
        for idx in (fit_idx, val_idx))
    model = build_autorec(pipeline.n_users, seed=seed)
    inputs = {"item_ratings": fit_matrix}
    training.fit(model, inputs, fit_matrix, validation=(inputs, val_matrix),
                 config=training.TrainConfig(epochs=100, batch_size=128, seed=seed, verbose=0,
                                             monitor="masked_squared_error"))
    recon = model.predict(rating_matrix(x["user_id"], x["item_id"], x["rating"], *shape),
                          batch_size=4096, verbose=0)
    t = pipeline.transform(test)
    known = (t["user_id"] > 0) & (t["item_id"] > 0)
    stars = np.where(known, recon[t["item_id"], t["user_id"]], float(x["rating"].mean()))
    return stars, {"train_seconds": round(time.perf_counter() - start, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        choices=[*KERAS_MODELS, "autorec", *BASELINE_MODELS])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out"))
    args = parser.parse_args(argv)
    if not REAL_XLSX.is_file():
        print(f"needs {REAL_XLSX} (../shared beside the checkout)", file=sys.stderr)
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
