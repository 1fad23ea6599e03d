"""The training step's lookups at MovieLens-25M size, old way against new, one run.

Usage:
    python benchmarks/lookups.py [--pairs 25000000] [--batch 16384] [--pool 100]

Synthetic keys shaped like the 25M hybrid's (162,500 users x 60,000 movies; each
batch row asks its user's key for ``pool`` movies, one of them rated), timed after
warm-up:

* the neighbourhood's residual lookups of one batch (``batch x pool`` keys): one
  ``tf.lookup.StaticHashTable`` against
  :class:`~kerasrec.models.hybrid.history_layers.Neighbourhood`'s two tables split by
  user, looked up at once (ms, median of 10);
* the session bias's search of ``batch`` session keys among ``--pairs`` sorted keys
  (the generated timestamps make nearly every rating its own session): one search of
  every key against ``find_sessions_tf``'s search of each user's keys (inference)
  against the training step's hash table (``find_sessions_hashed``; ms, median of 10;
  the table's build seconds and memory growth);
* one served request's session search (one key) the same two ways, after gathers
  have put the keys in copy-on-read mode (a whole read then copies them);
* LazyAdam's update of the rows a batch touched (16,384 rows of a table of ``--pairs``
  rows of 1, as the session biases; about 13,400 rows of 162,500 x 32, as a user
  embedding): a scatter-subtract in place (before) against a gather and a
  scatter-write of the new values (now), the same numbers (ms, median of 30);
* the MF branch's dot product of 100,000 rows of 32: ``keras.layers.Dot`` (a batched
  matmul) against :class:`~kerasrec.models.layers.RowDot` (ms, median of 50);
* saving and loading the neighbourhood layer in a ``.keras`` file with its keys in a
  Keras ``IntegerLookup`` vocabulary (the layer before) against as plain weights (the
  layer now): seconds and peak memory growth of each, in fresh processes.

Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, rss_mb  # noqa: E402

N_USERS, N_ITEMS = 162_500, 60_000


def _pairs(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, N_USERS * N_ITEMS, n + n // 50, dtype=np.int64))[:n]
    return keys, rng.normal(size=len(keys)).astype(np.float32)


def _median_ms(fn, *args, reps: int = 10) -> float:
    import numpy as np

    fn(*args)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)) * 1000, 1)


def residual_lookups(n: int, batch: int, pool: int) -> dict:
    import numpy as np
    import tensorflow as tf

    from kerasrec.models.hybrid.history_layers import Neighbourhood

    keys, residuals = _pairs(n)
    rng = np.random.default_rng(1)
    # Each row's keys share its user (a rater of the pair's movie); the first is rated.
    rated = keys[rng.integers(0, len(keys), batch)]
    users = rated // N_ITEMS
    asked = users[:, None] * N_ITEMS + rng.integers(0, N_ITEMS, (batch, pool))
    asked[:, 0] = rated
    asked, users = tf.constant(asked), tf.constant(users)
    result = {}
    values = []
    for shards in (1, 2):
        layer = Neighbourhood(N_USERS, N_ITEMS, len(keys), shards=shards, pool=pool)
        layer.build(None)
        layer.pair_keys.assign(keys)
        layer.pair_residuals.assign(residuals)
        layer._build_lookup()
        lookup = tf.function(layer._lookup)
        values.append(lookup(asked, users).numpy())
        result[f"residual_lookup_ms_{shards}_table{'s' * (shards > 1)}"] = _median_ms(
            lookup, asked, users)
    assert np.array_equal(values[0], values[1], equal_nan=True)
    assert not np.isnan(values[0][:, 0]).any()
    return result


def session_search(n: int, batch: int) -> dict:
    import numpy as np
    import tensorflow as tf

    from kerasrec.models.hybrid.sessions import (find_sessions_hashed, find_sessions_tf,
                                                 session_table, user_offsets)

    rng = np.random.default_rng(2)
    users = np.sort(rng.integers(0, N_USERS, n))
    keys = np.unique(users * 2 ** 32 + rng.integers(0, 2 ** 20, n))
    offsets = user_offsets(keys, N_USERS)
    asked = keys[rng.integers(0, len(keys), batch)]
    asked[::2] += 1  # half the sessions unknown
    asked_users = asked // 2 ** 32
    table = tf.Variable(keys)
    bounds = tf.Variable(offsets)
    everywhere = tf.function(lambda q: find_sessions_tf(table, q))
    own = tf.function(lambda q, u: find_sessions_tf(table, q, tf.gather(bounds, u),
                                                    tf.gather(bounds, u + 1)))
    q, u = tf.constant(asked), tf.constant(asked_users)
    memory, start = rss_mb(), time.perf_counter()
    hashed = session_table(keys)
    built, grown = time.perf_counter() - start, rss_mb() - memory
    probe = tf.function(lambda q: find_sessions_hashed(hashed, q))
    assert np.array_equal(everywhere(q)[1].numpy(), own(q, u)[1].numpy())
    assert np.array_equal(probe(q)[1].numpy(), own(q, u)[1].numpy())
    # Both have gathered from the keys now, so a whole read (the search of every key)
    # copies them: what one served request paid before its search was the user's.
    return {"sessions": len(keys), "session_search_ms_all_keys": _median_ms(everywhere, q),
            "session_search_ms_own_keys": _median_ms(own, q, u),
            "session_search_ms_hash_table": _median_ms(probe, q),
            "session_table_build_seconds": round(built, 1),
            "session_table_memory_mb": round(grown),
            "one_request_ms_all_keys": _median_ms(everywhere, q[:1]),
            "one_request_ms_own_keys": _median_ms(own, q[:1], u[:1])}


def row_updates(n: int, batch: int) -> dict:
    """LazyAdam's last write: subtract the step in place, or gather, subtract, write."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(4)
    result = {}
    for name, shape, size in (("session_biases", (n, 1), batch),
                              ("user_embedding", (N_USERS, 32), batch)):
        table = tf.Variable(rng.normal(size=shape).astype(np.float32))
        rows = tf.constant(np.unique(rng.integers(0, shape[0], size)))
        step = tf.constant(rng.normal(size=(len(rows), shape[1])).astype(np.float32))

        @tf.function
        def in_place():  # returns nothing: a returned update would read the table whole
            table.scatter_sub(tf.IndexedSlices(step, rows))

        @tf.function
        def written():
            table.scatter_update(tf.IndexedSlices(tf.gather(table, rows) - step, rows))

        result[f"row_update_ms_{name}_subtract_in_place"] = _median_ms(in_place, reps=30)
        result[f"row_update_ms_{name}_gather_and_write"] = _median_ms(written, reps=30)
    return result


