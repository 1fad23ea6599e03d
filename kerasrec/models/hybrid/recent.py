"""The recent-history rule: which of a user's training ratings come before a moment.

The sequence branch sees, for a (user, time), the user's last ``length`` training
ratings made strictly before that time (never the rating being scored, nor any rated
in the same second). A time of -1 means "now": the whole history. Ratings are stored
sorted by the key ``user * 2**32 + timestamp``, so the window is one binary search
away. The rule exists in NumPy (:func:`recent_window`, for the queries that choose the
list weights on validation data) and in TensorFlow (:func:`recent_window_ops`, inside the
model, ``recommend(recent=...)`` and the SavedModel) side by side;
``tests/models/test_recent.py`` holds them equal. Inside the model the search runs
within each user's own keys (``bounds``), as the session lookup does
(:mod:`~kerasrec.models.hybrid.sessions`). The stars' ``recent_stars`` part reads the
same window: the shrunk mean of the model's residuals on it, faded with the days since
the last of them (:func:`recent_residual`, :func:`recent_residual_ops`).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from kerasrec.models.hybrid.sessions import USER_SHIFT

#: A moment at or past this second (or -1) is "now": after every stored rating.
NOW = USER_SHIFT - 1
#: The time an undated rating is stored with: after the dated ones, before "now".
UNDATED = NOW - 1


def input_times(inputs) -> np.ndarray:
    """The ``timestamp`` column of model inputs (Unix seconds, int64), or -1 on every row
    (undated: "now") when they have none."""
    n = len(inputs["user_id"])
    return np.asarray(inputs.get("timestamp", np.full(n, -1, np.int64)), np.int64)


def history_keys(users, timestamps) -> np.ndarray:
    """Sort key of each stored (user index, Unix time); undated ratings (-1) sort after
    the dated ones, yet before "now"."""
    t = np.asarray(timestamps, np.int64)
    t = np.where((t < 0) | (t >= NOW), UNDATED, t)
    return np.asarray(users, np.int64) * USER_SHIFT + t


def moment_keys(users, timestamps) -> np.ndarray:
    """Key of each (user index, moment) a window ends at; -1 means now."""
    t = np.asarray(timestamps, np.int64)
    return np.asarray(users, np.int64) * USER_SHIFT + np.where((t < 0) | (t > NOW), NOW, t)


def sorted_history(users, items, timestamps, ratings) -> Tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """The training ratings in key order: ``(keys, items, ratings)``."""
    keys = history_keys(users, timestamps)
    order = np.argsort(keys, kind="stable")
    return (keys[order], np.asarray(items, np.int32)[order],
            np.asarray(ratings, np.float32)[order])


def era_edges(timestamps, n: int) -> np.ndarray:
    """Edges of ``n`` eras holding about as many dated training ratings each (quantiles
    of their times), so a busy year gets finer eras than a quiet one.

    Returns:
        The ``n - 1`` inner edges (Unix seconds, increasing, without repeats); empty
        when ``n < 2`` or nothing is dated.
    """
    t = np.asarray(timestamps, np.int64)
    t = t[(t >= 0) & (t < UNDATED)]
    if n < 2 or not len(t):
        return np.zeros(0, np.int64)
    return np.unique(np.quantile(t, np.arange(1, n) / n, method="lower").astype(np.int64))


def era_of(keys, edges) -> np.ndarray:
    """Each stored rating's era, from its key (:func:`history_keys`): ``1 +`` the number
    of edges at or before its time; 0 when undated. A movie passed as ``recent`` is
    rated now: the last era, ``len(edges) + 1`` (:func:`merge_recent`)."""
    t = np.asarray(keys, np.int64) % USER_SHIFT
    era = 1 + np.searchsorted(np.asarray(edges, np.int64), t, side="right")
    return np.where(t >= UNDATED, 0, era).astype(np.int32)


def era_of_ops(keys, edges):
    """:func:`era_of` in TensorFlow (``edges`` a constant)."""
    import tensorflow as tf

    t = tf.math.floormod(tf.cast(keys, tf.int64), USER_SHIFT)
    table = tf.constant(np.asarray(edges, np.int64))
    era = tf.reshape(1 + tf.searchsorted(table, tf.reshape(t, [-1]), side="right",
                                         out_type=tf.int64), tf.shape(t))
    return tf.cast(tf.where(t >= UNDATED, tf.zeros_like(era), era), tf.int32)


def recent_window(keys: np.ndarray, users, timestamps, length: int
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Positions in the sorted history of each (user, time)'s last ``length`` ratings
    made strictly before it, oldest first, and which of them are real (the rest is
    left padding).

    Returns:
        ``(positions, valid)``, both ``(n, length)``; invalid positions are 0.
    """
    users = np.asarray(users, np.int64)
    end = np.searchsorted(keys, moment_keys(users, timestamps), side="left")
    start = np.searchsorted(keys, users * USER_SHIFT, side="left")
    positions = end[:, None] - length + np.arange(length)[None, :]
    valid = positions >= start[:, None]
    return np.where(valid, positions, 0), valid


