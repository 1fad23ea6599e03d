"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_XLSX = SHARED / "data" / "data_movies.xlsx"
SPLITS = SHARED / "data" / "splits"
SCORER = SHARED / "bench" / "score_predictions.py"


def split_file(split: str, part: str = "train") -> Path:
    """The shared split's file: ``split`` "random" or "temporal", ``part`` "train" or
    "test"."""
    return SPLITS / f"movies_{split}80_{part}.csv"


def validation_cut(split: str = "temporal", holdout: float = 0.1):
    """The split's training file cut the way its test file was cut from the whole, for
    choosing settings without reading the test file: each user's latest ``holdout``
    (``temporal``) or a random ``holdout`` with seed 1 (``random``).

    Returns:
        ``(fit part, held-out part, the users in both as a sorted array)``.
    """
    import numpy as np

    import kerasrec as kr

    train = kr.load_ratings(split_file(split))
    fit_part, held = (kr.random_split(train, holdout, seed=1) if split == "random"
                      else kr.temporal_split(train, holdout))
    return fit_part, held, np.intersect1d(held["userId"].unique(), fit_part["userId"].unique())


def temporal_hybrid(data, ratings, seed: int = 0):
    """The default hybrid fitted on ``ratings`` (with ``data``'s catalog), its settings
    chosen on each user's latest ratings as for the temporal split: the model the
    sequence experiments take apart."""
    import kerasrec as kr
    from kerasrec.models.hybrid import Hybrid

    return kr.Recommender("hybrid", seed=seed, verbose=0, train=Hybrid.train_config(
        seed=seed, validation_cut="temporal")).fit(data.with_ratings(ratings))


def hybrid_on_temporal_cut(seed: int = 0):
    """The real catalog and the temporal :func:`validation_cut`, with
    :func:`temporal_hybrid` fitted on its fit part: where the sequence experiments start.

    Returns:
        ``(data, fit part, held-out part, users in both, fitted Recommender)``.
    """
    import kerasrec as kr

    data = kr.load_movies(REAL_XLSX)
    fit, held, users = validation_cut("temporal")
    return data, fit, held, users, temporal_hybrid(data, fit, seed)


def rss_mb() -> float:
    """Resident set size of this process now, in MB (Linux)."""
    with open("/proc/self/statm") as stat:
        return int(stat.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def folder_mb(folder) -> float:
    """Size of every file below ``folder``, in MB."""
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / 2 ** 20


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB.

    Linux's ``VmHWM``, not ``getrusage``: Linux keeps ``ru_maxrss`` across ``exec``, so a
    child process (``scale.py`` measures in one) would report its parent's peak when
    that was higher (``tests/test_scale.py`` starts one from a 400 MB parent).
    """
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status
                        if line.startswith("VmHWM")) / 1024.0
    except (OSError, StopIteration):  # no /proc: ru_maxrss (KiB on Linux and BSD)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


#: Libraries whose versions a figure depends on, recorded when the benchmark loaded them.
LIBRARIES = ("kerasrec", "tensorflow", "keras", "numpy", "pandas", "sklearn", "scipy",
             "pyarrow")


def environment() -> dict:
    """Where a figure was measured: the kerasrec checkout's commit (``+changes`` when its
    files differ from it), the versions of the libraries loaded, and the machine; so a
    figure that moves between runs can be traced to the code, a library or the machine.
    """
    loaded = sys.modules.get("kerasrec")
    checkout = Path(loaded.__file__).resolve().parents[1] if loaded else ROOT

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(checkout), *args], capture_output=True,
                                  text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or None
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += "+changes"
    versions = {name: getattr(sys.modules[name], "__version__", None)
                for name in LIBRARIES if name in sys.modules}
    return {"commit": commit, "python": platform.python_version(), **versions,
            "cpus": os.cpu_count(), "machine": platform.machine()}


def emit(result: dict) -> None:
    """Print the result as one JSON object on the last line of output, with the
    :func:`environment` it was measured in (under ``"environment"``; a result passed on
    from the process that measured it keeps that process's)."""
    sys.stdout.flush()
    if isinstance(result, dict) and "environment" not in result:
        result = {**result, "environment": environment()}
    print(json.dumps(result))


def missing_real_data() -> bool:
    """Say so on stderr, and return True, when ../shared's workbook is absent."""
    if REAL_XLSX.is_file():
        return False
    print(f"needs {REAL_XLSX} (../shared beside the checkout)", file=sys.stderr)
    return True
