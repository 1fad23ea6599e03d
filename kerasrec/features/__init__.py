"""Feature engineering: titles, genres, time context, id vocabularies and rating scaling."""

from kerasrec.features.context import CONTEXT_NAMES, context_features
from kerasrec.features.genres import encode_genres, genre_vocabulary
from kerasrec.features.pipeline import FeatureConfig, FeaturePipeline
from kerasrec.features.scaling import RatingScaler
from kerasrec.features.titles import old_flags, parse_titles

__all__ = ["CONTEXT_NAMES", "FeatureConfig", "FeaturePipeline", "RatingScaler",
           "context_features", "encode_genres", "genre_vocabulary", "old_flags", "parse_titles"]