def recent_arrays(keys, items, ratings, users, timestamps, length: int, edges=()
                  ) -> tuple:
    """What :class:`~kerasrec.models.hybrid.time_layers.RecentRatings` returns, in NumPy: each
    (user, time)'s window over the sorted history (:func:`sorted_history`).

    Returns:
        ``(items, ratings, valid)``, each ``(n, length)``, left-padded (0, 0.0, False),
        and with ``edges`` each position's era (:func:`era_of`; 0 at padding) fourth.
    """
    positions, valid = recent_window(keys, users, timestamps, length)
    window = (np.where(valid, items[positions], 0).astype(np.int32),
              np.where(valid, ratings[positions], 0.0).astype(np.float32), valid)
    if len(edges):
        window += (np.where(valid, era_of(keys[positions], edges), 0).astype(np.int32),)
    return window


def _window_ends(keys, users, timestamps, bounds):
    """Each (user, time)'s ``(start, end)`` in the sorted history, in TensorFlow: by
    binary search over every key, or with ``bounds`` (each user's ``(lower, upper)``
    range, :func:`~kerasrec.models.hybrid.sessions.user_offsets`) within the user's
    own keys, which never reads the keys whole."""
    import tensorflow as tf

    from kerasrec.models.hybrid.sessions import lower_bound_tf

    users = tf.cast(users, tf.int64)
    t = tf.cast(timestamps, tf.int64)
    moments = users * USER_SHIFT + tf.where((t < 0) | (t > NOW), tf.constant(NOW, tf.int64), t)
    if bounds is None:
        table = tf.convert_to_tensor(keys)
        return (tf.searchsorted(table, users * USER_SHIFT, side="left", out_type=tf.int64),
                tf.searchsorted(table, moments, side="left", out_type=tf.int64))
    lower, upper = (tf.cast(b, tf.int64) for b in bounds)
    return lower, lower_bound_tf(keys, moments, lower, upper)


def recent_window_ops(keys, users, timestamps, length: int, bounds=None):
    """:func:`recent_window` in TensorFlow; ``bounds``: see :func:`_window_ends`."""
    import tensorflow as tf

    start, end = _window_ends(keys, users, timestamps, bounds)
    positions = end[:, None] - length + tf.range(length, dtype=tf.int64)[None, :]
    valid = positions >= start[:, None]
    return tf.where(valid, positions, tf.zeros_like(positions)), valid


def latest_time(keys: np.ndarray) -> int:
    """The last dated second among stored keys (:func:`history_keys`); 0 if none is
    dated. What "now" means to :func:`recent_residual`'s fading: the end of the data."""
    t = np.asarray(keys, np.int64) % USER_SHIFT
    t = t[t < UNDATED]
    return int(t.max()) if len(t) else 0


