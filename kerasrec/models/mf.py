"""Biased matrix factorization: global mean + user bias + item bias + dot product."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

from kerasrec.models.base import register
from kerasrec.models.keras_model import BuiltKerasModel

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
class MF(BuiltKerasModel):
    """Biased matrix factorization. Options: ``dim``, ``l2``, ``output``."""

    summary = "biased matrix factorization: mean + user/item biases + dot product"
    builder = staticmethod(build_mf)
    sizes = ("dim",)
    item_embedding = "item_embedding"
