"""Rating timestamps -> context flags (daytime, weekend) in an explicit time zone.

The rule itself lives in :mod:`kerasrec.schema` (NumPy and TensorFlow forms side by
side), which the data layer shares; this module is its feature-layer name.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from kerasrec.errors import ArgumentError
from kerasrec.schema import (CONTEXT_NAMES, check_timezone, context_features,
                             context_features_tf, utc_offsets)

__all__ = ["CONTEXT_NAMES", "check_timezone", "context_features", "context_features_tf",
           "utc_offsets", "with_context"]


def with_context(pairs: pd.DataFrame, context) -> pd.DataFrame:
    """``pairs`` with a context: ``None`` (as they are), a dict of ``daytime``/``weekend``
    (or ``timestamp``) values, or a timestamp (Unix seconds or ``pd.Timestamp``).

    Raises:
        ArgumentError: For dict keys other than daytime, weekend and timestamp.

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
        if "timestamp" in context:
            context = {**context, "timestamp": _unix_seconds(context["timestamp"])}
        return pairs.assign(**{k: v for k, v in context.items()})
    return pairs.assign(timestamp=_unix_seconds(context))


#: Context timestamps are Unix seconds from 1970 up to the year 9999, or -1: unknown.
_LAST_SECOND = 253_402_300_799


def _unix_seconds(value) -> int:
    """A context timestamp (Unix seconds or ``pd.Timestamp``) as int seconds.

    -1 is the pipeline's "time unknown" (no session, context from the flags).

    Raises:
        ArgumentError: For values that are not a time between 1970 and 9999 (or -1).
    """
    if isinstance(value, pd.Timestamp):
        value = value.timestamp()
    if np.ndim(value):  # one per pair
        try:
            seconds = np.asarray(value, dtype=np.int64)
        except (TypeError, ValueError, OverflowError):
            raise ArgumentError("context timestamps must be Unix seconds") from None
        if seconds.size and (seconds.min() < -1 or seconds.max() > _LAST_SECOND):
            raise ArgumentError("context timestamps must be Unix seconds between 0 (1970) and "
                                f"{_LAST_SECOND} (9999)")
        return seconds
    try:
        seconds = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ArgumentError(f"a context timestamp must be Unix seconds or a pandas Timestamp, "
                            f"got {value!r}") from None
    if not -1 <= seconds <= _LAST_SECOND:
        raise ArgumentError(f"a context timestamp must be Unix seconds between 0 (1970) and "
                            f"{_LAST_SECOND} (9999), or -1 for unknown; got {value!r}")
    return seconds
