"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_XLSX = SHARED / "data" / "data_movies.xlsx"
SPLITS = SHARED / "data" / "splits"
SCORER = SHARED / "bench" / "score_predictions.py"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(result: dict) -> None:
    """Print the result as one JSON object on the last line of output."""
    sys.stdout.flush()
    print(json.dumps(result))


def missing_real_data() -> bool:
    """Say so on stderr, and return True, when ../shared's workbook is absent."""
    if REAL_XLSX.is_file():
        return False
    print(f"needs {REAL_XLSX} (../shared beside the checkout)", file=sys.stderr)
    return True
