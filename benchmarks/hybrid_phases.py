"""Where the default hybrid's fit time goes, on a shared split's training file.

Usage:
    python benchmarks/hybrid_phases.py [--split temporal|random] [--seed 0]

Fits the default hybrid as ``benchmarks/topn.py`` does (settings chosen on 10% of the
training file cut as the split's test was; the test file is not read) and times its
phases by wrapping the functions that run them: the training epochs
(``training.fit``), the choice of list weights (``list_weights.choose_list_weights``; of it,
the stars predicted to choose their blend, ``Hybrid.score``), the catch-up pass and
the co-watch fits, and each epoch: its seconds and the wait before its first step
(the time Keras takes to start the epoch's data, not training). Prints one JSON
object last.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, SPLITS, emit, missing_real_data  # noqa: E402

import keras  # noqa: E402
import kerasrec as kr  # noqa: E402
from kerasrec import training  # noqa: E402
from kerasrec.models import model_class  # noqa: E402
from kerasrec.models.hybrid import co_watch, list_weights  # noqa: E402
from kerasrec.models.hybrid.model import Hybrid  # noqa: E402

PHASES = ((training, "fit", "training epochs"),
          (list_weights, "choose_list_weights", "choice of list weights"),
          (Hybrid, "score", "stars predicted for the choice"),
          (training, "catch_up", "catch-up pass"),
          (co_watch, "co_watch_weights", "co-watch fits"))


def timed(seconds: collections.Counter) -> None:
    """Wrap each phase's function so its calls add to ``seconds``."""
    for owner, name, label in PHASES:
        function = getattr(owner, name)

        def wrapper(*args, _function=function, _label=label, **kwargs):
            start = time.perf_counter()
            try:
                return _function(*args, **kwargs)
            finally:
                seconds[_label] += time.perf_counter() - start

        setattr(owner, name, wrapper)


class EpochClock(keras.callbacks.Callback):
    """Each epoch's seconds, and the seconds from its start to its first step."""

    def __init__(self):
        super().__init__()
        self.epochs, self.waits = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.waits.append(round(time.perf_counter() - self.start, 2))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(round(time.perf_counter() - self.start, 1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("temporal", "random"), default="temporal")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if missing_real_data():
        return 2
    data = kr.load_movies(REAL_XLSX)
    train = kr.load_ratings(SPLITS / f"movies_{args.split}80_train.csv")
    seconds = collections.Counter()
    timed(seconds)
    clock = EpochClock()
    config = model_class("hybrid").train_config(seed=args.seed, verbose=0,
                                                validation_cut=args.split, callbacks=[clock])
    start = time.perf_counter()
    rec = kr.Recommender("hybrid", seed=args.seed, train=config, verbose=0).fit(
        data.with_ratings(train))
    total = time.perf_counter() - start
    result = {"split": args.split, "fit_seconds": round(total, 1),
              "epochs": len(rec.history_["loss"]),
              "seconds": {k: round(v, 1) for k, v in seconds.items()},
              "epoch_seconds": clock.epochs, "wait_before_first_step": clock.waits,
              "chosen": {k: v for k, v in rec.model_.chosen.items() if not k.startswith("val_")}}
    for key, value in result.items():
        print(key, value, flush=True)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
