"""Latency and throughput of the exported SavedModel, loaded in a fresh process.

Usage:
    python benchmarks/serving.py [--run RUN_DIR | --data FILE] [--calls 500] [--pairs 100000]
                                 [--score-table auto|yes|no] [--save DIR]

Fits the default hybrid on the real ``data_movies.xlsx`` (the bundled sample when it
is missing), or loads a saved Recommender / run directory given by ``--run``, and
exports it with ``kerasrec.export.export_saved_model`` (``--score-table no``: the two
stages in the graph, no users x movies table; ``--save`` keeps the fitted Recommender
for ``--run``). For reference it also builds a
plain Keras biased-MF model (user/item embeddings and biases, the same sizes) and
exports it with ``model.export()``. Then a fresh Python process that imports only
TensorFlow loads both and times, after warm-up:

* ``recommend`` top-10 over the whole catalog for one user: p50 and p95 of
  ``--calls`` calls (random users); the MF reference scores all movies for one user;
  ``recommend_recent`` the same with three movies rated since training, where the
  model has it (lists weighted on a ``--validation-cut temporal`` cut by default);
* ``serving_default`` on ``--pairs`` random (user, movie) pairs in one call (best of
  five), for both.

Prints one JSON object as its last line, with the export's size (``export_mb``; its
graph file alone ``graph_mb``), the client's load time and peak memory once loaded
(``load_seconds``, ``load_peak_rss_mb``), and
``recommend_answers_sha1``: a digest of ``recommend``'s top 10 (movies and stars to 4
decimals) for 64 known users and 2 unseen ones at two contexts, so two exports of one
saved model (``--run``, e.g. by two commits' ``kerasrec``) can be shown to answer alike.
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

CLIENT = r"""
import hashlib, json, sys, time
import numpy as np
import tensorflow as tf

hybrid_dir, mf_dir, calls, n_pairs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ids = json.loads(open(sys.argv[5]).read())
users, movies = np.array(ids["users"], np.int64), np.array(ids["movies"], np.int64)
rng = np.random.default_rng(0)


def percentiles(fn, args):
    fn(*args[0])
    times = []
    for a in args:
        start = time.perf_counter()
        fn(*a)
        times.append(time.perf_counter() - start)
    return (round(1000 * float(np.percentile(times, 50)), 3),
            round(1000 * float(np.percentile(times, 95)), 3))


def best_of(fn, repeat=5):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


start = time.perf_counter()
served = tf.saved_model.load(hybrid_dir)
load_seconds = time.perf_counter() - start
# VmHWM, not getrusage: Linux keeps ru_maxrss across exec, so a child would report
# its parent's peak (the fitted model's) if that was higher.
load_peak_rss_mb = next(int(line.split()[1]) for line in open("/proc/self/status")
                        if line.startswith("VmHWM")) / 1024
recommend = served.signatures["recommend"]
score = served.signatures["serving_default"]
one = lambda v, dtype: tf.constant([v], dtype)
requests = [(int(u),) for u in rng.choice(users, calls)]
rec_p50, rec_p95 = percentiles(
    lambda u: recommend(user_id=one(u, tf.int64), daytime=one(0.0, tf.float32),
                        weekend=one(1.0, tf.float32), timestamp=one(-1, tf.int64),
                        k=one(10, tf.int64), exclude_seen=one(True, tf.bool))["movie_id"].numpy(),
    requests)
recent_p50 = recent_p95 = None
if "recommend_recent" in served.signatures:  # three movies rated since training
    recent = served.signatures["recommend_recent"]
    recent_p50, recent_p95 = percentiles(
        lambda u, m: recent(user_id=one(u, tf.int64), recent_movie_ids=tf.constant([m], tf.int64),
                            daytime=one(0.0, tf.float32), weekend=one(1.0, tf.float32),
                            timestamp=one(-1, tf.int64), k=one(10, tf.int64),
                            exclude_seen=one(True, tf.bool))["movie_id"].numpy(),
        [(int(u), rng.choice(movies, 3).tolist()) for u in rng.choice(users, calls)])
# What the lists are, to compare two exports of one model: 64 known users and two
# unseen ones, at a flagged context and at a timestamp (its own context and sessions).
answer_users = tf.constant(np.append(rng.choice(users, 64), [-5, -6]), tf.int64)
n_answers = int(answer_users.shape[0])
digest = hashlib.sha1()
for daytime, stamp in ((1.0, -1), (0.0, 1_500_000_000)):
    out = recommend(user_id=answer_users, daytime=tf.fill([n_answers], daytime),
                    weekend=tf.fill([n_answers], 1.0 - daytime),
                    timestamp=tf.fill([n_answers], tf.constant(stamp, tf.int64)),
                    k=tf.fill([n_answers], tf.constant(10, tf.int64)),
                    exclude_seen=tf.fill([n_answers], True))
    digest.update(out["movie_id"].numpy().tobytes())
    digest.update(np.round(out["rating"].numpy(), 4).tobytes())
