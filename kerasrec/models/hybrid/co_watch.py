"""The co-watch part of what the hybrid's lists rank by: EASE^R read with recency.

EASE^R (Steck, 2019; :mod:`kerasrec.models.ease`) learns in closed form how much
having rated movie ``j`` says about rating movie ``i`` (``B[j, i]``, from who rated
what; zero diagonal). It makes the best lists of the models compared here, and it
sees what the retrieval softmax's 128-dimensional vectors cannot: the full
items x items structure. The hybrid keeps each movie's ``pool`` strongest weights
(by magnitude: negative weights matter) and scores a user by the sum of the rows of
the movies they rated, each weighted by how recent it is::

    co_watch(u, i) = sum_j 0.5 ** (age_j / half_life) * B[j, i]

``age_j`` counts the user's ratings made after ``j`` (0 for the latest; ties keep the
stored order) and a half-life of 0 weighs every rating alike (plain EASE). The
half-life and the part's weight in relevance are chosen on the validation cut: on
the temporal one, recent movies say more about what comes next.

The rule exists in NumPy (:func:`co_watch_scores`, for the validation queries) and
TensorFlow (:func:`co_watch_scores_tf`, inside the model's
:class:`~kerasrec.models.layers.CoWatch`, ``recommend(recent=...)`` and the
SavedModel) side by side; ``tests/models/test_co_watch.py`` holds them equal.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

#: Half-lives (in ratings) of the recency weights tried on validation; 0: no decay.
HALF_LIVES = (0.0, 5.0, 20.0)


def recency_weights(ages, half_life: float) -> np.ndarray:
    """``0.5 ** (age / half_life)`` (all ones for a half-life of 0), float32."""
    ages = np.asarray(ages, np.float32)
    if not half_life:
        return np.ones_like(ages)
    return np.power(np.float32(0.5), ages / np.float32(half_life)).astype(np.float32)


def recency_weights_ops(ages, half_life):
    """:func:`recency_weights` in TensorFlow; ``half_life`` may be a tensor."""
    import tensorflow as tf

    ages = tf.cast(ages, tf.float32)
    half_life = tf.cast(half_life, tf.float32)
    return tf.where(half_life > 0, tf.pow(0.5, ages / tf.maximum(half_life, 1e-12)),
                    tf.ones_like(ages))


def co_watch_scores(rows, items, ages, neighbours: np.ndarray, weights: np.ndarray,
                    half_life: float, n_rows: int) -> np.ndarray:
    """Each row's co-watch score for every movie, in NumPy (a sparse product).

    Args:
        rows: Row (user) of each rated movie, ``0 <= rows < n_rows``.
        items: Item indices of the rated movies.
        ages: Ratings the row's user made after each one.
        neighbours, weights: ``(n_items, pool)``: each movie's strongest EASE weights.
        half_life: Of the recency weights (0: none).
        n_rows: Rows of the result.

    Returns:
        ``(n_rows, n_items)`` float32.
    """
    import scipy.sparse as sp

    n_items, pool = neighbours.shape
    rated = sp.csr_matrix((recency_weights(ages, half_life),
                           (np.asarray(rows, np.int64), np.asarray(items, np.int64))),
                          shape=(n_rows, n_items))
    ease = sp.csr_matrix((weights.ravel(), neighbours.ravel().astype(np.int64),
                          np.arange(0, n_items * pool + 1, pool)), shape=(n_items, n_items))
    return np.asarray((rated @ ease).toarray(), np.float32)


def co_watch_scores_tf(rows, items, ages, neighbours, weights, half_life, n_rows):
    """:func:`co_watch_scores` in TensorFlow (one segment sum), for the layer."""
    import tensorflow as tf

    n_items = tf.shape(neighbours, out_type=tf.int64)[0]
    n_rows = tf.cast(n_rows, tf.int64)
    scale = recency_weights_ops(ages, half_life)
    columns = tf.cast(tf.gather(neighbours, items), tf.int64)
    values = tf.gather(weights, items) * scale[:, None]
    cells = tf.cast(rows, tf.int64)[:, None] * n_items + columns
    flat = tf.math.unsorted_segment_sum(tf.reshape(values, [-1]), tf.reshape(cells, [-1]),
                                        n_rows * n_items)
    return tf.reshape(flat, tf.stack([n_rows, n_items]))


def fit_co_watch(users, items, n_items: int, l2: float, pool: int,
                 max_items: int) -> Tuple[np.ndarray, np.ndarray]:
    """Each movie's ``pool`` strongest EASE^R weights, from who rated what.

    The Gram matrix covers the ``max_items`` most rated movies (cost: their square in
    memory, their cube in time); the others, and index 0, get no weights.

    Args:
        users, items: Embedding indices of the training ratings.
        n_items: Item index range.
        l2: EASE's regularisation.
        pool: Weights kept per movie.
        max_items: Most movies in the Gram matrix.

    Returns:
        ``(neighbours, weights)``, ``(n_items, pool)`` int32 / float32.
    """
    from kerasrec.models.baselines import rated_matrix
    from kerasrec.models.ease import ease_weights, strongest

    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    neighbours = np.zeros((n_items, pool), np.int32)
    values = np.zeros((n_items, pool), np.float32)
    counts = np.bincount(items, minlength=n_items)
    counts[0] = 0
    covered = np.flatnonzero(counts)
    if len(covered) > max_items:
        covered = np.sort(np.argsort(-counts, kind="stable")[:max_items])
    if len(covered) < 2:
        return neighbours, values
    column = np.full(n_items, -1, np.int64)
    column[covered] = np.arange(len(covered))
    keep = column[items] >= 0
    rated = rated_matrix(users[keep], column[items[keep]],
                         (int(users.max(initial=0)) + 1, len(covered)))
    columns, strengths = strongest(ease_weights(rated, l2), pool)
    neighbours[covered] = covered[columns]
    values[covered] = strengths
    return neighbours, values
