"""The hybrid: config, Keras backbone, additive terms and the registered model.

Importing this package does not import Keras; ``HybridBackbone`` and
``neighbourhood_data`` load it on first use.
"""

from kerasrec.models.hybrid.config import HybridConfig
from kerasrec.models.hybrid.model import Hybrid

__all__ = ["Hybrid", "HybridBackbone", "HybridConfig", "neighbourhood_data"]


def __getattr__(name):
    if name in ("HybridBackbone", "neighbourhood_data"):
        from kerasrec.models.hybrid import backbone

        return getattr(backbone, name)
    raise AttributeError(name)
