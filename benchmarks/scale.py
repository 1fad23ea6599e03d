"""Scale: generated MovieLens-25M-shaped data -> features -> one training epoch.

Usage:
    python benchmarks/scale.py --rows 1000000 [--batch-size 65536] [--no-train]

Generates ``--rows`` ratings with ``kerasrec.make_sample`` in MovieLens-25M proportions
(about 6.5 users and 2.4 movies per thousand ratings: 162k users and 59k movies at
25M) and writes them as Parquet; then, in a fresh process so its memory is its own,
reads them back (``load_movies``), runs the feature pipeline (``fit_transform``) and
trains the four-branch hybrid for one epoch with the item-feature table inside the
model (``ids_only=True``). The extensions that read every training rating at build
time (neighbourhoods, SVD++ history, session biases) are switched off here: they are
the next scale step.

Prints one JSON object as its last line: rows, users, movies, generate_seconds,
load_seconds, feature_seconds, peak_rss_mb (after features), epoch_seconds, rows_per_second,
batch_size, peak_rss_train_mb.
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

SCALE_HYBRID = dict(ids_only=True, neighbours=(), user_history=False, session_bias=False)


def shape(rows: int) -> tuple:
    """Users and movies for ``rows`` ratings, in MovieLens-25M proportions."""
    return max(100, rows * 65 // 10_000), max(200, rows * 24 // 10_000)


def generate(rows: int, folder: Path) -> float:
    import kerasrec as kr
    from kerasrec.data import write_parquet

    start = time.perf_counter()
    write_parquet(kr.make_sample(*shape(rows), rows, seed=0), folder)
    return time.perf_counter() - start


def measure(folder: str, batch_size: int, train: bool) -> dict:
    import kerasrec as kr

    start = time.perf_counter()
    data = kr.load_movies(folder)
    loaded = time.perf_counter()
    pipeline = kr.FeaturePipeline()
    x = pipeline.fit_transform(data)
    done = time.perf_counter()
    result = {"rows": len(x["user_id"]), "users": pipeline.n_users - 1,
              "movies": pipeline.n_items - 1, "load_seconds": round(loaded - start, 2),
              "feature_seconds": round(done - loaded, 2),
              "load_and_feature_seconds": round(done - start, 2),
              "peak_rss_mb": round(peak_rss_mb(), 1)}
    del data
    if not train:
        return result
    import keras

    from kerasrec.models import build_model
    from kerasrec.training import make_dataset, model_inputs

    model = build_model("hybrid", pipeline, x, seed=0, **SCALE_HYBRID)
    model.compile(optimizer=keras.optimizers.Adam(4e-3), loss="mse")
    inputs = model_inputs(model, x)
    dataset = make_dataset(inputs, x["rating"], batch_size=batch_size, shuffle=True)
    # The first steps trace the graph; time one full epoch after a short warm-up.
    model.fit(dataset.take(3), epochs=1, verbose=0)
    start = time.perf_counter()
    history = model.fit(dataset, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    result.update({"batch_size": batch_size, "epoch_seconds": round(seconds, 1),
                   "rows_per_second": round(result["rows"] / seconds),
                   "epoch_loss": round(float(history.history["loss"][-1]), 4),
                   # the MSE of predicting the mean: what one epoch must beat
                   "target_variance": round(float(x["rating"].var()), 4),
                   "peak_rss_train_mb": round(peak_rss_mb(), 1)})
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=65536)
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--data", help=argparse.SUPPRESS)  # child process: measure only
    args = parser.parse_args(argv)
    if args.data:
        emit(measure(args.data, args.batch_size, not args.no_train))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ratings"
        generate_seconds = generate(args.rows, folder)
        command = [sys.executable, __file__, "--data", str(folder),
                   "--batch-size", str(args.batch_size)] + (["--no-train"] if args.no_train else [])
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-3000:])
            return done.returncode
    result = json.loads(done.stdout.strip().splitlines()[-1])
    emit({"generate_seconds": round(generate_seconds, 1), **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