pair_users = tf.constant(rng.choice(users, n_pairs), tf.int64)
pair_movies = tf.constant(rng.choice(movies, n_pairs), tf.int64)
flags = tf.zeros([n_pairs], tf.float32)
stamps = tf.fill([n_pairs], tf.constant(-1, tf.int64))
seconds = best_of(lambda: score(user_id=pair_users, movie_id=pair_movies, daytime=flags,
                                weekend=flags, timestamp=stamps)["rating"].numpy())
stamps = tf.constant(rng.integers(1_000_000_000, 1_600_000_000, n_pairs), tf.int64)
seconds_ts = best_of(lambda: score(user_id=pair_users, movie_id=pair_movies, daytime=flags,
                                   weekend=flags, timestamp=stamps)["rating"].numpy())

mf = tf.saved_model.load(mf_dir)
n_items = len(movies)
all_items = tf.constant(np.arange(1, n_items + 1), tf.int32)
mf_p50, mf_p95 = percentiles(
    lambda u: mf.serve([tf.fill([n_items], tf.constant(u, tf.int32)), all_items]).numpy(),
    [(int(u),) for u in rng.integers(1, len(users) + 1, calls)])
mf_u = tf.constant(rng.integers(1, len(users) + 1, n_pairs), tf.int32)
mf_i = tf.constant(rng.integers(1, n_items + 1, n_pairs), tf.int32)
mf_seconds = best_of(lambda: mf.serve([mf_u, mf_i]).numpy())
print(json.dumps({
    "load_seconds": round(load_seconds, 1), "load_peak_rss_mb": round(load_peak_rss_mb),
    "recommend_ms_p50": rec_p50, "recommend_ms_p95": rec_p95,
    "recommend_recent_ms_p50": recent_p50, "recommend_recent_ms_p95": recent_p95,
    "serving_default_pairs": n_pairs,
    "serving_default_ms": round(1000 * seconds, 2),
    "serving_default_pairs_per_second": round(n_pairs / seconds),
    "serving_default_with_timestamps_pairs_per_second": round(n_pairs / seconds_ts),
    "mf_reference_all_movies_ms_p50": mf_p50, "mf_reference_all_movies_ms_p95": mf_p95,
    "mf_reference_pairs_per_second": round(n_pairs / mf_seconds),
    "recommend_p50_over_mf_reference": round(rec_p50 / mf_p50, 2),
    "recommend_answers_sha1": digest.hexdigest()}))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default=None, help="a saved Recommender or run directory")
    parser.add_argument("--data", default=None)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--validation-cut", choices=("random", "temporal"), default="temporal")
    parser.add_argument("--score-table", choices=("auto", "yes", "no"), default="auto")
    parser.add_argument("--save", default=None, help="save the fitted Recommender here")
    args = parser.parse_args(argv)
    from _common import REAL_XLSX, emit, folder_mb

    import kerasrec as kr
    from kerasrec.export import export_saved_model
    from kerasrec.models import build_mf

    start = time.perf_counter()
    if args.run:
        rec = kr.Recommender.load(Path(args.run) / "model"
                                  if (Path(args.run) / "model").is_dir() else args.run)
        source = args.run
    else:
        path = args.data or (REAL_XLSX if REAL_XLSX.is_file() else None)
        from kerasrec.models import model_class

        # Weights of lists chosen for what users do next (the recent-history branch).
        rec = kr.Recommender(train=model_class("hybrid").train_config(
            validation_cut=args.validation_cut))
        rec.fit(kr.load_movies(path) if path else kr.load_sample())
        source = str(path or "bundled sample")
        if args.save:
            rec.save(args.save)
    prepare_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        hybrid_dir = export_saved_model(rec, Path(tmp) / "hybrid", score_table={
            "auto": None, "yes": True, "no": False}[args.score_table])
        export_seconds = time.perf_counter() - start
        export_mb = folder_mb(hybrid_dir)
        graph_mb = (hybrid_dir / "saved_model.pb").stat().st_size / 2 ** 20
        mf = build_mf(rec.pipeline_.n_users, len(rec.catalog_.movies) + 1)
        mf.export(os.path.join(tmp, "mf"), verbose=False)
        ids = Path(tmp) / "ids.json"
        ids.write_text(json.dumps({"users": rec.pipeline_.user_vocabulary_.tolist(),
                                   "movies": rec.catalog_.movie_ids.tolist()}))
        done = subprocess.run([sys.executable, "-c", CLIENT, str(hybrid_dir),
                               os.path.join(tmp, "mf"), str(args.calls), str(args.pairs),
                               str(ids)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    emit({"data": source, "model": rec.model, "catalog": len(rec.catalog_.movies),
          "users": len(rec.pipeline_.user_vocabulary_), "score_table": args.score_table,
          "fit_or_load_seconds": round(prepare_seconds, 1),
          "export_seconds": round(export_seconds, 1), "export_mb": round(export_mb, 1),
          "graph_mb": round(graph_mb, 1),
          **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
