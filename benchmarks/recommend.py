"""Speed of the analyst API: ``Recommender.recommend`` latency and ``predict`` throughput.

Usage:
    python benchmarks/recommend.py [--data PATH] [--repeat 50] [--pairs 1000000]

Fits the default hybrid on the real ``data_movies.xlsx`` (or ``--data``; the bundled
sample when neither exists), then times, in-process and after one warm-up call:
recommend over the whole catalog for one user (median and p95 of ``--repeat`` calls,
users drawn at random), the same with three movies rated since training
(``recent=``, where the model's lists use its sequence branch) and predict on
``--pairs`` random (user, movie) pairs, with and without timestamps. The first call builds the score table (``Recommender.score_table``);
its time is reported on its own as ``score_table_seconds``. Prints one JSON object as
its last line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, emit, peak_rss_mb  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import kerasrec as kr  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--validation-cut", choices=("random", "temporal"), default="temporal",
                        help="how the fit holds out validation data (temporal: the weights "
                        "of lists are chosen for what users do next)")
    args = parser.parse_args(argv)
    path = args.data or (REAL_XLSX if REAL_XLSX.is_file() else None)
    data = kr.load_movies(path) if path else kr.load_sample()
    start = time.perf_counter()
    from kerasrec.models import model_class

    rec = kr.Recommender(train=model_class("hybrid").train_config(
        validation_cut=args.validation_cut)).fit(data)
    fit_seconds = time.perf_counter() - start
    rng = np.random.default_rng(0)
    users = rng.choice(data.ratings["userId"].unique(), args.repeat + 1)
    start = time.perf_counter()
    rec.score_table()
    table_seconds = time.perf_counter() - start
    rec.recommend(int(users[0]))  # warm-up
    latencies = []
    for user in users[1:]:
        start = time.perf_counter()
        rec.recommend(int(user), k=10)
        latencies.append(time.perf_counter() - start)
    recent_latencies = []
    if rec.model_.supports("recent"):  # three movies rated since training
        movies = rec.catalog_.movie_ids
        rec.recommend(int(users[0]), recent=movies[:3].tolist())  # warm-up (traces once)
        for user in users[1:]:
            recent = rng.choice(movies, 3, replace=False).tolist()
            start = time.perf_counter()
            rec.recommend(int(user), k=10, recent=recent)
            recent_latencies.append(time.perf_counter() - start)
    pairs = pd.DataFrame({"userId": rng.choice(data.ratings["userId"].unique(), args.pairs),
                          "movieId": rng.choice(data.products["movieId"], args.pairs)})
    rec.predict(pairs.head(1000))
    start = time.perf_counter()
    rec.predict(pairs)
    predict_seconds = time.perf_counter() - start
    dated = pairs.assign(timestamp=rng.integers(1_000_000_000, 1_600_000_000, args.pairs))
    start = time.perf_counter()
    rec.predict(dated)
    dated_seconds = time.perf_counter() - start
    emit({"data": str(path or "bundled sample"), "catalog": len(rec.catalog_.movies),
          "fit_seconds": round(fit_seconds, 1),
          "score_table_seconds": round(table_seconds, 1),
          "recommend_ms_median": round(1000 * float(np.median(latencies)), 2),
          "recommend_ms_p95": round(1000 * float(np.percentile(latencies, 95)), 2),
          "chosen": {k: v for k, v in rec.model_.chosen.items() if not k.startswith("val_")},
          "recommend_recent_ms_median": (round(1000 * float(np.median(recent_latencies)), 2)
                                         if recent_latencies else None),
          "recommend_recent_ms_p95": (round(1000 * float(np.percentile(recent_latencies, 95)), 2)
                                      if recent_latencies else None),
          "predict_pairs_per_second": round(args.pairs / predict_seconds),
          "predict_with_timestamps_pairs_per_second": round(args.pairs / dated_seconds),
          "peak_rss_mb": round(peak_rss_mb())})
    return 0


if __name__ == "__main__":
    sys.exit(main())
