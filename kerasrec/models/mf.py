"""Biased matrix factorization: global mean + user bias + item bias + dot product."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

from kerasrec.models.base import register
from kerasrec.models.keras_model import KerasRatingModel, builder_options, target_range

if TYPE_CHECKING:
    import keras


def build_mf(n_users: int, n_items: int, *, dim: int = 32, l2: float = 0.03,
             global_mean: float = 0.0, output: str = "linear",
             target_range: Optional[Tuple[float, float]] = (0.0, 1.0),
             name: str = "mf") -> "keras.Model":
    """Build biased MF: ``mu + b_u + b_i + p_u . q_i``.

    Args:
        n_users, n_items: Embedding rows (OOV bucket included).
        dim: Factor size.
        l2: Per-occurrence L2 on factors and biases.
        global_mean: ``mu``, the mean training target (a fixed offset).
        output: ``"linear"`` or ``"sigmoid"`` over ``target_range``.
        name: Model name.

    Returns:
        An uncompiled model with inputs ``user_id`` and ``item_id``.
    """
    import keras
    from keras import layers
    from kerasrec.models.layers import bias, id_input, output_head, paired_embeddings

    user, item = id_input("user_id"), id_input("item_id")
    dot = layers.Dot(axes=1, name="mf_dot")(
        paired_embeddings(user, item, n_users, n_items, dim, l2))
    score = layers.Add(name="score")([dot, bias(n_users, "user_bias", l2)(user),
                                      bias(n_items, "item_bias", l2)(item)])
    score = layers.Rescaling(1.0, offset=float(global_mean), name="global_mean")(score)
    return keras.Model([user, item], output_head(score, output, target_range), name=name)


@register("mf")
class MF(KerasRatingModel):
    """Biased matrix factorization. Options: ``dim``, ``l2``, ``output``."""

    summary = "biased matrix factorization: mean + user/item biases + dot product"

    @classmethod
    def option_names(cls):
        return builder_options(build_mf)

    def build(self, pipeline, train_inputs, seed):
        return build_mf(pipeline.n_users, pipeline.n_items,
                        global_mean=float(np.mean(train_inputs["rating"])),
                        target_range=target_range(pipeline), **self.options)

    def item_vectors(self, block):
        return self.keras_model.get_layer("item_embedding").get_weights()[0][block["item_id"]]
