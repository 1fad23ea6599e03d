"""Epochs run and test RMSE of the default hybrid on the bundled sample, with the relative
early stopping (``TrainConfig(min_delta=1e-4)``, the default) and without it (0: any
gain resets the patience, Keras' own behaviour).

Usage:
    python benchmarks/early_stopping.py

Prints a line per setting, then one JSON object last.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit  # noqa: E402


def main() -> None:
    import kerasrec as kr
    from kerasrec.training import TrainConfig

    data = kr.load_sample()
    train, test = kr.random_split(data.ratings, 0.2, seed=0)
    result = {}
    for min_delta in (1e-4, 0.0):
        start = time.perf_counter()
        rec = kr.Recommender(train=TrainConfig(verbose=0, min_delta=min_delta)).fit(
            data.with_ratings(train))
        seconds = time.perf_counter() - start
        epochs = len(rec.history_["loss"])
        rmse = rec.evaluate(test)["rmse"]
        result[f"min_delta={min_delta:g}"] = {"epochs": epochs, "rmse": round(rmse, 4),
                                              "fit_seconds": round(seconds, 1)}
        print(f"min_delta={min_delta:g}: {epochs} epochs, test RMSE {rmse:.4f}, "
              f"fit {seconds:.1f} s")
    emit(result)


if __name__ == "__main__":
    main()
