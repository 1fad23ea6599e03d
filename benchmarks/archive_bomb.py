"""Time and peak memory of loading hostile MovieLens archives (issue: bounded reading).

Usage:
    python benchmarks/archive_bomb.py [--inflate-mb 1024]

Builds, in a temporary folder, small zips whose members inflate to ``--inflate-mb``:

* ``movies_bomb``: ``movies.csv`` padded with blank lines past the size limit;
* ``ratings_garbage``: a valid ``ratings.csv`` start, then lines of garbage;
* ``ratings_one_line``: a valid start, then one line of ``--inflate-mb`` megabytes.

Each is loaded with :func:`kerasrec.load_movies` in a fresh process (so peak memory is
its own), which must fail with a ``DataError``; the script prints the archive size,
seconds, peak RSS and the first words of the error, then one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit  # noqa: E402

PRODUCTS = b"movieId,title,genres\n1,Toy Story (1995),Animation\n"
RATINGS = b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"
CHILD = """
import json, resource, sys, time
import kerasrec as kr
start = time.perf_counter()
try:
    kr.load_movies(sys.argv[1])
    outcome = "loaded"
except kr.DataError as exc:
    outcome = "DataError: " + str(exc).split(": ", 1)[-1][:90]
except Exception as exc:
    outcome = f"RAW {type(exc).__name__}: {exc}"[:120]
print(json.dumps({"seconds": round(time.perf_counter() - start, 2), "outcome": outcome,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                       / 1024)}))
"""


def _write(path: Path, movies_tail: bytes, ratings_tail: bytes, megabytes: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("ml/movies.csv", "w", force_zip64=True) as member:
            member.write(PRODUCTS)
            for _ in range(megabytes if movies_tail else 0):
                member.write(movies_tail)
        with zf.open("ml/ratings.csv", "w", force_zip64=True) as member:
            member.write(RATINGS)
            for _ in range(megabytes if ratings_tail else 0):
                member.write(ratings_tail)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inflate-mb", type=int, default=1024)
    args = parser.parse_args()
    mib = 1 << 20
    cases = {
        "movies_bomb": (b"\n" * mib, b""),
        "ratings_garbage": (b"", b"x,y,z,w\n" * (mib // 8)),
        "ratings_one_line": (b"", b"x" * mib),
    }
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (movies_tail, ratings_tail) in cases.items():
            path = _write(Path(folder) / f"{name}.zip", movies_tail, ratings_tail,
                          args.inflate_mb)
            done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                                  text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["zip_kb"] = round(path.stat().st_size / 1024)
            results[name] = result
            print(f"{name:<18} zip {result['zip_kb']:>6} KB -> {args.inflate_mb} MB: "
                  f"{result['seconds']:>6.2f} s, peak {result['peak_rss_mb']:>5} MB, "
                  f"{result['outcome']}")
    emit({"inflate_mb": args.inflate_mb, **results})


if __name__ == "__main__":
    main()
