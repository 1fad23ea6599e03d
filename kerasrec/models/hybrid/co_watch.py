"""The co-watch part of what the hybrid's lists rank by: EASE^R read with recency.

EASE^R (Steck, 2019; :mod:`kerasrec.models.ease`) learns in closed form how much
having rated movie ``j`` says about rating movie ``i`` (``B[j, i]``, from who rated
what; zero diagonal). It makes the best lists of the models compared here, and it
sees what the retrieval softmax's 128-dimensional vectors cannot: the full
items x items structure. The hybrid keeps the strongest weights (by magnitude:
negative weights matter), ``pool`` per movie on average, in CSR form — popular movies,
which sit in many histories, keep more — and scores a user by the sum of the rows of
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


def co_watch_scores(rows, items, ages, weights, half_life: float, n_rows: int) -> np.ndarray:
    """Each row's co-watch score for every movie, in NumPy (a sparse product).

    Args:
        rows: Row (user) of each rated movie, ``0 <= rows < n_rows``.
        items: Item indices of the rated movies.
        ages: Ratings the row's user made after each one.
        weights: ``(offsets, columns, strengths)``: the kept EASE weights in CSR form
            (:func:`fit_co_watch`).
        half_life: Of the recency weights (0: none).
        n_rows: Rows of the result.

    Returns:
        ``(n_rows, n_items)`` float32.
    """
    import scipy.sparse as sp

    offsets, columns, strengths = (np.asarray(a) for a in weights)
    n_items = len(offsets) - 1
    used = int(offsets[-1])
    rated = sp.csr_matrix((recency_weights(ages, half_life),
                           (np.asarray(rows, np.int64), np.asarray(items, np.int64))),
                          shape=(n_rows, n_items))
    ease = sp.csr_matrix((strengths[:used], columns[:used], offsets), shape=(n_items, n_items))
    return np.asarray((rated @ ease).toarray(), np.float32)


def _entries_tf(items, offsets):
    """The CSR entries of each rated movie's row: ``(entry positions, owner index)``."""
    import tensorflow as tf

    items = tf.cast(items, tf.int64)
    starts, ends = tf.gather(offsets, items), tf.gather(offsets, items + 1)
    owner = tf.repeat(tf.range(tf.size(items, out_type=tf.int64)), ends - starts)
    return tf.ragged.range(starts, ends).flat_values, owner


def co_watch_scores_tf(rows, items, ages, offsets, columns, strengths, half_life, n_rows):
    """:func:`co_watch_scores` in TensorFlow (one segment sum), for the layer."""
    import tensorflow as tf

    n_items = tf.size(offsets, out_type=tf.int64) - 1
    n_rows = tf.cast(n_rows, tf.int64)
    positions, owner = _entries_tf(items, offsets)
    scale = tf.gather(recency_weights_ops(ages, half_life), owner)
    values = tf.gather(strengths, positions) * scale
    cells = (tf.gather(tf.cast(rows, tf.int64), owner) * n_items
             + tf.cast(tf.gather(columns, positions), tf.int64))
    flat = tf.math.unsorted_segment_sum(values, cells, n_rows * n_items)
    return tf.reshape(flat, tf.stack([n_rows, n_items]))


def co_watch_weight_tf(items, targets, offsets, columns, strengths):
    """``B[items[k], targets[k]]`` for each k (0 where the weight was not kept)."""
    import tensorflow as tf

    positions, owner = _entries_tf(items, offsets)
    hit = tf.cast(tf.gather(columns, positions), tf.int64) == tf.gather(
        tf.cast(targets, tf.int64), owner)
    return tf.math.unsorted_segment_sum(
        tf.where(hit, tf.gather(strengths, positions), 0.0), owner, tf.size(items))


def fit_co_watch(users, items, n_items: int, l2: float, n_weights: int,
                 max_items: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``n_weights`` strongest EASE^R weights, from who rated what, in CSR form.

    The Gram matrix covers the ``max_items`` most rated movies (cost: their square in
    memory, their cube in time); the others, and index 0, get no weights.

    Args:
        users, items: Embedding indices of the training ratings.
        n_items: Item index range.
        l2: EASE's regularisation.
        n_weights: Weights kept (the arrays' length; unused entries are zero).
        max_items: Most movies in the Gram matrix.

    Returns:
        ``(offsets, columns, strengths)``: int64 ``(n_items + 1,)``, int32 and float32
        ``(n_weights,)``; row ``j``'s weights are entries ``offsets[j]:offsets[j + 1]``.
    """
    from kerasrec.models.baselines import rated_matrix
    from kerasrec.models.ease import ease_weights, strongest

    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    offsets = np.zeros(n_items + 1, np.int64)
    columns = np.zeros(n_weights, np.int32)
    strengths = np.zeros(n_weights, np.float32)
    counts = np.bincount(items, minlength=n_items)
    counts[0] = 0
    covered = np.flatnonzero(counts)
    if len(covered) > max_items:
        covered = np.sort(np.argsort(-counts, kind="stable")[:max_items])
    if len(covered) < 2 or n_weights < 1:
        return offsets, columns, strengths
    column = np.full(n_items, -1, np.int64)
    column[covered] = np.arange(len(covered))
    keep = column[items] >= 0
    rated = rated_matrix(users[keep], column[items[keep]],
                         (int(users.max(initial=0)) + 1, len(covered)))
    kept = strongest(ease_weights(rated, l2), n_weights).tocoo()
    rows, cols = covered[kept.row], covered[kept.col]
    order = np.lexsort((cols, rows))
    used = len(order)
    offsets[1:] = np.cumsum(np.bincount(rows, minlength=n_items))
    columns[:used], strengths[:used] = cols[order], kept.data[order]
    return offsets, columns, strengths
