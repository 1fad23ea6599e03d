"""The embedding-concat MLP often used as a Keras recommender baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasrec.models.base import register
from kerasrec.models.keras_model import BuiltKerasModel

if TYPE_CHECKING:
    import keras


def build_embedding_mlp(n_users: int, n_items: int, *, dim: int = 32, l2: float = 0.0,
                        global_mean: float = 0.0, name: str = "embedding_mlp") -> "keras.Model":
    """Concatenated embeddings -> ReLU -> Dropout(0.1) -> Dense(10, relu) -> Dense(1).

    Args:
        n_users, n_items: Embedding rows (OOV bucket included).
        dim: Embedding size.
        l2: Per-occurrence L2 on the embeddings (0 as in the usual recipe).
        global_mean: Initial output bias.
        name: Model name.

    Returns:
        An uncompiled model with inputs ``user_id`` and ``item_id``.
    """
    import keras
    from keras import layers
    from kerasrec.models.layers import id_input, paired_embeddings

    user, item = id_input("user_id"), id_input("item_id")
    x = layers.Concatenate(name="embedding_concat")(
        paired_embeddings(user, item, n_users, n_items, dim, l2))
    x = layers.Activation("relu", name="concat_relu")(x)
    x = layers.Dropout(0.1, name="concat_dropout")(x)
    x = layers.Dense(10, activation="relu", name="mlp_hidden_1")(x)
    out = layers.Dense(1, name="rating",
                       bias_initializer=keras.initializers.Constant(global_mean))(x)
    return keras.Model([user, item], out, name=name)


@register("embedding_mlp")
class EmbeddingMLP(BuiltKerasModel):
    """Concatenated embeddings into an MLP. Options: ``dim``, ``l2``."""

    summary = "embedding-concat MLP, the usual Keras recommender baseline"
    builder = staticmethod(build_embedding_mlp)
    sizes = ("dim",)
    item_embedding = "item_embedding"