def row_dot(rows: int = 100_000, dim: int = 32) -> dict:
    """The MF branch's dot product: ``keras.layers.Dot`` against ``RowDot``."""
    import keras
    import numpy as np
    import tensorflow as tf

    from kerasrec.models.layers import RowDot

    rng = np.random.default_rng(3)
    x, y = (tf.constant(rng.normal(size=(rows, dim)).astype(np.float32)) for _ in "xy")
    result = {}
    for name, layer in (("keras_dot", keras.layers.Dot(axes=1)), ("row_dot", RowDot())):
        run = tf.function(lambda a, b, layer=layer: layer([a, b]))
        result[f"dot_ms_{name}"] = _median_ms(lambda a, b: run(a, b).numpy(), x, y, reps=50)
    return {"dot_rows": rows, **result}


SAVE_LOAD = r"""
import os, sys, tempfile, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
sys.path.insert(0, sys.argv[3])
import keras, numpy as np
from lookups import _pairs, N_USERS, N_ITEMS
how, n = sys.argv[1], int(sys.argv[2])
keys, residuals = _pairs(n)
if how == "vocabulary":
    layer = keras.layers.IntegerLookup(vocabulary_dtype="int64", num_oov_indices=1,
                                       mask_token=None)
    layer.set_vocabulary(keys)
    inputs = keras.Input((), dtype="int64")
else:
    from kerasrec.models.hybrid.history_layers import Neighbourhood
    layer = Neighbourhood(N_USERS, N_ITEMS, len(keys), shards=2, learn_weights=False)
    inputs = [keras.Input((), dtype="int32"), keras.Input((), dtype="int32")]
    layer(inputs)
    layer.pair_keys.assign(keys); layer.pair_residuals.assign(residuals)
model = keras.Model(inputs, layer(inputs))
from _common import peak_rss_mb as peak  # its own peak, not its parent's
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.keras")
    before, start = peak(), time.perf_counter()
    model.save(path)
    print(time.perf_counter() - start, peak() - before, flush=True)
    before, start = peak(), time.perf_counter()
    keras.saving.load_model(path)
    print(time.perf_counter() - start, peak() - before)
"""


def save_load(n: int) -> dict:
    result = {}
    for how in ("vocabulary", "weights"):
        done = subprocess.run([sys.executable, "-c", SAVE_LOAD, how, str(n),
                               str(Path(__file__).resolve().parent)],
                              capture_output=True, text=True, check=True)
        (save_s, save_mb), (load_s, load_mb) = [map(float, line.split())
                                                for line in done.stdout.split("\n")[-3:-1]]
        result[f"keys_as_{how}"] = {"save_seconds": round(save_s, 1),
                                    "save_peak_growth_mb": round(save_mb),
                                    "load_seconds": round(load_s, 1),
                                    "load_peak_growth_mb": round(load_mb)}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=25_000_000)
    parser.add_argument("--batch", type=int, default=16384)
    parser.add_argument("--pool", type=int, default=100)
    args = parser.parse_args(argv)
    emit({"pairs": args.pairs, "batch": args.batch, "pool": args.pool,
          **residual_lookups(args.pairs, args.batch, args.pool),
          **session_search(args.pairs, args.batch), **row_updates(args.pairs, args.batch),
          **row_dot(), **save_load(args.pairs)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
