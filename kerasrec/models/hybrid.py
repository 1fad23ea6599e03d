"""The four-branch hybrid: matrix factorization, MLP, item features and context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import keras
import numpy as np
from keras import layers

from kerasrec.models.layers import (HistoryFactors, l2_penalty, bias, constant_table, id_input,
                                    output_head, paired_embeddings)


@dataclass
class HybridConfig:
    """Settings of :func:`build_hybrid`. The defaults are tuned on MovieLens latest-small
    (validation data cut from the training file only).

    Attributes:
        mf: Branch A, user/item embeddings and their dot product.
        mlp: Branch B, an MLP over concatenated user/item embeddings.
        item_features: Branch C, a dense layer over genres + old (+ year_unknown).
        context: Branch D, a dense layer over daytime/weekend.
        biases: Per-user and per-item biases (a branch of their own).
        mf_dim: Size of the MF embeddings.
        similarity: ``"dot"`` (default) or ``"cosine"`` (the article's normalised dot).
        user_history: Add SVD++ implicit-feedback factors to the MF user embedding,
            pooled from the movies the user rated in training (needs ``history``).
        feature_factors: Add a projection of the item features to the MF item
            embedding, so rarely rated movies borrow factors from their genres.
        mlp_dim: Size of the MLP embeddings.
        mlp_units: Hidden layer sizes of the MLP branch.
        dropout: Dropout after each MLP hidden layer.
        feature_units: Width of the item-feature branch.
        context_units: Width of the context branch.
        l2: Per-occurrence L2 on embeddings and biases.
        output: ``"linear"`` (the article) or ``"sigmoid"`` stretched over the target range.
    """

    mf: bool = True
    mlp: bool = True
    item_features: bool = True
    context: bool = True
    biases: bool = True
    mf_dim: int = 32
    similarity: str = "dot"
    feature_factors: bool = True
    user_history: bool = True
    mlp_dim: int = 16
    mlp_units: Sequence[int] = (64, 32)
    dropout: float = 0.2
    feature_units: int = 8
    context_units: int = 4
    l2: float = 0.03
    output: str = "linear"


def build_hybrid(n_users: int, n_items: int, n_item_features: int, n_context: int = 2, *,
                 config: Optional[HybridConfig] = None,
                 item_feature_table: Optional[np.ndarray] = None,
                 history: Optional[Tuple[np.ndarray, np.ndarray]] = None,
                 global_mean: float = 0.0,
                 target_range: Optional[Tuple[float, float]] = (0.0, 1.0),
                 name: str = "hybrid") -> keras.Model:
    """Build the four-branch hybrid rating model with the Functional API.

    Args:
        n_users: User embedding rows (``FeaturePipeline.n_users``, OOV bucket included).
        n_items: Item embedding rows (``FeaturePipeline.n_items``).
        n_item_features: Width of ``item_features``.
        n_context: Width of ``context``.
        config: Branch switches and sizes; defaults to :class:`HybridConfig()`.
        item_feature_table: If given, a (n_items, n_item_features) table held inside
            the model and looked up by ``item_id``; the model then has no
            ``item_features`` input and callers pass ids (and context) only.
        history: ``(user_index, item_index)`` arrays of the training ratings, for the
            ``user_history`` factors; required when that option is on.
        global_mean: Initial output bias: the mean training target.
        target_range: Range of the targets, for the sigmoid output.
        name: Model name.

    Returns:
        An uncompiled ``keras.Model`` with inputs ``user_id``, ``item_id``,
        ``item_features`` (unless a table is given) and ``context`` (if the context
        branch is on), and one output: the predicted (scaled) rating.

    Raises:
        ValueError: If every branch is switched off or a setting is invalid.
    """
    c = config or HybridConfig()
    if not (c.mf or c.mlp or c.item_features or c.context or c.biases):
        raise ValueError("switch on at least one branch of the hybrid")
    if c.similarity not in ("dot", "cosine"):
        raise ValueError(f"similarity must be 'dot' or 'cosine', got {c.similarity!r}")
    user, item = id_input("user_id"), id_input("item_id")
    inputs = [user, item]
    needs_features = c.item_features or (c.mf and c.feature_factors)
    features = None
    if needs_features:
        if item_feature_table is not None:
            features = constant_table(item, item_feature_table, "item_feature_table")
        else:
            features = keras.Input((n_item_features,), name="item_features")
            inputs.append(features)

    branches = []
    if c.mf:
        user_factors, item_factors = paired_embeddings(user, item, n_users, n_items, c.mf_dim,
                                                       c.l2, "_mf")
        if c.user_history:
            if history is None:
                raise ValueError("user_history needs history=(user_index, item_index) of the "
                                 "training ratings")
            pooled = HistoryFactors(n_users, n_items, len(history[0]), c.mf_dim,
                                    activity_regularizer=l2_penalty(c.l2),
                                    name="user_history_factors")
            history_factors = pooled(user)
            pooled.set_history(*history)
            user_factors = layers.Add(name="user_factors")([user_factors, history_factors])
        if c.feature_factors:
            genre_factors = layers.Dense(c.mf_dim, use_bias=False, name="item_feature_factors")(features)
            item_factors = layers.Add(name="item_factors")([item_factors, genre_factors])
        branches.append(layers.Dot(axes=1, normalize=c.similarity == "cosine",
                                   name="mf_dot")([user_factors, item_factors]))
    if c.mlp:
        x = layers.Concatenate(name="mlp_concat")(
            paired_embeddings(user, item, n_users, n_items, c.mlp_dim, c.l2, "_mlp"))
        for k, units in enumerate(c.mlp_units, start=1):
            x = layers.Dense(units, activation="relu", name=f"mlp_hidden_{k}")(x)
            if c.dropout:
                x = layers.Dropout(c.dropout, name=f"mlp_dropout_{k}")(x)
        branches.append(x)
    if c.item_features:
        branches.append(layers.Dense(c.feature_units, activation="relu",
                                     name="item_features_dense")(features))
    if c.context:
        ctx = keras.Input((n_context,), name="context")
        inputs.append(ctx)
        branches.append(layers.Dense(c.context_units, activation="relu",
                                     name="context_dense")(ctx))
    if c.biases:
        branches.append(bias(n_users, "user_bias", c.l2)(user))
        branches.append(bias(n_items, "item_bias", c.l2)(item))

    merged = branches[0] if len(branches) == 1 else layers.Concatenate(name="branches")(branches)
    score = layers.Dense(1, name="rating", bias_initializer=keras.initializers.Constant(global_mean))(merged)
    return keras.Model(inputs, output_head(score, c.output, target_range), name=name)
