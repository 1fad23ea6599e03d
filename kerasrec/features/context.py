"""Rating timestamps -> context flags (daytime, weekend) in an explicit time zone.

The rule itself lives in :mod:`kerasrec.schema` (NumPy and TensorFlow forms side by
side), which the data layer shares; this module is its feature-layer name.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from kerasrec.data.validate import time_cells
from kerasrec.errors import ArgumentError, is_number, preview
from kerasrec.schema import (CONTEXT_NAMES, check_timezone, context_features,
                             context_features_tf, utc_offsets)

__all__ = ["CONTEXT_NAMES", "check_timezone", "context_features", "context_features_tf",
           "unix_seconds", "utc_offsets", "with_context"]


def with_context(pairs: pd.DataFrame, context) -> pd.DataFrame:
    """``pairs`` with a context: ``None`` (as they are), a dict of ``daytime``/``weekend``
    (or ``timestamp``) values, or a timestamp (Unix seconds or a date, naive ones UTC).

    Raises:
        ArgumentError: For dict keys other than daytime, weekend and timestamp, one flag
            without the other (it would read as 0) or flags other than 0/1.

    Example:
        >>> with_context(pairs, {"daytime": 1, "weekend": 0})
    """
    if context is None:
        return pairs
    if isinstance(context, Mapping):
        unknown = set(context) - {"daytime", "weekend", "timestamp"}
        if unknown:
            raise ArgumentError(f"context keys must be daytime, weekend or timestamp; got "
                                f"{sorted(unknown)}")
        flags = [name for name in CONTEXT_NAMES if name in context]
        if len(flags) == 1:
            raise ArgumentError(f"context needs both daytime and weekend (0 or 1), or a "
                                f"timestamp alone; got {flags[0]!r} without the other")
        for name in flags:
            value = context[name]
            if not (isinstance(value, (bool, np.bool_)) or (is_number(value)
                                                             and value in (0, 1))):
                raise ArgumentError(f"context {name} must be 0 or 1 (or True/False), got "
                                    f"{value!r}")
        if "timestamp" in context:
            context = {**context, "timestamp": _unix_seconds(context["timestamp"])}
        return pairs.assign(**{k: v for k, v in context.items()})
    return pairs.assign(timestamp=_unix_seconds(context))


#: Context timestamps are Unix seconds from 1970 up to the year 9999, or -1: unknown.
_LAST_SECOND = 253_402_300_799


def unix_seconds(values) -> np.ndarray:
    """Rating times as int64 Unix seconds, -1 where unknown, the way the loaders read them.

    Numbers are Unix seconds; ``datetime64`` values, pandas Timestamps,
    ``datetime``/``date`` objects and ISO 8601 text are dates, naive ones UTC
    (:func:`~kerasrec.data.validate.time_cells`, the loaders' rule); NaN, NaT and None
    are unknown. A column of dates would otherwise be read as nanoseconds.

    Args:
        values: A sequence or Series, one time per rating.

    Raises:
        ArgumentError: For values that are neither numbers nor dates, or times outside
            1970-9999 (other than -1).

    Example:
        >>> unix_seconds(pd.Series(pd.to_datetime(["2001-09-09 01:46:40", None]))).tolist()
        [1000000000, -1]
    """
    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_integer_dtype(series):  # the common case, kept cheap for large tables
        seconds = series.to_numpy(np.float64)
    else:
        known = series.notna().to_numpy()
        seconds, _ = time_cells(series)
        bad = known & np.isnan(seconds)
        seconds[~known] = -1
        if bad.any():
            raise ArgumentError(f"timestamps must be Unix seconds or dates, found "
                                f"{preview(series[bad].unique())}")
    out = (seconds < -1) | (seconds > _LAST_SECOND)
    if out.any():
        raise ArgumentError(f"timestamps must be Unix seconds between 0 (1970) and "
                            f"{_LAST_SECOND} (9999), or -1 for unknown; found "
                            f"{preview(series[out].unique())}")
    return np.floor(seconds).astype(np.int64)


def _unix_seconds(value):
    """A context timestamp (Unix seconds or a date), or one per pair, as int seconds.

    -1 is the pipeline's "time unknown" (no session, context from the flags).

    Raises:
        ArgumentError: For values that are not a time between 1970 and 9999 (or -1).
    """
    if np.ndim(value):  # one per pair
        return unix_seconds(value)
    return int(unix_seconds([value])[0])
