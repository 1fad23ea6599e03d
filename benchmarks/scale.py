"""Scale: generated MovieLens-25M-shaped data -> features -> one training epoch -> export.

Usage:
    python benchmarks/scale.py --rows 25000000 [--parts default|core] [--save DIR]
                               [--batch-size 16384] [--optimizer lazy_adam] [--no-train]
                               [--set FIELD=VALUE ...] [--profile DIR] [--steps N]

Streams ``--rows`` ratings in MovieLens-25M proportions (about 6.5 users and 2.4 movies
per thousand ratings: 162k users and 59k movies at 25M) to Parquet with
``kerasrec.data.write_sample``; then, in a fresh process so its memory is its own,
reads them back (``load_movies``: pyarrow, a chunk at a time) and fits the feature
pipeline (load and feature seconds). Then, as a user would, it fits a
``Recommender`` on 99% of the ratings for one epoch (``TrainConfig(epochs=1,
batch_size=16384, optimizer="lazy_adam")``), scores the held-out 1% in stars and
exports the SavedModel (``export_saved_model``: two stages, no users x movies
table).

``--parts default`` is the default hybrid: every part it keeps at this size
(``kerasrec.models.hybrid.budget`` switches off, with a warning each, the parts whose
measured cost is too high; the warnings are printed). ``--parts core`` is the
article's four branches and the biases alone. ``--save DIR`` keeps the fitted
Recommender, for ``benchmarks/serving.py --run DIR`` and ``benchmarks/rerank.py --run
DIR``. ``--set neighbour_pool=50`` (repeatable) sets a ``HybridConfig`` field, to
compare a setting at scale. ``--profile DIR`` writes a ``tf.profiler`` trace of
steps 200-215 to DIR, when the epoch has them (3.5M ratings at batch 16,384; open it
with TensorBoard's profile plugin, or read its ``*.xplane.pb``): where a step's time
goes, op by op. Traced steps run slower, and the epoch's seconds include them.
``--steps N`` stops the epoch after N steps (the held-out RMSE and export then come
from a partly trained model) and reports the median of steps 20 to N: a step's cost in
a few minutes, to compare settings or commits.

Prints one JSON object as its last line: rows, users, movies, generate_seconds,
load_seconds, feature_seconds, peak_rss_mb (after features), parts_switched_off,
build_seconds (from ``fit`` to the first step: features of the training rows, the
neighbour search, sessions), neighbour_search_seconds, epoch_seconds, steps,
rows_per_second, median_step_ms, slowest_step_seconds, holdout_rmse and mean_rmse
(stars; predicting the mean rating), export_seconds, export_mb, peak_rss_train_mb (the
whole run).
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
from _common import emit, folder_mb, peak_rss_mb  # noqa: E402

#: The article's four branches and the biases alone (``--parts core``).
CORE_HYBRID = dict(ids_only=True, neighbours=(), user_history=False, session_bias=False,
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
            train: bool, parts: str = "default", save=None, settings=None,
            profile=None, max_steps=None) -> dict:
    import warnings

    import numpy as np

    import kerasrec as kr

    start = time.perf_counter()
    data = kr.load_movies(folder)
    loaded = time.perf_counter()
    pipeline = kr.FeaturePipeline().fit(data)
    done = time.perf_counter()
    result = {"rows": len(data.ratings), "users": pipeline.n_users - 1,
              "movies": pipeline.n_items - 1, "load_seconds": round(loaded - start, 2),
              "feature_seconds": round(done - loaded, 2),
              "load_and_feature_seconds": round(done - start, 2),
              "peak_rss_mb": round(peak_rss_mb(), 1)}
    if not train:
        return result
    from kerasrec.errors import ScaleWarning
    from kerasrec.export import export_saved_model
    from kerasrec.training import TrainConfig

    fit, held = kr.random_split(data.ratings, 0.01, seed=0)
    data = data.with_ratings(fit)
    steps = _StepTimes(profile, max_steps)
    config = TrainConfig(epochs=1, batch_size=batch_size, optimizer=optimizer,
                         learning_rate=learning_rate, validation_fraction=0.0, verbose=0,
                         callbacks=[steps])
    options = {**(CORE_HYBRID if parts == "core" else {}), **(settings or {})}
    rec = kr.Recommender("hybrid", train=config, seed=0, **options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScaleWarning)
        start = time.perf_counter()
        rec.fit(data)
        fitted = time.perf_counter()
    switched = [str(w.message) for w in caught if issubclass(w.category, ScaleWarning)]
    for message in switched:
        print(message, file=sys.stderr, flush=True)
    del data
    gaps = np.diff([steps.begin, *steps.ends])
    timed = gaps[WARM_UP_STEPS:] if max_steps else gaps  # the first steps trace and warm up
    predicted = rec.predict(held)
    stars = held["rating"].to_numpy()
    mean = fit["rating"].mean()
    start_export = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_saved_model(rec, Path(tmp) / "served")
        export_seconds = time.perf_counter() - start_export
        export_mb = folder_mb(exported)
    if save:
        rec.save(save)
    c = rec.model_.config
    result.update({
        "parts": parts, "settings": settings or {}, "parts_switched_off": switched,
        "parts_on": {"neighbours": list(c.neighbours), "user_history": c.user_history,
                     "session_bias": c.session_bias, "retrieval": c.retrieval,
                     "mlp": c.mlp, "item_features": c.item_features, "context": c.context},
        "batch_size": batch_size, "optimizer": optimizer, "learning_rate": learning_rate,
        "build_seconds": round(steps.begin - start, 1),
        "neighbour_search_seconds": round(getattr(rec.model_.backbone, "build_timings", {}).get("neighbours", 0.0), 1),
        "epoch_seconds": round(steps.end - steps.begin, 1),
        "fit_seconds": round(fitted - start, 1),
        "steps": len(gaps),
        "rows_per_second": round(min(len(fit), len(gaps) * batch_size)
                                 / (steps.end - steps.begin)),
        # TensorFlow sometimes stalls for seconds at an epoch's first step.
        "median_step_ms": round(float(np.median(timed)) * 1000, 1),
        "slowest_step_seconds": round(float(gaps.max()), 2),
        "holdout_rmse": round(float(np.sqrt(np.mean((predicted - stars) ** 2))), 4),
        "mean_rmse": round(float(np.sqrt(np.mean((mean - stars) ** 2))), 4),
        "export_seconds": round(export_seconds, 1), "export_mb": round(export_mb, 1),
        "peak_rss_train_mb": round(peak_rss_mb(), 1)})
    # With a retrieval tower, what validation chose for the lists, and its recall@10
    # for each choice tried (keys: blend, recent, co-watch, half-life, after weight).
    result["list_weights_chosen"] = getattr(rec.model_, "chosen", {})
    return result


#: The steps ``--profile`` traces: well past the first, whose tracing would dominate.
PROFILED_STEPS = (200, 215)
#: Steps left out of ``--steps``' median.
WARM_UP_STEPS = 20


def _StepTimes(profile=None, max_steps=None):
    import keras

    class StepTimes(keras.callbacks.Callback):
        """When training began, each step ended and training ended; with ``profile``,
        a ``tf.profiler`` trace of :data:`PROFILED_STEPS` written there; with
        ``max_steps``, training stopped after that many steps."""

        def __init__(self) -> None:
            super().__init__()
            self.ends = []
            self.begin = self.end = None

        def on_train_begin(self, logs=None) -> None:
            self.begin = time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None) -> None:
            if profile and batch == PROFILED_STEPS[0] and self.end is None:
                import tensorflow as tf

                tf.profiler.experimental.start(str(profile))

        def on_train_batch_end(self, batch, logs=None) -> None:
            self.ends.append(time.perf_counter())
            if profile and batch == PROFILED_STEPS[1] and self.end is None:
                import tensorflow as tf

                tf.profiler.experimental.stop()
            if max_steps and len(self.ends) >= max_steps and self.end is None:
                self.model.stop_training = True

        def on_train_end(self, logs=None) -> None:
            if self.end is None:  # the first fit is the epoch; later ones are not
                self.end = time.perf_counter()

    return StepTimes()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--optimizer", choices=("adam", "lazy_adam"), default="lazy_adam")
    parser.add_argument("--learning-rate", type=float, default=4e-3)
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--parts", choices=("default", "core"), default="default")
    parser.add_argument("--save", default=None, help="keep the fitted Recommender here")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a HybridConfig field, e.g. neighbour_pool=50 (a JSON value)")
    parser.add_argument("--profile", default=None, metavar="DIR",
                        help="write a tf.profiler trace of steps 200-215 here")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="stop the epoch after N steps (median of steps 20 to N)")
    parser.add_argument("--data", help=argparse.SUPPRESS)  # child process: measure only
    args = parser.parse_args(argv)
    settings = {}
    for item in args.set:
        field, _, value = item.partition("=")
        try:
            settings[field] = json.loads(value)
        except json.JSONDecodeError:
            settings[field] = value
    if args.data:
        emit(measure(args.data, args.batch_size, args.optimizer, args.learning_rate,
                     not args.no_train, args.parts, args.save, settings, args.profile,
                     args.steps))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ratings"
        generate_seconds = generate(args.rows, folder)
        command = [sys.executable, __file__, "--data", str(folder), "--batch-size",
                   str(args.batch_size), "--optimizer", args.optimizer, "--learning-rate",
                   str(args.learning_rate), "--parts", args.parts] + (
                       ["--no-train"] if args.no_train else []) + (
                       ["--save", str(Path(args.save).resolve())] if args.save else []) + (
                       ["--profile", str(Path(args.profile).resolve())] if args.profile
                       else []) + (["--steps", str(args.steps)] if args.steps else []) + [
                       f"--set={item}" for item in args.set]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            return done.returncode
    result = json.loads(done.stdout.strip().splitlines()[-1])
    emit({"generate_seconds": round(generate_seconds, 1), **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
