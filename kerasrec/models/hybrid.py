"""The four-branch hybrid: matrix factorization, MLP, item features and context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Tuple

import keras
import numpy as np
from keras import layers

from kerasrec.models.layers import (HistoryFactors, Neighbourhood, SessionBias, l2_penalty, bias, constant_table, id_input,
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
        session_bias: Add a per-(user, session) bias to the bias branch (needs a
            ``timestamp`` input and ``sessions``); ratings outside the training
            sessions get none.
        session_hours: Session window length.
        neighbours: Koren's neighbourhood terms (:class:`Neighbourhood`), on the sides
            listed: ``"item"`` uses the user's baseline residuals on the movies most
            similar to this one, ``"user"`` the residuals of the most similar users
            on this movie; each as a fixed KNN estimate and a learned interpolation
            (needs ``neighbourhood``). An empty tuple switches the branch off.
        neighbour_pool: Most similar movies (users) considered per movie (user).
        neighbour_weights: Learn per-neighbour interpolation weights as well.
        dense_residuals_limit: Up to this many users x movies cells, the neighbourhood
            layers keep residuals in a dense table (fast); above it, in a hash table.
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
    session_bias: bool = True
    session_hours: float = 6.0
    neighbours: Sequence[str] = ("item", "user")
    neighbour_pool: int = 100
    neighbour_weights: bool = True
    dense_residuals_limit: int = 2 ** 25
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
                 train_inputs: Optional[Mapping[str, np.ndarray]] = None,
                 item_feature_table: Optional[np.ndarray] = None,
                 global_mean: Optional[float] = None,
                 target_range: Optional[Tuple[float, float]] = (0.0, 1.0),
                 name: str = "hybrid") -> keras.Model:
    """Build the four-branch hybrid rating model with the Functional API.

    Besides the article's four branches (A: MF, B: MLP, C: item features, D: context)
    the default model has user/item biases plus a per-session user bias, SVD++
    history factors, genre-informed item factors and Koren's item- and user-side
    neighbourhood terms: together worth about 0.04 RMSE on MovieLens. Those that
    look at the training ratings (history, neighbours, sessions) read them from
    ``train_inputs``; the model stores what it needs, so callers pass ids only.

    Args:
        n_users: User embedding rows (``FeaturePipeline.n_users``, OOV bucket included).
        n_items: Item embedding rows (``FeaturePipeline.n_items``).
        n_item_features: Width of ``item_features``.
        n_context: Width of ``context``.
        config: Branch switches and sizes; defaults to :class:`HybridConfig()`.
        train_inputs: ``FeaturePipeline.transform`` of the training ratings
            (``user_id``, ``item_id``, ``rating``, ``timestamp``); needed by
            ``user_history``, ``neighbours`` and ``session_bias``.
        item_feature_table: If given, a (n_items, n_item_features) table held inside
            the model and looked up by ``item_id``; the model then has no
            ``item_features`` input and callers pass ids (and context) only.
        global_mean: Initial output bias; defaults to the mean training target.
        target_range: Range of the targets, for the sigmoid output.
        name: Model name.

    Returns:
        An uncompiled ``keras.Model`` with inputs ``user_id``, ``item_id``,
        ``item_features`` (unless a table is given), ``context`` (if the context
        branch is on) and ``timestamp`` (int64 Unix seconds, -1 if unknown; with the
        session bias), and one output: the predicted (scaled) rating.

    Raises:
        ValueError: If every branch is switched off, a setting is invalid, or
            ``train_inputs`` is missing for an option that needs it.
    """
    c = config or HybridConfig()
    needs_train = [n for n, on in (("user_history", c.mf and c.user_history),
                                   ("neighbours", bool(c.neighbours)),
                                   ("session_bias", c.biases and c.session_bias)) if on]
    if needs_train and train_inputs is None:
        raise ValueError(f"{', '.join(needs_train)} need(s) train_inputs (the transformed "
                         "training ratings); pass them or switch these options off")
    if global_mean is None:
        global_mean = float(np.mean(train_inputs["rating"])) if train_inputs is not None else 0.0
    unknown_sides = set(c.neighbours) - {"item", "user"}
    if unknown_sides:
        raise ValueError(f"neighbours must list 'item' and/or 'user', got {tuple(c.neighbours)}")
    if not (c.mf or c.mlp or c.item_features or c.context or c.biases or c.neighbours):
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
            pooled = HistoryFactors(n_users, n_items, len(train_inputs["user_id"]), c.mf_dim,
                                    activity_regularizer=l2_penalty(c.l2),
                                    name="user_history_factors")
            history_factors = pooled(user)
            pooled.set_history(train_inputs["user_id"], train_inputs["item_id"])
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
    for side in c.neighbours:
        data = neighbourhood_data(train_inputs["user_id"], train_inputs["item_id"],
                                  train_inputs["rating"], n_users, n_items, side,
                                  c.neighbour_pool)
        layer = Neighbourhood(n_users, n_items, len(data["users"]), side=side,
                              pool=data["neighbours"].shape[1],
                              learn_weights=c.neighbour_weights,
                              dense=n_users * n_items <= c.dense_residuals_limit,
                              name=f"{side}_neighbourhood")
        branches.append(layer([user, item]))
        layer.set_neighbourhood(**data)
    if c.biases:
        branches.append(bias(n_users, "user_bias", c.l2)(user))
        branches.append(bias(n_items, "item_bias", c.l2)(item))
        if c.session_bias:
            users = train_inputs["user_id"]
            keys = SessionBias.keys(users, train_inputs.get("timestamp", np.full(len(users), -1)),
                                    c.session_hours)
            timestamp = keras.Input(shape=(), dtype="int64", name="timestamp")
            inputs.append(timestamp)
            layer = SessionBias(max(len(keys), 1), c.session_hours,
                                activity_regularizer=l2_penalty(c.l2), name="session_bias")
            branches.append(layer([user, timestamp]))
            if len(keys):
                layer.set_sessions(keys)

    merged = branches[0] if len(branches) == 1 else layers.Concatenate(name="branches")(branches)
    score = layers.Dense(1, name="rating", bias_initializer=keras.initializers.Constant(global_mean))(merged)
    return keras.Model(inputs, output_head(score, c.output, target_range), name=name)


def neighbourhood_data(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_users: int,
                       n_items: int, side: str = "item", pool: int = 100,
                       support_shrinkage: float = 100.0) -> dict:
    """What a :class:`Neighbourhood` layer needs, from the training ratings.

    Residuals are ratings minus the shrunk baseline ``mu + b_u + b_i``. Similarity is
    the cosine of *who rated what* (binary), shrunk by common support
    ``n_ij / (n_ij + support_shrinkage)``. It deliberately ignores the rating values:
    neighbours chosen by residual cosine are chosen partly by the very rating being
    predicted (for a movie with one rating, its "most similar" movies are those its
    rater liked alike), and such a feature is far stronger on training pairs than
    on new ones (on MovieLens latest-small, correlation 0.77 vs 0.16; by co-rating
    0.26 vs 0.22; ``benchmarks/neighbour_leak.py``).

    Args:
        users, items: Embedding indices of the training ratings.
        ratings: Their (scaled) ratings, in the model's target units.
        n_users, n_items: Index ranges.
        side: ``"item"`` or ``"user"`` neighbours.
        pool: Neighbours kept per movie (user).
        support_shrinkage: Common-user count at which similarity is halved.

    Returns:
        Keyword arguments of :meth:`Neighbourhood.set_neighbourhood`.
    """
    import scipy.sparse as sp

    from kerasrec.models.baselines import nearest_rows, shrunk_biases

    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    mean, user_bias, item_bias = shrunk_biases(users, items, ratings, n_users, n_items)
    residuals = np.asarray(ratings, np.float64) - mean - user_bias[users] - item_bias[items]
    anchors, others, n_anchors, n_others = ((items, users, n_items, n_users) if side == "item"
                                            else (users, items, n_users, n_items))
    rated = sp.csr_matrix((np.ones(len(users), np.float32), (anchors, others)),
                          shape=(n_anchors, n_others))
    rated.data[:] = 1.0  # duplicates would have summed
    neighbours, similarity = nearest_rows(rated, min(2 * pool, n_anchors - 1))
    row = np.repeat(np.arange(n_anchors), neighbours.shape[1])
    support = np.asarray(rated[row].multiply(rated[neighbours.ravel()]).sum(axis=1))
    support = support.reshape(similarity.shape)
    similarity = similarity * support / (support + support_shrinkage)
    best = np.argsort(-similarity, axis=1, kind="stable")[:, :pool]
    return {"neighbours": np.take_along_axis(neighbours, best, axis=1),
            "similarity": np.take_along_axis(similarity, best, axis=1), "users": users,
            "items": items, "residuals": residuals}
