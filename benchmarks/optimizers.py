"""Training throughput of the hybrid with MovieLens-25M-sized tables: Adam vs LazyAdam.

Usage:
    python benchmarks/optimizers.py [--rows 2000000] [--batch-sizes 4096 16384 65536]

Builds the four-branch hybrid (``ids_only``, no neighbourhoods, history or sessions, as
in ``benchmarks/scale.py``) for 162,000 users and 59,000 movies and trains it on
``--rows`` random (user, movie, context) rows for two epochs per optimizer and batch
size; the second epoch is timed (the first one traces). Random targets: this measures
speed, not learning (``scale.py`` measures that). Each configuration runs in a fresh
process. Prints one JSON object as its last line: rows/s per optimizer and batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

USERS, MOVIES = 162_000, 59_000


def measure(rows: int, batch_size: int, optimizer: str) -> float:
    """Rows per second of the second epoch."""
    import numpy as np

    from kerasrec.models import HybridBackbone, HybridConfig
    from kerasrec.optimizers import get_optimizer
    from kerasrec.training import make_dataset

    rng = np.random.default_rng(0)
    x = {"user_id": rng.integers(1, USERS, rows).astype(np.int32),
         "item_id": rng.integers(1, MOVIES, rows).astype(np.int32),
         "context": rng.integers(0, 2, (rows, 2)).astype(np.uint8)}
    config = HybridConfig(neighbours=(), user_history=False, session_bias=False, ids_only=True)
    model = HybridBackbone(USERS, MOVIES, 21, config=config, global_mean=0.5)
    model.item_feature_table.set_weights([rng.integers(0, 2, (MOVIES, 21)).astype(np.float32)])
    model.compile(optimizer=get_optimizer(optimizer, 4e-3), loss="mse")
    data = make_dataset(x, rng.random(rows).astype(np.float32), batch_size=batch_size,
                        shuffle=True)
    model.fit(data, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    return rows / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4096, 16384, 65536])
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # child: optimizer batch
    args = parser.parse_args(argv)
    if args.one:
        print(measure(args.rows, int(args.one[1]), args.one[0]))
        return 0
    result = {"rows": args.rows, "users": USERS, "movies": MOVIES}
    for optimizer in ("adam", "lazy_adam"):
        for batch in args.batch_sizes:
            done = subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--one",
                                   optimizer, str(batch)], capture_output=True, text=True,
                                  check=True)
            speed = float(done.stdout.strip().splitlines()[-1])
            result[f"{optimizer}_{batch}_rows_per_second"] = round(speed)
            print(f"{optimizer:9s} batch {batch:6d}: {speed:10,.0f} rows/s", flush=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
