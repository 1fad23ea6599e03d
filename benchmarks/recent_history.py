"""Cost of the sequence branch's stored history at scale: sorting the training ratings
into the recent-history keys, and finding the windows of a batch, in NumPy and inside
the model (``RecentRatings``, TensorFlow), for generated ratings; and the recent stars'
choice on a validation cut of a tenth of the rows (its windows read once, then every
shrinkage and half-life tried on their sums).

Usage:
    python benchmarks/recent_history.py [--rows 25000000] [--users 162000] [--batch 16384]

Both steps are vectorized (one ``argsort``, one ``searchsorted`` per batch; no loop over
users), so they grow with the rows, not with users x rows. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, peak_rss_mb  # noqa: E402

import numpy as np  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=25_000_000)
    parser.add_argument("--users", type=int, default=162_000)
    parser.add_argument("--items", type=int, default=59_000)
    parser.add_argument("--batch", type=int, default=16_384)
    parser.add_argument("--length", type=int, default=20)
    args = parser.parse_args(argv)
    from kerasrec.models.hybrid.star_steps import RECENT_STARS_HALF_LIVES, RECENT_STARS_SHRINKS
    from kerasrec.models.hybrid.recent import (latest_time, recent_window, residual_window,
                                               shrunk_and_faded, sorted_history)
    from kerasrec.models.hybrid.time_layers import RecentRatings

    rng = np.random.default_rng(0)
    users = rng.integers(1, args.users + 1, args.rows).astype(np.int32)
    items = rng.integers(1, args.items + 1, args.rows).astype(np.int32)
    times = rng.integers(1_000_000_000, 1_600_000_000, args.rows)
    ratings = rng.random(args.rows).astype(np.float32)
    start = time.perf_counter()
    keys, sorted_items, _ = sorted_history(users, items, times, ratings)
    sort_seconds = time.perf_counter() - start
    batch = rng.integers(0, args.rows, args.batch)
    start = time.perf_counter()
    positions, valid = recent_window(keys, users[batch], times[batch], args.length)
    numpy_ms = 1000 * (time.perf_counter() - start)
    layer = RecentRatings(args.rows, args.length)
    layer.build(None)
    start = time.perf_counter()
    layer.set_history(users, items, times, ratings)
    store_seconds = time.perf_counter() - start
    call = lambda: layer([users[batch], times[batch]])  # noqa: E731
    call()
    start = time.perf_counter()
    for _ in range(5):
        window_items, _, window_valid = call()
    layer_ms = 1000 * (time.perf_counter() - start) / 5
    assert np.array_equal(np.asarray(window_valid), valid)
    assert np.array_equal(np.asarray(window_items)[valid], sorted_items[positions[valid]])
    residuals = rng.normal(size=args.rows).astype(np.float32)
    cut = rng.integers(0, args.rows, args.rows // 10)
    start = time.perf_counter()
    window = residual_window(keys, residuals, users[cut], times[cut], 10, latest_time(keys))
    choice_window_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for shrink in RECENT_STARS_SHRINKS:
        for half_life in RECENT_STARS_HALF_LIVES:
            shrunk_and_faded(*window, shrink, half_life)
    choice_settings_seconds = time.perf_counter() - start
    emit({"rows": args.rows, "users": args.users, "batch": args.batch, "length": args.length,
          "sort_seconds": round(sort_seconds, 2), "store_in_layer_seconds": round(store_seconds, 2),
          "windows_numpy_ms_per_batch": round(numpy_ms, 1),
          "windows_layer_ms_per_batch": round(layer_ms, 1),
          "mean_window_fill": round(float(valid.mean()), 3),
          "recent_stars_choice_window_seconds": round(choice_window_seconds, 2),
          "recent_stars_choice_settings_seconds": round(choice_settings_seconds, 2),
          "peak_rss_mb": round(peak_rss_mb())})
    return 0


if __name__ == "__main__":
    sys.exit(main())
