"""Build any Keras model of the package by name, sized from a fitted FeaturePipeline."""

from __future__ import annotations

from dataclasses import fields
from typing import Dict, Mapping, Optional

import numpy as np

KERAS_MODELS = ("hybrid", "mf", "neumf", "embedding_mlp")
BASELINE_MODELS = ("global_mean", "baseline", "content", "user_knn", "item_knn", "svd")


def build_model(name: str, pipeline, train_inputs: Mapping[str, np.ndarray], *,
                seed: Optional[int] = None, **options):
    """Build the Keras rating model ``name`` for data prepared by ``pipeline``.

    Args:
        name: One of :data:`KERAS_MODELS`.
        pipeline: The fitted :class:`~kerasrec.FeaturePipeline`.
        train_inputs: ``pipeline.transform(train_ratings)``: gives the global mean and,
            for the hybrid's history factors, the training pairs.
        seed: Seeds weight initialisation (Python, NumPy and Keras generators), so the
            same seed builds the same model; ``None`` leaves the generators as they are.
        **options: Builder keyword arguments; for the hybrid, :class:`HybridConfig`
            fields (e.g. ``mlp=False``) and ``ids_only=True`` to hold the item feature
            table inside the model.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: For an unknown name or option.
    """
    from kerasrec.models import (HybridConfig, build_embedding_mlp, build_hybrid, build_mf,
                                 build_neumf)

    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    mean = float(np.mean(train_inputs["rating"]))
    sizes = dict(n_users=pipeline.n_users, n_items=pipeline.n_items)
    if name == "hybrid":
        known = {f.name for f in fields(HybridConfig)}
        unknown = set(options) - known - {"ids_only", "name"}
        if unknown:
            raise ValueError(f"unknown hybrid option(s) {sorted(unknown)}; choose from "
                             f"{sorted(known | {'ids_only'})}")
        ids_only = options.pop("ids_only", False)
        name_option = {"name": options.pop("name")} if "name" in options else {}
        config = HybridConfig(**options)
        return build_hybrid(
            **sizes, n_item_features=len(pipeline.feature_names),
            n_context=len(pipeline.context_names), config=config, global_mean=mean,
            train_inputs=train_inputs,
            item_feature_table=pipeline.item_feature_table() if ids_only else None,
            target_range=_target_range(pipeline), **name_option)
    builders: Dict[str, object] = {"mf": build_mf, "neumf": build_neumf,
                                   "embedding_mlp": build_embedding_mlp}
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; Keras models: {KERAS_MODELS}")
    return builders[name](**sizes, global_mean=mean, **options)


def _target_range(pipeline):
    if pipeline.scaler.method == "article":  # every movie scaled to [0, 1] on its own
        return (0.0, 1.0)
    lo, hi = pipeline.config.rating_range
    return tuple(float(v) for v in pipeline.scaler.transform(np.array([lo, hi])))


def build_baseline(name: str, **options):
    """A non-Keras baseline by name (see :data:`BASELINE_MODELS`)."""
    from kerasrec.models import baselines as b

    makers = {"global_mean": lambda **o: b.BaselineRecommender(use_biases=False, **o),
              "baseline": b.BaselineRecommender, "content": b.ContentBasedRecommender,
              "user_knn": lambda **o: b.KNNRecommender("user", **o),
              "item_knn": lambda **o: b.KNNRecommender("item", **o),
              "svd": b.TruncatedSVDRecommender}
    if name not in makers:
        raise ValueError(f"unknown baseline {name!r}; choose from {BASELINE_MODELS}")
    return makers[name](**options)
