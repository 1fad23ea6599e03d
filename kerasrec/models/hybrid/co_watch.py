"""The co-watch part of what the hybrid's lists rank by: item-item weights fitted in
closed form from who rated what, read with recency.

Two weight matrices, summed (:func:`co_watch_weights`):

* EASE^R's (Steck, 2019; :mod:`kerasrec.models.ease`): how much having rated movie
  ``j`` says about rating movie ``i`` at all (``B[j, i]``; zero diagonal). It makes
  the best lists of the peers compared here, and it sees what the retrieval softmax's
  128-dimensional vectors cannot: the full items x items structure.
* "after" weights: how much having rated ``j`` lately says about rating ``i`` next — a
  ridge regression from each rating's preceding window to the ratings that follow
  (the transition half of Choi et al.'s SLIST, 2021). People rate in sittings, and
  what comes next follows the last few movies more than the whole history.

The hybrid keeps the strongest weights (by magnitude: negative weights matter),
``pool`` per movie on average, in CSR form — popular movies, which sit in many
histories, keep more — and scores a user by the sum of the rows of the movies they
rated, each weighted by how recent it is::

    co_watch(u, i) = sum_j 0.5 ** (age_j / half_life) * (B[j, i] + a * A[j, i])

``age_j`` counts the user's ratings made after ``j`` (0 for the latest; ties keep the
stored order) and a half-life of 0 weighs every rating alike (plain EASE). The
half-life, the after weight ``a`` and the part's weight in relevance are chosen on the
validation cut: on the temporal one, recent movies say more about what comes next.

The rule exists in NumPy (:func:`co_watch_scores`, for the validation queries) and
TensorFlow (:func:`co_watch_scores_tf`, inside the model's
:class:`~kerasrec.models.hybrid.retrieval_layers.CoWatch`, ``recommend(recent=...)`` and the
SavedModel) side by side; ``tests/models/test_co_watch.py`` holds them equal.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

#: Half-lives (in ratings) of the recency weights tried on validation; 0: no decay.
HALF_LIVES = (0.0, 5.0, 20.0)
#: Weights of the ``after`` (what comes next) weights beside EASE^R's tried on
#: validation, in units of the spread of EASE's scores over the spread of theirs.
AFTER_WEIGHTS = (0.0, 0.5, 1.0, 2.0)


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


def co_watch_weights(users, items, n_items: int, l2: float, max_items: int,
                     min_ratings: int = 1, timestamps=None, window: int = 0
                     ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """The co-watch weights in dense form, over the movies they cover.

    Two matrices, both ridge regressions fitted in closed form on who rated what:

    * ``together``: EASE^R's weights (zero diagonal): having rated ``j`` says this much
      about having rated ``i`` at all.
    * ``after`` (with ``timestamps`` and a ``window``): having rated ``j`` *lately*
      says this much about rating ``i`` *next*. For each rating at position ``p`` of a
      user's time-ordered ratings, the input is the ``window`` ratings before it,
      weighted ``0.5 ** (k / (window / 2))`` for the ``k``-th before last, and the
      target the ``window`` ratings from ``p`` on; ``after = (S'S + l2 I)^-1 S'T``
      (the transition half of Choi et al.'s SLIST, 2021). People rate in sittings,
      and what someone watches next follows what they watched last more closely than
      their whole history does: added to EASE^R's, on MovieLens latest-small, they
      lift the part's recall@10 from 0.151 to 0.178 on a temporal validation cut and
      from 0.136 to 0.164 on the temporal test (``python benchmarks/co_watch.py``).

    Args:
        users, items: Embedding indices of the training ratings.
        n_items: Item index range.
        l2: The ridge regularisation of both.
        max_items: Most movies covered (the most rated; cost: their square in memory,
            their cube in time).
        min_ratings: Fewest training ratings of a covered movie. Movies rated once or
            twice are rarely what anyone watches next, and leaving them out makes the
            fit about 5x faster on MovieLens latest-small for the same lists.
        timestamps: Time of each rating (ties keep the given order); None: no
            ``after`` weights.
        window: Ratings before and after each rating that ``after`` links; 0: none.

    Returns:
        ``(covered, together, after)``: the covered item indices (sorted) and float32
        ``(len(covered), len(covered))`` matrices (``after`` None without it).
    """
    from kerasrec.models.baselines import rated_matrix
    from kerasrec.models.ease import ease_weights

    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    counts = np.bincount(items, minlength=n_items)
    counts[0] = 0
    covered = np.flatnonzero(counts >= max(int(min_ratings), 1))
    if len(covered) > max_items:
        covered = np.sort(np.argsort(-counts, kind="stable")[:max_items])
    empty = np.zeros((len(covered), len(covered)), np.float32)
    if len(covered) < 2:
        return covered, empty, (empty if window and timestamps is not None else None)
    column = np.full(n_items, -1, np.int64)
    column[covered] = np.arange(len(covered))
    keep = column[items] >= 0
    rated = rated_matrix(users[keep], column[items[keep]],
                         (int(users.max(initial=0)) + 1, len(covered)))
    together = ease_weights(rated, l2)
    after = None
    if window and timestamps is not None:
        after = transition_weights(users, column[items], timestamps, len(covered), l2,
                                   int(window))
    return covered, together, after


def transition_weights(users, columns, timestamps, n_columns: int, l2: float,
                       window: int) -> np.ndarray:
    """The ``after`` weights of :func:`co_watch_weights` (vectorized: a loop over the
    ``window`` offsets, none over users).

    Args:
        users: User of each rating.
        columns: Column of each rating's movie, -1 for a movie not covered (it keeps
            its place in the sequence but links nothing).
        timestamps: Time of each rating.
        n_columns: Movies covered.
        l2: Ridge regularisation.
        window: Ratings linked before and after each rating.

    Returns:
        float32 ``(n_columns, n_columns)``, zero diagonal.
    """
    import scipy.linalg
    import scipy.sparse as sp

    from kerasrec.models.hybrid.recent import history_keys

    n = len(users)
    if not n:
        return np.zeros((n_columns, n_columns), np.float32)
    order = np.argsort(history_keys(users, timestamps), kind="stable")
    users, columns = np.asarray(users, np.int64)[order], np.asarray(columns, np.int64)[order]
    at = np.arange(n)
    # Each rating's user's first and last position in the time-ordered ratings.
    new_user = np.r_[True, users[1:] != users[:-1]]
    first = np.maximum.accumulate(np.where(new_user, at, 0))
    user_ends = np.r_[users[1:] != users[:-1], True]
    last = np.minimum.accumulate(np.where(user_ends, at, n)[::-1])[::-1]

    def links(offsets, weights):
        rows, cols, values = [], [], []
        for offset, weight in zip(offsets, weights):
            other = at + offset
            ok = (other >= first) & (other <= last) & (at > first)
            ok[ok] &= columns[other[ok]] >= 0
            rows.append(at[ok])
            cols.append(columns[other[ok]])
            values.append(np.full(int(ok.sum()), weight, np.float32))
        return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows),
                                                       np.concatenate(cols))),
                             shape=(n, n_columns))

    before = links(-np.arange(1, window + 1),
                   np.power(0.5, np.arange(window) / max(window / 2, 1e-9)))
    upcoming = links(np.arange(window), np.ones(window))
    gram = (before.T @ before).toarray().astype(np.float32)
    gram[np.diag_indices_from(gram)] += np.float32(l2)
    inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    del gram
    weights = inverse @ (before.T @ upcoming).toarray().astype(np.float32)
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32, copy=False)


def sparse_co_watch(covered: np.ndarray, weights: np.ndarray, n_items: int,
                    n_weights: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``n_weights`` strongest of ``weights`` (over the ``covered`` items), in the
    CSR form :class:`~kerasrec.models.hybrid.retrieval_layers.CoWatch` stores.

    Returns:
        ``(offsets, columns, strengths)``: int64 ``(n_items + 1,)``, int32 and float32
        ``(n_weights,)``; row ``j``'s weights are entries ``offsets[j]:offsets[j + 1]``.
    """
    from kerasrec.models.ease import strongest

    offsets = np.zeros(n_items + 1, np.int64)
    columns = np.zeros(n_weights, np.int32)
    strengths = np.zeros(n_weights, np.float32)
    if len(covered) < 2 or n_weights < 1:
        return offsets, columns, strengths
    kept = strongest(weights, n_weights).tocoo()
    rows, cols = covered[kept.row], covered[kept.col]
    order = np.lexsort((cols, rows))
    used = len(order)
    offsets[1:] = np.cumsum(np.bincount(rows, minlength=n_items))
    columns[:used], strengths[:used] = cols[order], kept.data[order]
    return offsets, columns, strengths


def fit_co_watch(users, items, n_items: int, l2: float, n_weights: int, max_items: int,
                 *, min_ratings: int = 1, timestamps=None, window: int = 0,
                 after_weight: float = 0.0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``n_weights`` strongest co-watch weights, ``together + after_weight * after``
    (:func:`co_watch_weights`), in CSR form.

    Args:
        users, items: Embedding indices of the training ratings.
        n_items: Item index range.
        l2: The ridge regularisation.
        n_weights: Weights kept (the arrays' length; unused entries are zero).
        max_items: Most movies covered.
        min_ratings: Fewest ratings of a covered movie.
        timestamps, window: For the ``after`` weights.
        after_weight: Their weight; 0 leaves them unfitted (EASE^R alone).

    Returns:
        ``(offsets, columns, strengths)`` (:func:`sparse_co_watch`).

    Example:
        >>> weights = fit_co_watch(users, items, n_items, 200.0, 400 * n_items, 10_000)
    """
    covered, together, after = co_watch_weights(
        users, items, n_items, l2, max_items, min_ratings,
        timestamps if after_weight else None, window if after_weight else 0)
    if after is not None:
        together += np.float32(after_weight) * after
        del after
    return sparse_co_watch(covered, together, n_items, n_weights)
