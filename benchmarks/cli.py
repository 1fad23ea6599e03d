"""Wall time of ``kerasrec`` commands on a saved run, each in a fresh process.

Usage:
    python benchmarks/cli.py [--run RUN_DIR] [--repeats 5]

Without ``--run``, trains the default hybrid on the bundled sample into a temporary run
first (not timed). Times ``recommend`` (answered from the saved score table, without
importing TensorFlow), ``similar`` (the table's movie vectors), ``recommend --weekend``
(a context: the model's weights are read), ``explain`` and ``evaluate`` (which need the
model) and ``kerasrec --help``; prints the median and the fastest of ``--repeats``
runs per command, then one JSON object last.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit  # noqa: E402


def _seconds(argv) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kerasrec", *argv], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run = args.run or str(Path(folder) / "run")
        if args.run is None:
            subprocess.run([sys.executable, "-m", "kerasrec", "train", "--out", run, "--quiet"],
                           check=True, stdout=subprocess.DEVNULL)
        import pandas as pd

        catalog = pd.read_parquet(Path(run) / "model" / "catalog.parquet")
        user = int(pd.read_parquet(Path(run) / "model" / "seen.parquet")["userId"].iloc[0])
        movie = str(int(catalog["movieId"].iloc[0]))
        commands = {
            "recommend": ["recommend", run, "--user", str(user)],
            "similar": ["similar", run, "--movie", movie],
            "recommend --weekend": ["recommend", run, "--user", str(user), "--weekend"],
            "explain": ["explain", run, "--user", str(user), "--movie", movie],
            "evaluate": ["evaluate", run],
            "--help": ["--help"],
        }
        result = {}
        for name, argv in commands.items():
            times = [_seconds(argv) for _ in range(args.repeats)]
            result[name] = {"median_s": round(statistics.median(times), 2),
                            "min_s": round(min(times), 2)}
            print(f"kerasrec {name:<20} median {statistics.median(times):5.2f} s  "
                  f"(fastest {min(times):.2f} s, {args.repeats} runs)")
    emit(result)


if __name__ == "__main__":
    main()
