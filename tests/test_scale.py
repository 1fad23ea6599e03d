"""``benchmarks/scale.py``: generated data -> Parquet -> features -> one hybrid epoch.

CI runs it on 1M ratings; the 25M run is marked slow (``--runslow``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"


def _scale(rows: int) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), "--rows", str(rows)],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _check(result: dict, rows: int) -> None:
    assert result["rows"] == rows
    # MovieLens-25M proportions: 6.5 users and 2.4 movies per thousand ratings.
    assert result["users"] == pytest.approx(rows * 0.0065, rel=0.02)
    assert result["movies"] <= rows * 0.0024
    assert result["epoch_seconds"] > 0 and result["rows_per_second"] > 0
    # One epoch of large batches learns: its loss, L2 penalties included, is below
    # the mean rating's squared error.
    assert result["epoch_loss"] < result["target_variance"]


def test_scale_one_million():
    _check(_scale(1_000_000), 1_000_000)


@pytest.mark.slow
def test_scale_twenty_five_million():
    result = _scale(25_000_000)
    _check(result, 25_000_000)
    assert result["peak_rss_mb"] <= 6 * 1024
