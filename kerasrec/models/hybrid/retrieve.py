"""The hybrid's two stages in TensorFlow: what it retrieves from the whole catalog, and
its stars for the candidates (:meth:`~kerasrec.models.base.RecModel.retrieval_module`).

With the retrieval tower, the first stage is what lists rank by without the stars:
the retrieval query ``q_u`` (pooled history, plus ``recent_weight`` x the sequence
branch) against every movie vector and bias, plus ``co_watch_weight`` x the co-watch
scores of the user's whole history (:func:`retrieval_stage`). Without it, lists rank
by stars and the first stage only chooses the candidates: the rating head's
factorized share, its MF dot product plus the parts that depend on the movie alone
(:func:`factor_stage`). Either way every user's query is computed once when the
module is built: a users x d table, never a users x movies one. The second stage is
the rating model itself, its parts masked for unseen users and movies exactly as
:meth:`Hybrid.explain` masks them. Both run on the model's own layers, so Python and
the SavedModel run the same graph.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class Stage:
    """A first stage: ``queries @ vectors.T + bias`` (+ the weighted co-watch part).

    Attributes:
        queries: ``(n_users, d)`` float32, every user index now.
        vectors: ``(n_items, d)`` float32, every item index.
        bias: ``(n_items,)`` float32.
        first_weight, stars_weight: The ranking's weights (:mod:`kerasrec.rerank`).
        co_watch: The backbone's ``CoWatch`` layer when it weighs, else None.
    """

    def __init__(self, queries, vectors, bias, first_weight: float, stars_weight: float,
                 co_watch=None) -> None:
        self.queries = np.asarray(queries, np.float32)
        self.vectors = np.asarray(vectors, np.float32)
        self.bias = np.asarray(bias, np.float32).reshape(-1)
        self.first_weight, self.stars_weight = float(first_weight), float(stars_weight)
        self.co_watch = co_watch


def retrieval_stage(backbone, queries: np.ndarray) -> Stage:
    """The retrieval tower's stage: ``q_u . v_i + b_i`` + co-watch, stars weighted by
    ``relevance_blend`` (what :meth:`Hybrid.relevance` adds up)."""
    scores = backbone.catalog_scores
    return Stage(queries, scores.item_vectors(), scores.item_bias.numpy(), 1.0,
                 backbone.relevance_blend,
                 backbone.co_watch if backbone.co_watch_weight else None)


def factor_stage(backbone, users: np.ndarray, item_features: np.ndarray,
                 chunk: int = 8192) -> Stage:
    """The factorized share of the rating head, for a hybrid that ranks by stars:
    ``w_mf (p_u + y_u) . (q_i + W f_i)`` plus the head's parts that depend on the movie
    alone (item bias, item-feature branch); the MLP, neighbourhoods and the user's
    constant parts are left to the second stage. Cosine similarity normalises both.

    Args:
        users: Every user index (``arange(n_users)``).
        item_features: ``(n_items, n_features)`` the pipeline's item feature table.
    """
    b = backbone
    kernel = b.rating_head.get_weights()[0][:, 0].astype(np.float32)
    offsets = np.cumsum([0] + [w for _, w in b.branch_layout])
    column = {name: (lo, hi) for (name, _), lo, hi in
              zip(b.branch_layout, offsets[:-1], offsets[1:])}
    table = np.asarray(b.mf_user_embedding.embeddings.numpy(), np.float32)
    parts = []
    for lo in range(0, len(users), chunk):
        part = table[users[lo:lo + chunk]]
        if b.history_factors is not None:
            part = part + np.asarray(b.history_factors(users[lo:lo + chunk], training=False))
        parts.append(part)
    queries = np.concatenate(parts) if parts else np.zeros((0, table.shape[1]), np.float32)
    vectors = np.asarray(b.mf_item_embedding.embeddings.numpy(), np.float32)
    features = np.asarray(item_features, np.float32)
    if b.item_feature_factors is not None:
        vectors = vectors + features @ b.item_feature_factors.get_weights()[0]
    if b.hybrid_config.similarity == "cosine":
        queries, vectors = (_unit(a) for a in (queries, vectors))
    bias = np.zeros(len(vectors), np.float32)
    if "item_bias" in column:
        bias += kernel[column["item_bias"][0]] * b.item_bias.embeddings.numpy()[:, 0]
    if "item_features" in column:
        lo, hi = column["item_features"]
        branch = np.maximum(b.item_features_dense(features).numpy(), 0.0)
        bias += branch @ kernel[lo:hi]
    return Stage(kernel[column["mf"][0]] * queries, vectors, bias, 0.0, 1.0)


def _unit(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norms > 0, norms, 1.0)


def retrieval_module(backbone, stage: Stage, user_parts: Sequence[str],
                     item_parts: Sequence[str]):
    """Build the module.

    Args:
        backbone: The fitted :class:`~kerasrec.models.hybrid.HybridBackbone`.
        stage: Its first stage (:func:`retrieval_stage` or :func:`factor_stage`).
        user_parts, item_parts: Names of the parts dropped for a user (movie) unseen in
            training.

    Returns:
        A ``tf.Module``: ``module(rows)`` -> ``(batch, n_items)`` first-stage scores;
        ``module.score(users, items, item_features, context, timestamp)`` -> ``(n,)``
        rating-model scores (target units); ``first_weight``, ``stars_weight``,
        ``rank_by`` (``"relevance"``, or ``"rating"`` when the first stage only chooses
        candidates) and ``n_features``.
    """
    import tensorflow as tf

    parts_model = backbone.parts_model()
    names = [t.name for t in parts_model.inputs]
    kernel, bias = backbone.rating_head.get_weights()
    kernel = kernel[:, 0].astype(np.float32)
    user_mask, item_mask = (np.concatenate([np.full(width, name in parts, np.float32)
                                            for name, width in backbone.branch_layout])
                            for parts in (user_parts, item_parts))
    lo, hi = backbone.target_range
    co_watch = stage.co_watch

    class _Retrieval(tf.Module):
        def __init__(self):
            super().__init__(name="hybrid_retrieval")
            fixed = dict(trainable=False)
            self.queries = tf.Variable(stage.queries, name="queries", **fixed)
            self.vectors = tf.Variable(stage.vectors, name="item_vectors", **fixed)
            self.item_bias = tf.Variable(stage.bias, name="item_bias", **fixed)
            self.recent_ratings = backbone.recent_ratings
            self.co_watch, self.parts_model = co_watch, parts_model
            self.co_watch_weight = tf.constant(float(backbone.co_watch_weight), tf.float32)
            self.half_life = float(backbone.co_watch_half_life)
            self.kernel = tf.constant(kernel)
            self.bias = tf.constant(float(bias[0]))
            self.user_mask, self.item_mask = tf.constant(user_mask), tf.constant(item_mask)
            self.first_weight, self.stars_weight = stage.first_weight, stage.stars_weight
            self.rank_by = "relevance" if stage.first_weight else "rating"
            self.n_features = int(backbone.n_item_features)
            self.sigmoid = backbone.sigmoid_output

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)],
                     reduce_retracing=True)
        def __call__(self, rows):
            """``(batch, n_items)``: each user's first-stage score of every item index."""
            first = (tf.matmul(tf.gather(self.queries, rows), self.vectors, transpose_b=True)
                     + self.item_bias[None, :])
            if self.co_watch is not None:
                now = tf.fill(tf.shape(rows), tf.constant(-1, tf.int64))
                first += self.co_watch_weight * self.co_watch(
                    *self.recent_ratings.whole(rows, now), n_rows=tf.size(rows),
                    half_life=self.half_life)
            return first

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64),
                                      tf.TensorSpec([None], tf.int64),
                                      tf.TensorSpec([None, None], tf.float32),
                                      tf.TensorSpec([None, None], tf.float32),
                                      tf.TensorSpec([None], tf.int64)],
                     reduce_retracing=True)
        def score(self, users, items, item_features, context, timestamp):
            """The rating model's score of each pair, in target units (the hybrid's
            :meth:`~Hybrid.score` before the map to stars)."""
            given = {"user_id": tf.cast(users, tf.int32), "item_id": tf.cast(items, tf.int32),
                     "item_features": item_features, "context": context,
                     "timestamp": timestamp}
            merged = self.parts_model({n: given[n] for n in names}, training=False)[0]
            keep = 1.0 - tf.maximum(
                tf.cast(users == 0, tf.float32)[:, None] * self.user_mask[None, :],
                tf.cast(items == 0, tf.float32)[:, None] * self.item_mask[None, :])
            score = self.bias + tf.reduce_sum(merged * keep * self.kernel[None, :], axis=1)
            if self.sigmoid:
                return tf.sigmoid(score) * (hi - lo) + lo
            return score

    return _Retrieval()


def all_queries(users: np.ndarray, queries, chunk: int = 4096) -> np.ndarray:
    """``queries(user indices) -> (n, d)`` over ``users``, ``chunk`` at a time."""
    parts = [np.asarray(queries(users[lo:lo + chunk]), np.float32)
             for lo in range(0, len(users), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

