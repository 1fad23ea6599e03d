"""NeuMF (He et al., 2017): generalized MF and an MLP, fused by a final layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from kerasrec.models.base import register
from kerasrec.models.keras_model import BuiltKerasModel

if TYPE_CHECKING:
    import keras


def build_neumf(n_users: int, n_items: int, *, gmf_dim: int = 16, mlp_dim: int = 16,
                mlp_units: Sequence[int] = (64, 32, 16), dropout: float = 0.1,
                l2: float = 0.01, global_mean: float = 0.0, name: str = "neumf") -> "keras.Model":
    """Build NeuMF for rating prediction.

    GMF: the element-wise product of user/item embeddings. MLP: a tower over their
    concatenation (separate embeddings). The two are concatenated into Dense(1).

    Args:
        n_users, n_items: Embedding rows (OOV bucket included).
        gmf_dim, mlp_dim: Embedding sizes of the two paths.
        mlp_units: Tower sizes.
        dropout: Dropout after each tower layer.
        l2: Per-occurrence L2 on the embeddings.
        global_mean: Initial output bias.
        name: Model name.

    Returns:
        An uncompiled model with inputs ``user_id`` and ``item_id``.
    """
    import keras
    from keras import layers
    from kerasrec.models.layers import id_input, paired_embeddings

    user, item = id_input("user_id"), id_input("item_id")
    gmf = layers.Multiply(name="gmf_product")(
        paired_embeddings(user, item, n_users, n_items, gmf_dim, l2, "_gmf"))
    x = layers.Concatenate(name="mlp_concat")(
        paired_embeddings(user, item, n_users, n_items, mlp_dim, l2, "_mlp"))
    for k, units in enumerate(mlp_units, start=1):
        x = layers.Dense(units, activation="relu", name=f"mlp_hidden_{k}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"mlp_dropout_{k}")(x)
    fused = layers.Concatenate(name="neumf_concat")([gmf, x])
    out = layers.Dense(1, name="rating",
                       bias_initializer=keras.initializers.Constant(global_mean))(fused)
    return keras.Model([user, item], out, name=name)


@register("neumf")
class NeuMF(BuiltKerasModel):
    """NeuMF. Options: ``gmf_dim``, ``mlp_dim``, ``mlp_units``, ``dropout``, ``l2``."""

    summary = "NeuMF (He et al., 2017): generalized MF fused with an MLP"
    builder = staticmethod(build_neumf)
    sizes = ("gmf_dim", "mlp_dim", "mlp_units")
    item_embedding = "item_embedding_gmf"
