"""Rating timestamps -> context flags (daytime, weekend) in an explicit time zone."""

from __future__ import annotations

from typing import Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from kerasrec.errors import PipelineError

CONTEXT_NAMES = ("daytime", "weekend")


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone (e.g. "UTC", "Europe/Berlin").

    Raises:
        PipelineError: If the zone is unknown.
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise PipelineError(f"unknown time zone {name!r}; use an IANA name such as "
                            "'UTC' or 'America/New_York'") from exc
    return name


def context_features(timestamps: np.ndarray, timezone: str = "UTC",
                     daytime_hours: Tuple[int, int] = (6, 20)) -> np.ndarray:
    """Compute ``daytime`` and ``weekend`` flags from unix timestamps.

    Args:
        timestamps: Unix seconds (UTC).
        timezone: IANA zone in which "day" and "weekend" are judged. Explicit, so the
            same data gives the same features on every machine.
        daytime_hours: ``(start, end)``: daytime is ``start < hour < end`` (exclusive).

    Returns:
        A (n, 2) uint8 array: column 0 daytime, column 1 weekend (Saturday/Sunday).
    """
    when = pd.DatetimeIndex(pd.to_datetime(np.asarray(timestamps, dtype=np.int64), unit="s",
                                           utc=True))
    if timezone != "UTC":
        when = when.tz_convert(check_timezone(timezone))
    hour = when.hour.to_numpy()
    start, end = daytime_hours
    daytime = (hour > start) & (hour < end)
    weekend = when.day_of_week.to_numpy() >= 5
    return np.stack([daytime, weekend], axis=1).astype(np.uint8)
