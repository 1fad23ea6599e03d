"""Movie titles -> clean display name, release year and the ``old`` flags."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kerasrec.schema import MAX_YEAR, MIN_YEAR, parse_titles

__all__ = ["MAX_YEAR", "MIN_YEAR", "old_flags", "parse_titles"]


def old_flags(year: pd.Series, cutoff: int = 2000) -> np.ndarray:
    """``old`` (year < cutoff) and ``year_unknown`` flags as a (n, 2) uint8 array.

    An unknown year is flagged on its own instead of counting as new.
    """
    known = year.notna().to_numpy()
    old = known & (year.fillna(cutoff).to_numpy(dtype=np.int64) < cutoff)
    return np.stack([old, ~known], axis=1).astype(np.uint8)
