"""The hybrid's two stages in TensorFlow: what it retrieves from the whole catalog, and
its stars for the candidates (:meth:`~kerasrec.models.base.RecModel.retrieval_module`).

The first stage is what lists rank by without the stars: the retrieval query ``q_u``
(pooled history, plus ``recent_weight`` x the sequence branch) against every movie
vector and bias, plus ``co_watch_weight`` x the co-watch scores of the user's whole
history. The queries of every training user are computed once when the module is
built: a users x ``retrieval_dim`` table, never a users x movies one. The second stage
is the rating model itself, its parts masked for unseen users and movies exactly as
:meth:`Hybrid.explain` masks them. Both run on the model's own layers, so Python and
the SavedModel run the same graph.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def retrieval_module(backbone, queries: np.ndarray, user_parts: Sequence[str],
                     item_parts: Sequence[str]):
    """Build the module.

    Args:
        backbone: The fitted :class:`~kerasrec.models.hybrid.HybridBackbone`.
        queries: ``(n_users, retrieval_dim)`` float32 query of every user index now.
        user_parts, item_parts: Names of the parts dropped for a user (movie) unseen in
            training.

    Returns:
        A ``tf.Module``: ``module(rows)`` -> ``(batch, n_items)`` first-stage scores;
        ``module.score(users, items, item_features, context, timestamp)`` -> ``(n,)``
        rating-model scores (target units); ``first_weight``, ``stars_weight`` and
        ``n_features``.
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
    co_watch = backbone.co_watch if backbone.co_watch_weight else None

    class _Retrieval(tf.Module):
        def __init__(self):
            super().__init__(name="hybrid_retrieval")
            fixed = dict(trainable=False)
            self.queries = tf.Variable(np.asarray(queries, np.float32), name="queries", **fixed)
            self.catalog_scores, self.recent_ratings = (backbone.catalog_scores,
                                                        backbone.recent_ratings)
            self.co_watch, self.parts_model = co_watch, parts_model
            self.co_watch_weight = tf.constant(float(backbone.co_watch_weight), tf.float32)
            self.half_life = float(backbone.co_watch_half_life)
            self.kernel = tf.constant(kernel)
            self.bias = tf.constant(float(bias[0]))
            self.user_mask, self.item_mask = tf.constant(user_mask), tf.constant(item_mask)
            self.first_weight = 1.0
            self.stars_weight = float(backbone.relevance_blend)
            self.n_features = int(backbone.n_item_features)
            self.sigmoid = backbone.sigmoid_output

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)],
                     reduce_retracing=True)
        def __call__(self, rows):
            """``(batch, n_items)``: each user's first-stage score of every item index."""
            vectors = tf.cast(self.catalog_scores.item_vectors(), tf.float32)
            first = (tf.matmul(tf.gather(self.queries, rows), vectors, transpose_b=True)
                     + tf.cast(self.catalog_scores.item_bias, tf.float32)[None, :])
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

