"""kerasrec: hybrid movie recommenders with Keras 3, from a spreadsheet of ratings.

Importing ``kerasrec`` loads pandas and NumPy only; TensorFlow is imported when a
model is first built, so data work and the command line stay fast and light, and its
start-up log lines are kept off the terminal (:mod:`kerasrec._quiet`;
``KERASREC_TF_LOGS=1`` shows them). Keras is held to its TensorFlow backend
(:mod:`kerasrec._backend`).
"""

from kerasrec import _backend, _quiet

_backend.use_tensorflow(command_line=_backend.is_the_command_line())
_quiet.install()

from kerasrec.data import (MovieData, load_movies, load_ratings, load_sample, make_sample,
                           sample_path)
from kerasrec.errors import (ArgumentError, ArtifactError, BackendError, CapabilityError,
                             DataError, KerasRecError, MissingDependencyError, NotFittedError,
                             PipelineError, TrainingError, UnknownMovieError)
from kerasrec import metrics
from kerasrec.features import FeaturePipeline
from kerasrec.recommend import Recommender
from kerasrec.split import Split, article_split, leave_last_n, random_split, temporal_split
from kerasrec.training import TrainConfig

from kerasrec._version import __version__

__all__ = ["ArgumentError", "ArtifactError", "BackendError", "CapabilityError", "DataError",
           "FeaturePipeline", "KerasRecError", "MissingDependencyError", "MovieData",
           "NotFittedError", "PipelineError", "Recommender", "TrainingError", "UnknownMovieError",
           "metrics", "Split", "TrainConfig", "article_split", "leave_last_n", "load_movies",
           "load_ratings", "load_sample", "make_sample", "random_split", "sample_path",
           "temporal_split"]
