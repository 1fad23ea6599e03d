"""Retrieve, then rerank: the one two-stage ranking rule, in NumPy and TensorFlow.

A model that can rank this way (the ``retrieval`` capability,
:meth:`~kerasrec.models.base.RecModel.retrieval_module`) splits what lists rank by
into a cheap first stage, scored for the whole catalog with a matrix product (the
hybrid: its retrieval query against every movie vector, plus the co-watch part), and
the predicted stars, which need the whole model and are computed only for the
``candidates`` best movies of the first stage:

    ranking = first_weight * first + stars_weight * stars   (on the candidates)

The top ``k`` of that ranking is the list. Ties go to the smaller catalog column (the
smaller movieId: the catalog is sorted), in both stages, in both forms.
:func:`rerank` (NumPy: ``Recommender.recommend`` and ``recommend_many``) and
:func:`rerank_tf` (the SavedModel's ``recommend``) sit side by side and
``tests/test_rerank.py`` holds them equal. With ``stars_weight`` 0 the list is the
exact top ``k`` of the first stage; otherwise it equals the exhaustive ranking
whenever the exhaustive top ``k`` lies within the first stage's top ``candidates``
(``benchmarks/rerank.py`` measures how often).

Two kinds of first stage share the rule. A model that ranks by relevance
(``first_weight`` 1) ranks by the first stage plus weighted stars; a model that ranks
by its stars uses the first stage only to choose the candidates (``first_weight`` 0,
``stars_weight`` 1: the hybrid without its retrieval tower, whose first stage is its
factorized part). Users unseen in training have no first stage: they get their
stars, which are the same for all of them, as the first stage, and
:func:`row_stars_weights` gives their rows the weight that ranks by those stars.
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np

#: Movies per user whose stars are predicted to rerank the first stage.
CANDIDATES = 200


def best_columns(scores: np.ndarray, width: int) -> np.ndarray:
    """Each row's ``width`` highest columns, best first, ties by the smaller column.

    ``-inf`` marks a column that may not be chosen; it comes last. ``(n, width)``.
    """
    scores = np.asarray(scores)
    n, m = scores.shape
    width = min(int(width), m)
    if width <= 0:
        return np.zeros((n, 0), np.int64)
    if width < m:
        picked = np.argpartition(-scores, width - 1, axis=1)[:, :width]
        cut = np.take_along_axis(scores, picked, axis=1).min(axis=1)
        # Where more columns tie at the cut than were picked, the partition chose among
        # them at random: those rows are sorted whole, so ties go to the smaller column.
        tied = (scores >= cut[:, None]).sum(axis=1) > width
    else:
        picked, tied = np.broadcast_to(np.arange(m), (n, m)).copy(), np.zeros(n, bool)
    if tied.any():
        whole = np.lexsort((np.broadcast_to(np.arange(m), (int(tied.sum()), m)),
                            -scores[tied]), axis=1)[:, :width]
        picked[tied] = whole
    values = np.take_along_axis(scores, picked, axis=1)
    order = np.lexsort((picked, -values), axis=1)
    return np.take_along_axis(picked, order, axis=1).astype(np.int64)


def row_stars_weights(known: np.ndarray, first_weight: float, stars_weight: float
                      ) -> np.ndarray:
    """Each row's weight of the stars, ``(n, 1)``: ``stars_weight`` for users seen in
    training; for the others, whose first stage is their stars, 0 where the first
    stage weighs and 1 where it does not, so they rank by stars either way.

    Example:
        >>> row_stars_weights(np.array([True, False]), 1.0, 0.5).ravel().tolist()
        [0.5, 0.0]
    """
    return np.where(np.asarray(known, bool), float(stars_weight),
                    0.0 if first_weight else 1.0).reshape(-1, 1)


def row_stars_weights_tf(known, first_weight: float, stars_weight: float):
    """:func:`row_stars_weights` in TensorFlow: ``known`` a ``(n, 1)`` or ``(n,)`` bool
    tensor; returns float32 of its shape."""
    import tensorflow as tf

    return tf.where(known, float(stars_weight), 0.0 if first_weight else 1.0)


def rerank(first: np.ndarray, allowed: np.ndarray,
           stars_of: Callable[[np.ndarray], np.ndarray], k: int,
           first_weight: float = 1.0, stars_weight: float = 0.0,
           candidates: int = CANDIDATES) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two-stage top ``k`` of each row, and the stars of what it lists.

    Args:
        first: ``(n, M)`` first-stage scores.
        allowed: ``(n, M)`` booleans: what may be listed.
        stars_of: ``columns (n, C) -> (n, C)`` predicted stars of those columns (in
            the rows' order; a column past a row's allowed ones may get any value).
            Called once: for the candidates when the stars weigh, else for the list.
        k: List length.
        first_weight, stars_weight: The ranking's weights: numbers, or ``(n, 1)``
            arrays, one per row.
        candidates: Columns per row kept by the first stage (at least ``k``).

    Returns:
        ``(columns, valid, stars)``, each ``(n, min(k, M))``: each row's list, best
        first, which entries are real (rows with fewer allowed columns end in invalid
        ones) and their stars.

    Example:
        >>> rerank(np.array([[3., 2., 1.]]), np.ones((1, 3), bool),
        ...        lambda c: np.array([[0., 5.]])[:, :c.shape[1]], k=1, stars_weight=1.0,
        ...        candidates=2)
        (array([[1]]), array([[ True]]), array([[5.]]))
    """
    first = np.where(allowed, np.asarray(first, np.float64), -np.inf)
    pool = np.sort(best_columns(first, max(int(candidates), int(k))), axis=1)
    kept = np.take_along_axis(first, pool, axis=1)  # in column order: ties go to the smaller
    real = np.isfinite(kept)
    ranking = first_weight * np.where(real, kept, 0.0)
    stars = None
    if np.any(stars_weight):  # a number, or one per row (n, 1)
        stars = np.asarray(stars_of(pool), np.float64)
        ranking = ranking + stars_weight * stars
    order = best_columns(np.where(real, ranking, -np.inf), min(int(k), first.shape[1]))
    columns = np.take_along_axis(pool, order, axis=1)
    stars = (np.take_along_axis(stars, order, axis=1) if stars is not None
             else np.asarray(stars_of(columns), np.float64))
    return columns, np.take_along_axis(real, order, axis=1), stars


