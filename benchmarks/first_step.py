"""Fit time with the training state built before the first step is traced, against
Keras' default.

Usage:
    python benchmarks/first_step.py [--models hybrid mf] [--repeats 3] [--split temporal|random]

Without a distribution strategy Keras 3 creates the optimizer's, the losses' and the
metrics' variables while TensorFlow traces the first train step, and a ``tf.function``
that creates variables on its first call is traced twice. ``kerasrec.training.fit``
builds that state first (``training.build_for_training``). This fits each model both
ways, alternating, each fit in a fresh process (tracing caches are per process): on the
bundled sample by default, or on a shared split's training file (``--split``, needs
``../shared``), with the model's default training settings. Each fit counts how often
the train step was traced and times ``Recommender.fit``. Prints one JSON object last:
per model and way, the traces and the fit seconds of every repeat, and their medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, emit, missing_real_data, split_file  # noqa: E402

WAYS = ("built first", "keras default")


def one_fit(model: str, way: str, split) -> dict:
    """Fit ``model`` once in this process, ``way`` one of :data:`WAYS`."""
    import keras

    import kerasrec as kr
    from kerasrec import training

    if way == "keras default":
        training.build_for_training = lambda model, inputs, target: None
    traced = []
    train_step = keras.Model.train_step

    def counting(self, data):
        traced.append(self.name)
        return train_step(self, data)

    keras.Model.train_step = counting
    if split:
        data = kr.load_movies(REAL_XLSX).with_ratings(kr.load_ratings(split_file(split)))
    else:
        data = kr.load_sample()
    start = time.perf_counter()
    kr.Recommender(model, seed=0, verbose=0).fit(data)
    return {"traces": len(traced), "fit_seconds": round(time.perf_counter() - start, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["hybrid", "mf"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--split", choices=("temporal", "random"))
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # child: model way
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_fit(args.one[0], args.one[1], args.split)))
        return 0
    if args.split and missing_real_data():
        return 1
    runs = {model: {way: [] for way in WAYS} for model in args.models}
    for _ in range(args.repeats):
        for model in args.models:
            for way in WAYS:
                done = subprocess.run(
                    [sys.executable, __file__, "--one", model, way,
                     *(["--split", args.split] if args.split else [])],
                    capture_output=True, text=True, check=True)
                runs[model][way].append(json.loads(done.stdout.strip().splitlines()[-1]))
    result = {"data": f"{args.split} training file" if args.split else "bundled sample",
              "models": {model: {way: {"traces": [r["traces"] for r in rs],
                                       "fit_seconds": [r["fit_seconds"] for r in rs],
                                       "median_fit_seconds": statistics.median(
                                           r["fit_seconds"] for r in rs)}
                                 for way, rs in ways.items()}
                         for model, ways in runs.items()}}
    import kerasrec  # noqa: F401  (its and its libraries' versions go into "environment")

    for model, ways in result["models"].items():
        print(f"{model}: " + "; ".join(f"{way} {w['median_fit_seconds']} s "
                                        f"(traces {w['traces']})" for way, w in ways.items()))
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
