"""Predictions of ``Recommender(NAME)`` on the shared random split, to compare versions.

Usage:
    python benchmarks/same_predictions.py --out DIR hybrid mf item_knn
    python benchmarks/same_predictions.py --compare DIR_A DIR_B

Fits each model with ``TrainConfig(seed=0)`` (AutoRec and the baselines with their own
defaults) on ../shared/data/splits/movies_random80_train.csv and saves its predictions
for movies_random80_test.csv as DIR/NAME.npy. Run it from two checkouts (e.g. a
``git worktree`` of an older commit, with ``PYTHONPATH`` pointing at it) and compare:
``--compare`` prints the largest absolute difference per model. Prints JSON last.
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


def _train_config(name: str):
    """The model's own training defaults with seed 0 (kerasrec 0.1 had no registry)."""
    try:
        from kerasrec.models import model_class
    except ImportError:
        from kerasrec.training import TrainConfig

        return None if name == "autorec" else TrainConfig(seed=0, verbose=0)
    return model_class(name).train_config(seed=0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*")
    parser.add_argument("--out", default=None)
    parser.add_argument("--compare", nargs=2, default=None, metavar=("DIR_A", "DIR_B"))
    args = parser.parse_args(argv)
    if args.compare:
        a, b = (Path(d) for d in args.compare)
        emit({p.stem: float(np.abs(np.load(p) - np.load(b / p.name)).max())
              for p in sorted(a.glob("*.npy")) if (b / p.name).is_file()})
        return 0
    import kerasrec as kr

    data = kr.load_movies(REAL_XLSX)
    train = kr.load_ratings(SPLITS / "movies_random80_train.csv")
    test = kr.load_ratings(SPLITS / "movies_random80_test.csv")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {}
    for name in args.models:
        rec = kr.Recommender(name, train=_train_config(name)).fit(data.with_ratings(train))
        stars = rec.predict(test)
        np.save(out / f"{name}.npy", stars)
        result[name] = float(np.sqrt(np.mean((stars - test["rating"].to_numpy()) ** 2)))
    emit({"kerasrec": kr.__file__, "rmse": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