def rerank_tf(first, allowed, stars_of, k, first_weight: float = 1.0,
              stars_weight: float = 0.0, candidates: int = CANDIDATES):
    """:func:`rerank` in TensorFlow: ``first`` and ``allowed`` ``(n, M)`` tensors,
    ``stars_of(columns int64 (n, C)) -> (n, C)``, ``k`` a scalar int32 tensor.

    Returns:
        ``(columns, valid, stars)`` as int64, bool and float32 ``(n, min(k, M))``
        tensors.
    """
    import tensorflow as tf

    width = tf.shape(first)[1]
    first = tf.where(allowed, tf.cast(first, tf.float32), -np.inf)
    kept, pool = tf.math.top_k(first, tf.minimum(tf.maximum(candidates, k), width))
    pool = tf.cast(pool, tf.int64)
    real = kept > -np.inf
    ranking = first_weight * tf.where(real, kept, 0.0)
    stars = None
    if not isinstance(stars_weight, (int, float)) or stars_weight:
        stars = tf.cast(stars_of(pool), tf.float32)
        ranking += stars_weight * stars
    ranking = tf.where(real, ranking, -np.inf)
    # top_k breaks ties by position; the pool is not in column order, so sort it first.
    order = tf.argsort(pool, axis=1, stable=True)
    pool, ranking, real = (tf.gather(t, order, batch_dims=1) for t in (pool, ranking, real))
    _, best = tf.math.top_k(ranking, tf.minimum(k, width))
    columns = tf.gather(pool, best, batch_dims=1)
    if stars is None:
        stars = tf.cast(stars_of(columns), tf.float32)
    else:
        stars = tf.gather(tf.gather(stars, order, batch_dims=1), best, batch_dims=1)
    return columns, tf.gather(real, best, batch_dims=1), stars
