"""Scale: generated MovieLens-25M-shaped data -> features -> one training epoch.

Usage:
    python benchmarks/scale.py --rows 25000000 [--batch-size 16384] [--optimizer lazy_adam]
                                               [--no-train]

Streams ``--rows`` ratings in MovieLens-25M proportions (about 6.5 users and 2.4 movies
per thousand ratings: 162k users and 59k movies at 25M) to Parquet with
``kerasrec.data.write_sample``; then, in a fresh process so its memory is its own,
reads them back (``load_movies``: pyarrow, a chunk at a time), fits the feature
pipeline and transforms the ratings to ids, context and scaled ratings (item features
stay a table inside the model), and trains the four-branch hybrid for one epoch on
99% of the ratings, scoring the held-out 1% in stars. The extensions that read every
training rating at build time (neighbourhoods, SVD++ history, session biases) are
switched off: the four branches and the biases remain.

Prints one JSON object as its last line: rows, users, movies, generate_seconds,
load_seconds, feature_seconds (fit + transform), load_and_feature_seconds,
peak_rss_mb (after features), batch_size, optimizer, epoch_seconds, rows_per_second,
median_step_ms, slowest_step_seconds, epoch_loss, holdout_rmse and mean_rmse (stars; predicting the mean rating),
peak_rss_train_mb.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, peak_rss_mb  # noqa: E402

SCALE_HYBRID = dict(ids_only=True, neighbours=(), user_history=False, session_bias=False,
                    retrieval=False)


def shape(rows: int) -> tuple:
    """Users and movies for ``rows`` ratings, in MovieLens-25M proportions."""
    return max(100, rows * 65 // 10_000), max(200, rows * 24 // 10_000)


def generate(rows: int, folder: Path) -> float:
    from kerasrec.data import write_sample

    start = time.perf_counter()
    write_sample(folder, *shape(rows), rows, seed=0)
    return time.perf_counter() - start


def measure(folder: str, batch_size: int, optimizer: str, learning_rate: float,
            train: bool) -> dict:
    import numpy as np

    import kerasrec as kr

    start = time.perf_counter()
    data = kr.load_movies(folder)
    loaded = time.perf_counter()
    pipeline = kr.FeaturePipeline().fit(data)
    x = pipeline.transform(data.ratings, item_features=False)
    done = time.perf_counter()
    result = {"rows": len(x["user_id"]), "users": pipeline.n_users - 1,
              "movies": pipeline.n_items - 1, "load_seconds": round(loaded - start, 2),
              "feature_seconds": round(done - loaded, 2),
              "load_and_feature_seconds": round(done - start, 2),
              "peak_rss_mb": round(peak_rss_mb(), 1)}
    movies = data.ratings["movieId"].to_numpy()
    stars = data.ratings["rating"].to_numpy()
    del data
    if not train:
        return result
    from kerasrec.models import build_model
    from kerasrec.optimizers import get_optimizer
    from kerasrec.training import make_dataset, model_inputs, predict, validation_cut

    fit_rows, held = validation_cut(len(stars), 0.01, seed=0)
    model = build_model("hybrid", pipeline, x, seed=0, **SCALE_HYBRID)
    model.compile(optimizer=get_optimizer(optimizer, learning_rate), loss="mse")
    inputs = {k: v[fit_rows] for k, v in model_inputs(model, x).items()}
    dataset = make_dataset(inputs, x["rating"][fit_rows], batch_size=batch_size, shuffle=True)
    # The first steps trace the graph; time one full epoch after a short warm-up.
    model.fit(dataset.take(3), epochs=1, verbose=0)
    steps = _StepTimes()
    start = time.perf_counter()
    history = model.fit(dataset, epochs=1, verbose=0, callbacks=[steps])
    seconds = time.perf_counter() - start
    gaps = np.diff([start, *steps.ends])
    predicted = pipeline.to_stars(predict(model, {k: v[held] for k, v in x.items()}),
                                  movies[held])
    mean = stars[fit_rows].mean()
    result.update({"batch_size": batch_size, "optimizer": optimizer,
                   "learning_rate": learning_rate, "epoch_seconds": round(seconds, 1),
                   "rows_per_second": round(len(fit_rows) / seconds),
                   # TensorFlow sometimes stalls for seconds at an epoch's first step.
                   "median_step_ms": round(float(np.median(gaps)) * 1000, 1),
                   "slowest_step_seconds": round(float(gaps.max()), 2),
                   "epoch_loss": round(float(history.history["loss"][-1]), 4),
                   # the MSE of predicting the mean: what one epoch must beat
                   "target_variance": round(float(x["rating"].var()), 4),
                   "holdout_rmse": round(float(np.sqrt(np.mean((predicted - stars[held]) ** 2))), 4),
                   "mean_rmse": round(float(np.sqrt(np.mean((mean - stars[held]) ** 2))), 4),
                   "peak_rss_train_mb": round(peak_rss_mb(), 1)})
    return result


def _StepTimes():
    import keras

    class StepTimes(keras.callbacks.Callback):
        """When each training step ended."""

        def __init__(self) -> None:
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None) -> None:
            self.ends.append(time.perf_counter())

    return StepTimes()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--optimizer", choices=("adam", "lazy_adam"), default="lazy_adam")
    parser.add_argument("--learning-rate", type=float, default=4e-3)
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--data", help=argparse.SUPPRESS)  # child process: measure only
    args = parser.parse_args(argv)
    if args.data:
        emit(measure(args.data, args.batch_size, args.optimizer, args.learning_rate,
                     not args.no_train))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ratings"
        generate_seconds = generate(args.rows, folder)
        command = [sys.executable, __file__, "--data", str(folder), "--batch-size",
                   str(args.batch_size), "--optimizer", args.optimizer, "--learning-rate",
                   str(args.learning_rate)] + (["--no-train"] if args.no_train else [])
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-3000:])
            return done.returncode
    result = json.loads(done.stdout.strip().splitlines()[-1])
    emit({"generate_seconds": round(generate_seconds, 1), **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
