"""The embedding-concat MLP often used as a Keras recommender baseline."""

from __future__ import annotations

import keras
from keras import layers

from kerasrec.models.layers import id_input, paired_embeddings


def build_embedding_mlp(n_users: int, n_items: int, *, dim: int = 32, l2: float = 0.0,
                        global_mean: float = 0.0, name: str = "embedding_mlp") -> keras.Model:
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
    user, item = id_input("user_id"), id_input("item_id")
    x = layers.Concatenate(name="embedding_concat")(
        paired_embeddings(user, item, n_users, n_items, dim, l2))
    x = layers.Activation("relu", name="concat_relu")(x)
    x = layers.Dropout(0.1, name="concat_dropout")(x)
    x = layers.Dense(10, activation="relu", name="mlp_hidden_1")(x)
    out = layers.Dense(1, name="rating",
                       bias_initializer=keras.initializers.Constant(global_mean))(x)
    return keras.Model([user, item], out, name=name)
