"""Models: the contract (:mod:`kerasrec.models.base`), one file per model, the layers.

Every model registers itself under a name; :func:`model_names` lists them and
:func:`model_class` finds one. Importing this package does not import Keras: the
builders and layers load it on first use.
"""

from kerasrec.models.base import RecModel, model_class, model_names, register

__all__ = ["RecModel", "build_model", "model_class", "model_names", "register"]

# Keras-backed names, loaded on first use so that listing models stays light.
_LAZY = {
    "build_autorec": "autorec", "rating_matrix": "autorec", "build_mf": "mf",
    "build_neumf": "neumf", "build_embedding_mlp": "embedding_mlp",
    "HybridConfig": "hybrid", "HybridBackbone": "hybrid", "neighbourhood_data": "hybrid",
    "HistoryFactors": "hybrid.history_layers", "Neighbourhood": "hybrid.history_layers",
    "SessionBias": "hybrid.time_layers", "masked_squared_error": "layers",
    "BaselineRecommender": "baselines",
    "ContentBasedRecommender": "baselines", "KNNRecommender": "baselines",
    "TruncatedSVDRecommender": "baselines", "shrunk_biases": "baselines",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"kerasrec.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'kerasrec.models' has no attribute {name!r}")


def build_model(name: str, pipeline, train_inputs, *, seed=None, **options):
    """The uncompiled ``keras.Model`` of the registered Keras model ``name``.

    Args:
        name: A registered model with a Keras builder (e.g. ``"hybrid"``, ``"mf"``).
        pipeline: The fitted :class:`~kerasrec.FeaturePipeline`.
        train_inputs: ``pipeline.transform(train_ratings)``.
        seed: Seeds weight initialisation; None leaves the generators as they are.
        **options: The model's options (e.g. ``mlp=False`` for the hybrid).

    Raises:
        ArgumentError: For an unknown name or option.
        CapabilityError: If the model has no Keras builder.
    """
    from kerasrec.errors import CapabilityError

    model = model_class(name)(**options)
    if not hasattr(model, "build"):
        raise CapabilityError(f"model {name!r} is not built with Keras")
    if seed is not None:
        import keras

        keras.utils.set_random_seed(seed)
    return model.build(pipeline, train_inputs, seed)