def recent_residual(keys: np.ndarray, residuals: np.ndarray, users, timestamps,
                    length: int, shrink: float, half_life: float = 0.0, latest: int = 0
                    ) -> np.ndarray:
    """How far a model was off on each (user, time)'s last ``length`` stored ratings
    made strictly before it, shrunk towards 0 and faded with the time since the last of
    them: ``sum / (count + shrink) * 0.5 ** (days since / half_life)``.

    People's scale drifts: someone who rated their last ten movies half a star above
    what the model expected will likely go on doing so, for a while. The mean is shrunk
    so that a user with one surprising rating moves little, and it fades because a
    scale seen months ago says less about tonight than one seen yesterday.

    Args:
        keys: The sorted history's keys (:func:`history_keys`).
        residuals: Each stored rating's target minus the model's prediction, in key
            order.
        users, timestamps: The moments (user index, Unix seconds; -1 now).
        length: Ratings read.
        shrink: Pseudo-count of zero residuals.
        half_life: Days after which the mean counts half; 0 never fades.
        latest: The second "now" stands for (:func:`latest_time` of the keys). An
            undated last rating does not fade.

    Returns:
        ``(n,)`` float32.

    Example:
        >>> keys = history_keys([0, 0], [0, 86400])
        >>> recent_residual(keys, np.float32([1.0, 1.0]), [0], [3 * 86400], 10, 2.0,
        ...                 half_life=2.0)
        array([0.25], dtype=float32)
    """
    return shrunk_and_faded(*residual_window(keys, residuals, users, timestamps, length,
                                             latest), shrink, half_life)


def residual_window(keys: np.ndarray, residuals: np.ndarray, users, timestamps,
                    length: int, latest: int = 0
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`recent_residual` reads of the window, before any setting applies:
    each moment's residual sum, count and days since the last rating in it (0 when that
    rating is undated), so that settings can be tried without searching again.

    Returns:
        ``(total, count, days)``, each ``(n,)``.
    """
    positions, valid = recent_window(keys, users, timestamps, length)
    total = np.where(valid, np.asarray(residuals, np.float32)[positions], 0.0).sum(axis=1)
    last = np.asarray(keys, np.int64)[positions[:, -1]] % USER_SHIFT
    t = np.asarray(timestamps, np.int64)
    moment = np.where((t < 0) | (t >= UNDATED), np.int64(latest), t)
    days = np.where(last >= UNDATED, 0, np.maximum(moment - last, 0)) / 86400.0
    return total, valid.sum(axis=1), days


def shrunk_and_faded(total, count, days, shrink: float, half_life: float) -> np.ndarray:
    """``total / (count + shrink) * 0.5 ** (days / half_life)`` (no fading at
    ``half_life`` 0), float32: :func:`recent_residual` from :func:`residual_window`."""
    mean = total / (count + np.float32(shrink))
    if half_life > 0:
        mean = mean * 0.5 ** (days / half_life)
    return mean.astype(np.float32)


def recent_residual_ops(keys, residuals, users, timestamps, length: int, shrink,
                        half_life=0.0, latest=0, bounds=None):
    """:func:`recent_residual` in TensorFlow (``half_life`` and ``latest`` may be
    tensors); ``bounds``: see :func:`_window_ends`."""
    import tensorflow as tf

    positions, valid = recent_window_ops(keys, users, timestamps, length, bounds)
    values = tf.where(valid, tf.gather(residuals, positions), tf.zeros((), residuals.dtype))
    count = tf.reduce_sum(tf.cast(valid, residuals.dtype), axis=1)
    mean = tf.reduce_sum(values, axis=1) / (count + tf.cast(shrink, residuals.dtype))
    last = tf.math.floormod(tf.gather(tf.cast(keys, tf.int64), positions[:, -1]), USER_SHIFT)
    t = tf.cast(timestamps, tf.int64)
    latest = tf.cast(tf.convert_to_tensor(latest, dtype_hint=tf.int64), tf.int64)
    moment = tf.where((t < 0) | (t >= UNDATED), latest, t)
    seconds = tf.where(last >= UNDATED, tf.zeros_like(last), tf.maximum(moment - last, 0))
    half_life = tf.cast(half_life, tf.float64)
    days = tf.cast(seconds, tf.float64) / 86400.0
    half = tf.constant(0.5, tf.float64)
    fade = tf.where(half_life > 0, tf.pow(half, days / tf.maximum(half_life, 1e-9)),
                    tf.ones_like(days))
    return mean * tf.cast(fade, residuals.dtype)


def whole_history(keys: np.ndarray, users, timestamps
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every stored rating each (user, time) made strictly before it, flat.

    Returns:
        ``(rows, positions, ages)``: the query each rating belongs to, its position in
        the sorted history and how many of that user's ratings before the moment come
        after it (0 for the latest).
    """
    users = np.asarray(users, np.int64)
    end = np.searchsorted(keys, moment_keys(users, timestamps), side="left")
    start = np.searchsorted(keys, users * USER_SHIFT, side="left")
    lengths = end - start
    rows = np.repeat(np.arange(len(users)), lengths)
    offsets = np.cumsum(lengths) - lengths
    positions = np.arange(int(lengths.sum())) - np.repeat(offsets - start, lengths)
    return rows, positions, np.repeat(end, lengths) - 1 - positions


