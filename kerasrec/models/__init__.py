"""Model builders (Keras Functional API) and non-Keras baselines.

Importing this module imports Keras (and TensorFlow).
"""

from kerasrec.models.autorec import build_autorec, rating_matrix
from kerasrec.models.baselines import (BaselineRecommender, ContentBasedRecommender,
                                       KNNRecommender, TruncatedSVDRecommender)
from kerasrec.models.embedding_mlp import build_embedding_mlp
from kerasrec.models.hybrid import HybridConfig, build_hybrid, neighbourhood_data
from kerasrec.models.layers import HistoryFactors, Neighbourhood, masked_squared_error
from kerasrec.models.mf import build_mf
from kerasrec.models.neumf import build_neumf
from kerasrec.models.registry import (BASELINE_MODELS, KERAS_MODELS, build_baseline,
                                      build_model)

__all__ = ["BASELINE_MODELS", "BaselineRecommender", "ContentBasedRecommender",
           "HistoryFactors", "HybridConfig", "Neighbourhood", "KERAS_MODELS", "KNNRecommender",
           "TruncatedSVDRecommender", "build_autorec", "build_baseline",
           "build_embedding_mlp", "build_hybrid", "build_model", "build_mf", "build_neumf",
           "neighbourhood_data", "masked_squared_error", "rating_matrix"]
