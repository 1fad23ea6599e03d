"""Serving soak: many calls against a loaded SavedModel, with memory at start and end.

Usage:
    python benchmarks/soak.py [--calls 100000] [--data PATH] [--epochs 5]

It fits the default hybrid (on ``--data``, else the bundled sample)
and exports it with ``kerasrec.export.export_saved_model``. A fresh Python process that
imports only TensorFlow then loads the SavedModel and makes ``--calls`` calls, drawn
at random (seeded): 60% ``serving_default`` on 1-64 pairs, 30% ``recommend`` for 1-8
users with k from 1 to 60 (exclude_seen on or off), 10% ``similar_items`` with k from 1
to 30. A fifth of the user ids and movie ids are unknown to the model (the cold-start
path). Every answer is checked: ratings finite and within the rating range, lists of
the requested width padded with -1, similarities within [-1, 1].

The process's resident memory (VmRSS) is read after 1,000 warm-up calls ("start"),
at every tenth of the run and at the end. Prints one JSON object as its last line:
calls, errors, seconds, calls per second, rss_start_mb, rss_end_mb, growth_mb and
the RSS trace.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

CLIENT = r"""
import json, sys, time
import numpy as np
import tensorflow as tf

served_dir, calls = sys.argv[1], int(sys.argv[2])
ids = json.loads(open(sys.argv[3]).read())
users, movies = np.array(ids["users"], np.int64), np.array(ids["movies"], np.int64)
low, high = ids["rating_range"]
rng = np.random.default_rng(0)
served = tf.saved_model.load(served_dir)
score, recommend, similar = (served.signatures[n] for n in
                             ("serving_default", "recommend", "similar_items"))


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0


def pick(known, n, unknown_from):
    out = rng.choice(known, n)
    cold = rng.random(n) < 0.2
    out[cold] = unknown_from + rng.integers(0, 10**6, cold.sum())
    return tf.constant(out, tf.int64)


def one_call():
    kind = rng.random()
    if kind < 0.6:
        n = int(rng.integers(1, 65))
        result = score(user_id=pick(users, n, 10**9), movie_id=pick(movies, n, 10**9),
                       daytime=tf.constant(rng.integers(0, 2, n), tf.float32),
                       weekend=tf.constant(rng.integers(0, 2, n), tf.float32),
                       timestamp=tf.constant(np.where(rng.random(n) < 0.5, -1,
                                             rng.integers(10**9, 1.6e9, n)), tf.int64))
        rating = result["rating"].numpy()
        assert rating.shape == (n,) and np.all(np.isfinite(rating))
        assert np.all((rating >= low - 1e-6) & (rating <= high + 1e-6)), rating
    elif kind < 0.9:
        n = int(rng.integers(1, 9))
        k = rng.integers(1, 61, n)
        result = recommend(user_id=pick(users, n, 10**9),
                           daytime=tf.constant(rng.integers(0, 2, n), tf.float32),
                           weekend=tf.constant(rng.integers(0, 2, n), tf.float32),
                           timestamp=tf.constant(np.full(n, -1), tf.int64),
                           k=tf.constant(k, tf.int64),
                           exclude_seen=tf.constant(rng.random(n) < 0.8))
        got = result["movie_id"].numpy()
        assert got.shape == (n, min(int(k.max()), len(movies)))
        for row, want in zip(got, k):
            assert np.all(row[want:] == -1)
    else:
        n = int(rng.integers(1, 5))
        k = rng.integers(1, 31, n)
        result = similar(movie_id=pick(movies, n, 10**9), k=tf.constant(k, tf.int64))
        sim = result["similarity"].numpy()
        assert np.all(np.abs(sim[result["movie_id"].numpy() >= 0]) <= 1 + 1e-5)


for _ in range(1000):
    one_call()
start_rss = rss_mb()
trace = [round(start_rss, 1)]
errors = []
start = time.perf_counter()
for i in range(calls):
    try:
        one_call()
    except Exception as exc:  # count and report; a soak must not stop at the first
        errors.append(f"{type(exc).__name__}: {exc}"[:200])
    if (i + 1) % max(1, calls // 10) == 0:
        trace.append(round(rss_mb(), 1))
seconds = time.perf_counter() - start
end_rss = rss_mb()
print(json.dumps({"calls": calls, "errors": len(errors), "first_errors": errors[:3],
                  "seconds": round(seconds, 1), "calls_per_second": round(calls / seconds),
                  "rss_start_mb": round(start_rss, 1), "rss_end_mb": round(end_rss, 1),
                  "growth_mb": round(end_rss - start_rss, 1), "rss_trace_mb": trace}))
"""


def run_soak(served: Path, ids: dict, calls: int) -> dict:
    """Run the TensorFlow-only soak client on ``served``; returns its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        ids_file = Path(tmp) / "ids.json"
        ids_file.write_text(json.dumps(ids))
        done = subprocess.run([sys.executable, "-c", CLIENT, str(served), str(calls),
                               str(ids_file)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def soak_ids(rec) -> dict:
    """The known ids and rating range the client draws from."""
    return {"users": rec.pipeline_.user_vocabulary_.tolist(),
            "movies": rec.catalog_.movie_ids.tolist(),
            "rating_range": list(rec.pipeline_.config.rating_range)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--data", default=None, help="data to fit on (default: the sample)")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)
    from _common import emit

    import kerasrec as kr
    from kerasrec.export import export_saved_model
    from kerasrec.training import TrainConfig

    data = kr.load_movies(args.data) if args.data else kr.load_sample()
    rec = kr.Recommender(train=TrainConfig(epochs=args.epochs, verbose=0)).fit(data)
    with tempfile.TemporaryDirectory() as tmp:
        served = export_saved_model(rec, Path(tmp) / "served")
        result = run_soak(served, soak_ids(rec), args.calls)
    emit({"data": args.data or "bundled sample", "catalog": len(rec.catalog_.movies), **result})
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
