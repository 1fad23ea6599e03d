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


def utc_offsets(timezone: str, first_year: int = 1970,
                last_year: int = 2100) -> Tuple[np.ndarray, np.ndarray]:
    """A time zone's UTC offset history, for computing context without a tz database.

    Programs that cannot convert time zones (a TensorFlow graph) find the offset of a
    Unix time ``t`` as ``offsets[searchsorted(starts, t, side="right") - 1]``.

    Args:
        timezone: IANA zone name.
        first_year, last_year: Span covered exactly; later times keep the last offset.

    Returns:
        ``(starts, offsets)``: int64 Unix seconds from which each offset (int64
        seconds east of UTC) holds; ``starts[0]`` is the smallest int64.

    Raises:
        PipelineError: If the zone is unknown.
    """
    zone = check_timezone(timezone)
    first, last = (int(pd.Timestamp(f"{year}-01-01", tz="UTC").timestamp())
                   for year in (first_year, last_year))
    seconds = np.arange(first, last + 1, 86400, dtype=np.int64)

    def offset_at(t: np.ndarray) -> np.ndarray:
        utc = pd.DatetimeIndex(pd.to_datetime(t, unit="s", utc=True))
        local = utc.tz_convert(zone).tz_localize(None)
        return ((local - utc.tz_localize(None)) // pd.Timedelta(seconds=1)).to_numpy(np.int64)

    offsets = offset_at(seconds)
    change = np.flatnonzero(np.diff(offsets) != 0)
    lo, hi = seconds[change], seconds[change + 1]
    while np.any(hi - lo > 1):  # bisect every change to the second it happens
        mid = (lo + hi) // 2
        same = offset_at(mid) == offsets[change]
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    starts = np.concatenate([[np.iinfo(np.int64).min], hi]).astype(np.int64)
    return starts, np.concatenate([offsets[:1], offsets[change + 1]]).astype(np.int64)
