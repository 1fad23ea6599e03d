"""What every Keras rating model shares: training on (user, movie, context) rows,
scoring in stars, and persistence as one ``.keras`` file loaded in safe mode."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable, ClassVar, Dict, Sequence, Tuple

import numpy as np

from kerasrec.errors import ArtifactError
from kerasrec.models.base import Block, RecModel

KERAS_FILE = "model.keras"


class KerasRatingModel(RecModel):
    """A :class:`RecModel` backed by a ``keras.Model`` that maps ids to a scaled rating.

    Subclasses implement :meth:`build`. Pairs with a user or movie unseen in training
    get the catalog's baseline (``scores_cold_pairs`` is False), since row 0 of every
    id embedding is zero and carries nothing.

    Attributes (after ``fit`` or loading):
        keras_model: The trained ``keras.Model``.
        pipeline: The :class:`~kerasrec.FeaturePipeline` it was trained with.
    """

    train_defaults: Dict[str, Any] = {}
    #: Modules whose import registers the model's own Keras layers and losses, so that
    #: a saved model loads in safe mode (the shared ones, :mod:`kerasrec.models.layers`,
    #: always are).
    keras_modules: ClassVar[Tuple[str, ...]] = ()
    quick_train = {"epochs": 3, "batch_size": 256, "learning_rate": 3e-3}

    def build(self, pipeline, train_inputs: Block, seed: int):
        """Return the uncompiled ``keras.Model`` for ``pipeline``'s vocabularies."""
        raise NotImplementedError

    @property
    def needs_item_features(self) -> bool:
        if hasattr(self, "keras_model"):
            return "item_features" in [t.name for t in self.keras_model.inputs]
        return False

    def fit(self, pipeline, ratings, products, train=None, seed: int = 0) -> "KerasRatingModel":
        self._train(pipeline, ratings, train or self.train_config(seed=seed), seed)
        return self

    def _train(self, pipeline, ratings, config, seed: int):
        """Build and train the model on the rating loss; returns the transformed
        ratings it trained on (for what a subclass fits after training)."""
        import keras

        from kerasrec import training
        from kerasrec.distribute import scope

        x = pipeline.transform(ratings, item_features=self.needs_item_features_for_fit())
        with scope(config.strategy):
            keras.utils.set_random_seed(seed)
            model = self.build(pipeline, x, seed)
            history = training.fit(model, x, x["rating"], config=config)
        zero_unseen_rows(model)
        self.keras_model, self.pipeline = model, pipeline
        self.history = history_in_stars(history.history, pipeline)
        return x

    def needs_item_features_for_fit(self) -> bool:
        """Whether training rows carry ``item_features`` (before the model exists)."""
        return False

    def score(self, block: Block) -> np.ndarray:
        from kerasrec import training

        scaled = training.predict(self.keras_model, block)
        return self.pipeline.to_stars(scaled, block["movie_id"]).astype(np.float64)

    def save_parts(self, folder: Path) -> None:
        self.keras_model.save(folder / KERAS_FILE)

    def load_parts(self, folder: Path, pipeline) -> None:
        self.keras_model = load_keras(folder / KERAS_FILE, type(self).keras_modules)
        self.pipeline = pipeline


class BuiltKerasModel(KerasRatingModel):
    """A Keras rating model made by a ``build_*`` function of the ids alone.

    Subclasses name the function (``builder``; its keyword-only arguments are the
    model's options) and the layer whose table holds the movie vectors
    (``item_embedding``).
    """

    builder: ClassVar[Callable[..., Any]]
    item_embedding: ClassVar[str]

    @classmethod
    def option_names(cls):
        return builder_options(cls.builder)

    @classmethod
    def option_defaults(cls):
        import inspect

        parameters = inspect.signature(cls.builder).parameters
        return {name: parameters[name].default for name in cls.option_names()
                if parameters[name].default is not inspect.Parameter.empty}

    def build(self, pipeline, train_inputs: Block, seed: int):
        import inspect

        builder = type(self).builder
        extra = ({"target_range": target_range(pipeline)}
                 if "target_range" in inspect.signature(builder).parameters else {})
        return builder(pipeline.n_users, pipeline.n_items,
                       global_mean=float(np.mean(train_inputs["rating"])), **extra,
                       **self.options)

    def item_vectors(self, block: Block) -> np.ndarray:
        layer = self.keras_model.get_layer(self.item_embedding)
        return layer.get_weights()[0][block["item_id"]]


def load_keras(path: Path, modules: Sequence[str] = ()):
    """Load a ``.keras`` file in safe mode (no code from the file runs).

    Args:
        path: The file.
        modules: Modules to import first, which register the model's own layers and
            losses (:attr:`KerasRatingModel.keras_modules`).

    Raises:
        ArtifactError: If the file is missing, damaged or asks for code kerasrec does
            not register (e.g. a lambda).
    """
    import importlib

    import keras

    # Registers the shared layers and losses and LazyAdam for deserialization.
    import kerasrec.models.layers  # noqa: F401
    import kerasrec.optimizers  # noqa: F401  (registers LazyAdam)

    for module in modules:
        importlib.import_module(module)

    try:
        with warnings.catch_warnings():
            # The optimizer comes back (class and settings) without its slot variables,
            # which are built on the next step; Keras warns about that on every load.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return keras.saving.load_model(path, safe_mode=True)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ArtifactError(f"'{path}': not a Keras model kerasrec can load safely "
                            f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]}); "
                            "save it again") from None


def history_in_stars(history, pipeline) -> Dict[str, list]:
    """Keras' history as floats, with ``<name>_stars`` beside every RMSE/MAE in scaled
    units, so logs and curves speak the units of the results (0.67 stars, not 0.15)."""
    out = {k: [float(v) for v in vs] for k, vs in history.items()}
    scale = pipeline.stars_per_unit()
    if scale is not None:
        for key in list(out):
            if key.endswith(("rmse", "mae")):
                out[f"{key}_stars"] = [v * abs(scale) for v in out[key]]
    return out


def zero_unseen_rows(model) -> None:
    """Set the out-of-vocabulary row 0 of every trainable id embedding to zero.

    Row 0 never occurs in training, so it keeps its random initial values; zero
    makes an unseen id contribute nothing, also for anyone calling the model directly.
    """
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding) and layer.trainable:
            table = layer.get_weights()[0]
            table[0] = 0.0
            layer.set_weights([table])


def target_range(pipeline):
    """Range of the scaled targets, for sigmoid outputs."""
    if pipeline.scaler.method == "article":  # every movie scaled to [0, 1] on its own
        return (0.0, 1.0)
    lo, hi = pipeline.config.rating_range
    return tuple(float(v) for v in pipeline.scaler.transform(np.array([lo, hi])))


def builder_options(builder):
    """The keyword options of a ``build_*`` function a user may set."""
    import inspect

    fixed = {"n_users", "n_items", "global_mean", "target_range", "name", "seed"}
    return tuple(name for name, p in inspect.signature(builder).parameters.items()
                 if p.kind is p.KEYWORD_ONLY and name not in fixed)