def whole_history_ops(keys, users, timestamps, bounds=None):
    """:func:`whole_history` in TensorFlow; ``bounds``: see :func:`_window_ends`."""
    import tensorflow as tf

    start, end = _window_ends(keys, users, timestamps, bounds)
    lengths = end - start
    rows = tf.repeat(tf.range(tf.size(start, out_type=tf.int64)), lengths)
    positions = tf.ragged.range(start, end).flat_values
    return rows, positions, tf.repeat(end, lengths) - 1 - positions


def merge_recent(window, recent, length: int, last_era: int = 0):
    """Append ``recent`` item indices (0 = none) to left-padded windows and keep the last
    ``length`` real positions, left-padded again; in TensorFlow.

    Args:
        window: ``(items, ratings, valid)`` or ``(items, ratings, valid, eras)``, as
            :class:`~kerasrec.models.hybrid.time_layers.RecentRatings` returns.
        recent: ``(batch, n)`` item indices, oldest first.
        length: Window length.
        last_era: The era of "now", given to the appended movies (with eras).

    Returns:
        The new window, as ``window`` (the appended movies' ratings are unknown: 0,
        the centred mean).
    """
    import tensorflow as tf

    items, ratings, valid = window[:3]
    recent = tf.cast(recent, items.dtype)
    appended = recent > 0
    columns = [tf.concat([items, recent], 1),
               tf.concat([ratings, tf.zeros(tf.shape(recent), ratings.dtype)], 1),
               tf.concat([valid, appended], 1)]
    if len(window) > 3:
        eras = tf.cast(appended, window[3].dtype) * last_era
        columns.append(tf.concat([window[3], eras], 1))
    # A stable sort on validity moves padding to the left, keeping the order of the rest.
    order = tf.argsort(tf.cast(columns[2], tf.int32), axis=1, stable=True)[:, -length:]
    return tuple(tf.gather(c, order, batch_dims=1) for c in columns)


