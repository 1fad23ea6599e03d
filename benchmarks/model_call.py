"""Latency of one traced hybrid call over the whole catalog, by variant.

Usage:
    python benchmarks/model_call.py [--repeat 20]

Builds (untrained; speed does not depend on the weights) the default hybrid on the
real data, the same with ``neighbour_pool=50`` and with ``neighbours=()``, and times a
``tf.function`` call on as many rows as the catalog has movies: the work
``Recommender.recommend`` does for one user. Prints milliseconds per call, then one
JSON object as the last line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, emit  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import kerasrec as kr  # noqa: E402

VARIANTS = {"default": {}, "neighbour_pool_50": {"neighbour_pool": 50},
            "no_neighbours": {"neighbours": ()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    import tensorflow as tf

    from kerasrec.models import build_model

    data = kr.load_movies(REAL_XLSX) if REAL_XLSX.is_file() else kr.load_sample()
    pipeline = kr.FeaturePipeline().fit(data)
    x = pipeline.transform(data.ratings)
    user = int(np.bincount(x["user_id"]).argmax())
    movies = data.products["movieId"].to_numpy()
    rows = pipeline.transform(pd.DataFrame({"userId": pipeline.user_vocabulary_[user - 1],
                                            "movieId": movies}))
    result = {"rows": len(movies)}
    for name, options in VARIANTS.items():
        model = build_model("hybrid", pipeline, x, seed=0, **options)
        inputs = {t.name: rows[t.name] for t in model.inputs}
        call = tf.function(lambda d, m=model: m(d, training=False))
        call(inputs)
        start = time.perf_counter()
        for _ in range(args.repeat):
            call(inputs)
        result[f"{name}_ms"] = round(1000 * (time.perf_counter() - start) / args.repeat, 1)
        print(f"{name:18s} {result[f'{name}_ms']:.1f} ms per call", flush=True)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
