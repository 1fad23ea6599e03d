"""Time load + all features, and compare with the article's row-by-row pipeline.

Usage:
    python benchmarks/features.py                  # ../shared/data/data_movies.xlsx (or the sample)
    python benchmarks/features.py --data FILE      # any input load_movies accepts
    python benchmarks/features.py --rows 10000000  # generated ratings, read from Parquet
    python benchmarks/features.py --no-article     # skip the comparison

Prints one JSON object as its last line: seconds (load + features, wall), load_seconds,
with_ratings_seconds (checking every rating again, as ``data.with_ratings(part)`` checks a
split's part; not in ``seconds``), peak_rss_mb, rows, and, unless --no-article, article_seconds for the article's pipeline
(run in a separate process so its memory does not mix with ours).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, emit, peak_rss_mb  # noqa: E402


def ours(path: str) -> dict:
    import kerasrec as kr

    start = time.perf_counter()
    data = kr.load_movies(path)
    loaded = time.perf_counter()
    inputs = kr.FeaturePipeline().fit_transform(data)
    done = time.perf_counter()
    # What checking a split's part costs (data.with_ratings(train)), on every rating.
    data.with_ratings(data.ratings)
    checked = time.perf_counter()
    return {"seconds": round(done - start, 3), "load_seconds": round(loaded - start, 3),
            "feature_seconds": round(done - loaded, 3),
            "with_ratings_seconds": round(checked - done, 3), "rows": len(inputs["user_id"]),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def article(path: str) -> dict:
    """The article's pipeline, step by step: openpyxl, per-row apply, per-movie scaling."""
    import pandas as pd
    from sklearn.preprocessing import MinMaxScaler

    start = time.perf_counter()
    products = pd.read_excel(path, sheet_name="products", engine="openpyxl")
    users = pd.read_excel(path, sheet_name="users", engine="openpyxl")
    products["year"] = products["title"].apply(
        lambda t: int(str(t).strip()[-5:-1]) if str(t).strip()[-1] == ")" else 9999)
    products["old"] = products["year"].apply(lambda y: 1 if y < 2000 else 0)
    genres = list(set("|".join(products["genres"].fillna("").astype(str)).split("|")))
    for genre in genres:
        products[genre] = products["genres"].apply(lambda g: 1 if genre in str(g) else 0)
    users["date"] = users["timestamp"].apply(datetime.fromtimestamp)
    users["daytime"] = users["date"].apply(lambda d: 1 if 6 < int(d.strftime("%H")) < 20 else 0)
    users["weekend"] = users["date"].apply(lambda d: 1 if d.weekday() in (5, 6) else 0)
    matrix = users.pivot_table(index="userId", columns="movieId", values="rating")
    scaled = pd.DataFrame(MinMaxScaler(feature_range=(0.5, 1)).fit_transform(matrix),
                          columns=matrix.columns, index=matrix.index)
    done = time.perf_counter()
    return {"article_seconds": round(done - start, 3), "article_rows": int(scaled.notna().sum().sum()),
            "article_peak_rss_mb": round(peak_rss_mb(), 1)}


def generated(rows: int, folder: Path) -> Path:
    import kerasrec as kr
    from kerasrec.data import write_parquet

    # MovieLens-25M proportions: ~6.5 users and ~2.4 movies per thousand ratings.
    n_users, n_movies = max(100, rows * 65 // 10_000), max(200, rows * 24 // 10_000)
    write_parquet(kr.make_sample(n_users, n_movies, rows, seed=0), folder)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="input for load_movies (default: the real workbook)")
    parser.add_argument("--rows", type=int, help="generate this many ratings instead")
    parser.add_argument("--no-article", action="store_true")
    parser.add_argument("--mode", choices=["ours", "article"], default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:  # child process: one measurement, one JSON line
        emit(ours(args.data) if args.mode == "ours" else article(args.data))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        if args.rows:
            path = str(generated(args.rows, Path(tmp) / "ratings"))
        else:
            import kerasrec as kr

            path = args.data or str(REAL_XLSX if REAL_XLSX.is_file() else kr.sample_path())
        result = {"data": path if not args.rows else f"generated:{args.rows}"}
        # Each measurement runs in a fresh process so peak RSS is its own.
        result.update(_child(path, "ours"))
        if not args.no_article and not args.rows:
            result.update(_child(path, "article"))
            result["speedup"] = round(result["article_seconds"] / result["seconds"], 1)
    emit(result)
    return 0


def _child(path: str, mode: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--mode", mode, "--data", path],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
