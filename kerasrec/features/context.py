"""Rating timestamps -> context flags (daytime, weekend) in an explicit time zone.

The rule itself lives in :mod:`kerasrec.schema` (NumPy and TensorFlow forms side by
side), which the data layer shares; this module is its feature-layer name.
"""

from kerasrec.schema import (CONTEXT_NAMES, check_timezone, context_features,
                             context_features_tf, utc_offsets)

__all__ = ["CONTEXT_NAMES", "check_timezone", "context_features", "context_features_tf",
           "utc_offsets"]