def recent_module(recent_ratings, history_attention, catalog_scores, weight: float = 1.0,
                  co_watch=None, co_watch_weight: float = 0.0, half_life: float = 0.0):
    """The hybrid's :meth:`~kerasrec.models.base.RecModel.recent_module`: a ``tf.Module``
    over the model's own layers (their weights are the model's), so Python and the
    SavedModel run the same graph.

    Args:
        recent_ratings: The model's :class:`~kerasrec.models.hybrid.time_layers.RecentRatings`.
        history_attention: Its sequence branch, or None (not read by lists).
        catalog_scores: Its retrieval movie vectors.
        weight: The sequence branch's weight in relevance.
        co_watch: Its :class:`~kerasrec.models.hybrid.retrieval_layers.CoWatch`, or None.
        co_watch_weight, half_life: The co-watch part's weight and recency half-life.
    """
    import tensorflow as tf

    from kerasrec.models.hybrid.co_watch import recency_weights_ops

    class _Recent(tf.Module):
        def __init__(self):
            super().__init__(name="recent_history")
            self.recent_ratings, self.history_attention = recent_ratings, history_attention
            self.catalog_scores, self.co_watch = catalog_scores, co_watch
            self.length = recent_ratings.length
            self.last_era = recent_ratings.last_era
            self.weight = tf.constant(float(weight), tf.float32)
            self.co_watch_weight = tf.constant(float(co_watch_weight), tf.float32)
            self.half_life = tf.constant(float(half_life), tf.float32)

        def _appended(self, recent):
            """``recent`` as the latest ratings, oldest first (the last gets age 0),
            flat ``(row, item, age)``, and how many each row has."""
            valid = recent > 0
            count = tf.reduce_sum(tf.cast(valid, tf.int64), axis=1)
            ages = count[:, None] - tf.cumsum(tf.cast(valid, tf.int64), axis=1)
            where = tf.where(valid)
            return (where[:, 0], tf.gather_nd(recent, where), tf.gather_nd(ages, where)), count

        def _history_with(self, rows, recent):
            """Each row's whole history with ``recent`` appended (every stored rating
            ages by their count), flat: ``(owner, items, ages)``."""
            now = tf.fill(tf.shape(rows), tf.constant(-1, tf.int64))
            owner, items, ages = self.recent_ratings.whole(rows, now)
            (new_rows, new_items, new_ages), count = self._appended(recent)
            return (tf.concat([owner, new_rows], 0),
                    tf.concat([tf.cast(items, tf.int64), new_items], 0),
                    tf.concat([ages + tf.gather(count, owner), new_ages], 0))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64),
                                      tf.TensorSpec([None, None], tf.int64)],
                     reduce_retracing=True)
        def parts(self, rows, recent):
            """How much each movie's relevance moves, by part (named as
            ``explain_relevance``'s): ``{"recent": ..., "co_watch": ...}``, each
            ``(batch, n_items)``."""
            zeros = tf.zeros([tf.size(rows), self.catalog_scores.n_items], tf.float32)
            out = {"recent": zeros, "co_watch": zeros}
            if self.history_attention is not None:
                now = tf.fill(tf.shape(rows), tf.constant(-1, tf.int64))
                window = self.recent_ratings([rows, now])
                before = self.history_attention(*window, training=False)
                after = self.history_attention(
                    *merge_recent(window, recent, self.length, self.last_era), training=False)
                vectors = tf.cast(self.catalog_scores.item_vectors(), tf.float32)
                out["recent"] = self.weight * tf.matmul(after - before, vectors,
                                                        transpose_b=True)
            if self.co_watch is not None:
                # The new movies' rows, plus, with recency weights, every stored rating's
                # weight scaled by 0.5 ** (count / half_life) (they all age by the count):
                # one pass over the history instead of two; none without decay.
                n = tf.size(rows)
                appended, count = self._appended(recent)
                shift = self.co_watch(*appended, n_rows=n, half_life=self.half_life)
                if half_life:
                    now = tf.fill(tf.shape(rows), tf.constant(-1, tf.int64))
                    before = self.co_watch(*self.recent_ratings.whole(rows, now), n_rows=n,
                                           half_life=self.half_life)
                    fade = recency_weights_ops(count, self.half_life) - 1.0
                    shift += fade[:, None] * before
                out["co_watch"] = self.co_watch_weight * shift
            return out

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64),
                                      tf.TensorSpec([None, None], tf.int64)],
                     reduce_retracing=True)
        def __call__(self, rows, recent):
            """``(batch, n_items)``: how much each movie's relevance moves."""
            parts = self.parts(rows, recent)
            return parts["recent"] + parts["co_watch"]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64),
                                      tf.TensorSpec([None, None], tf.int64),
                                      tf.TensorSpec([None], tf.int64)],
                     reduce_retracing=True)
        def explain_co_watch(self, rows, recent, items):
            """Each rated movie's share of the co-watch part of ``items`` (one per row),
            ``recent`` appended: flat ``(owner, movie indices, shares)``; a row's shares
            sum to its co-watch part."""
            owner, rated, ages = self._history_with(rows, recent)
            if self.co_watch is None:
                return owner[:0], rated[:0], tf.zeros([0], tf.float32)
            weight = self.co_watch.weight_of(rated, tf.gather(items, owner))
            shares = (self.co_watch_weight * weight
                      * recency_weights_ops(ages, self.half_life))
            return owner, rated, shares

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64),
                                      tf.TensorSpec([None, None], tf.int64),
                                      tf.TensorSpec([None], tf.int64)],
                     reduce_retracing=True)
        def explain(self, rows, recent, items):
            """Why the recent history points at ``items``: the window's item indices,
            their pooling weights and their shares of the item's relevance (which sum
            to the branch's part), each ``(batch, length)``."""
            now = tf.fill(tf.shape(rows), tf.constant(-1, tf.int64))
            window = merge_recent(self.recent_ratings([rows, now]), recent, self.length,
                                  self.last_era)
            if self.history_attention is None:
                zeros = tf.zeros(tf.shape(window[1]), tf.float32)
                return tf.cast(window[0], tf.int32), zeros, zeros
            terms, weights = self.history_attention.contributions(*window)
            vectors = tf.gather(tf.cast(self.catalog_scores.item_vectors(), tf.float32), items)
            shares = self.weight * tf.reduce_sum(terms * vectors[:, None, :], axis=-1)
            return window[0], weights, shares

    return _Recent()
