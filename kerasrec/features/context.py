"""Rating timestamps -> context flags (daytime, weekend) in an explicit time zone.

The rule itself lives in :mod:`kerasrec.schema` (NumPy and TensorFlow forms side by
side), which the data layer shares; this module is its feature-layer name.
"""

from __future__ import annotations

from typing import Mapping

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
        return pairs.assign(**{k: v for k, v in context.items()})
    if isinstance(context, pd.Timestamp):
        context = int(context.timestamp())
    return pairs.assign(timestamp=int(context))
