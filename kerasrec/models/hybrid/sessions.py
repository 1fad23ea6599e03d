"""The session rule: which rating session a (user, time) belongs to.

A session is a ``session_hours`` window of Unix time; its key is
``user * 2**32 + timestamp // window``. Ratings without a time (timestamp < 0) belong
to no session. The rule exists in NumPy (:func:`session_keys`, for the score table
and the training data) and in Keras ops (:func:`session_keys_ops`, inside the model
and the SavedModel) side by side; ``tests/models/test_hybrid.py`` holds them equal.

So does the lookup of a key among the sorted training sessions
(:func:`find_sessions`, :func:`find_sessions_tf`, :func:`find_sessions_hashed`). Inside
the model it searches only the user's own sessions (``user_offsets``): among 25M
sessions (the generated MovieLens-25M data makes nearly every rating its own) a batch
of 16,384 keys takes 22.2 ms to find among all keys, 3.6 ms among each user's. The
training step asks a hash table instead (:func:`session_table`): one probe a key,
where a search reads the keys about log2(the user's sessions) times, one after
another (6.9 ms among each user's against 0.5 ms in the table, measured together;
``benchmarks/lookups.py``).
"""

from __future__ import annotations

import numpy as np

#: Keys put the user above bit 32, so windows of one user never collide with another's.
USER_SHIFT = 2 ** 32


def window_seconds(session_hours: float) -> int:
    """Length of a session window in whole seconds."""
    return int(session_hours * 3600)


def session_keys(users, timestamps, session_hours: float) -> np.ndarray:
    """Session key of each (user index, Unix time); -1 where the time is unknown."""
    users = np.asarray(users, np.int64)
    timestamps = np.asarray(timestamps, np.int64)
    keys = users * USER_SHIFT + timestamps // window_seconds(session_hours)
    return np.where(timestamps >= 0, keys, -1)


def session_keys_ops(users, timestamps, session_hours: float):
    """:func:`session_keys` in Keras ops (a TensorFlow graph under the TF backend)."""
    from keras import ops

    timestamps = ops.cast(timestamps, "int64")
    keys = (ops.cast(users, "int64") * USER_SHIFT
            + ops.floor_divide(timestamps, window_seconds(session_hours)))
    return ops.where(timestamps >= 0, keys, -1)


def training_sessions(users, timestamps, session_hours: float) -> np.ndarray:
    """The sorted, distinct session keys of training ratings (undated ones excluded)."""
    keys = session_keys(users, timestamps, session_hours)
    return np.unique(keys[keys >= 0])


def user_offsets(sorted_keys: np.ndarray, n_users: int) -> np.ndarray:
    """Where each user's sessions begin among ``sorted_keys``: ``(n_users + 1,)`` int64,
    user ``u``'s keys being ``sorted_keys[offsets[u]:offsets[u + 1]]``."""
    starts = np.arange(n_users + 1, dtype=np.int64) * USER_SHIFT
    return np.searchsorted(np.asarray(sorted_keys, np.int64), starts).astype(np.int64)


def find_sessions(sorted_keys: np.ndarray, keys: np.ndarray):
    """``(position, found)`` of each session key among the sorted training keys; a key
    not there (or -1) has ``found`` False and a position that is a valid index."""
    sorted_keys, keys = np.asarray(sorted_keys, np.int64), np.asarray(keys, np.int64)
    if not len(sorted_keys):
        return np.zeros(len(keys), np.int64), np.zeros(len(keys), bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return position, (sorted_keys[position] == keys) & (keys >= 0)


def _key_table(sorted_keys):
    """``(table, n)``: sorted keys readable a row at a time (a variable's handle, not a
    copy) and their number, read from the static shape where there is one (reading
    a variable for ``tf.shape`` would copy it whole)."""
    import keras
    import tensorflow as tf

    table = sorted_keys.value if isinstance(sorted_keys, keras.Variable) else sorted_keys
    n = (tf.constant(table.shape[0], tf.int64) if table.shape[0] is not None
         else tf.shape(table, out_type=tf.int64)[0])
    return table, n


def lower_bound_tf(sorted_keys, keys, lower, upper):
    """For each key, the first position in ``[lower, upper)`` whose sorted key is not
    below it (``upper`` if none): one binary search per key, all keys at once, in
    TensorFlow. ``sorted_keys`` may be a variable: it is read a row at a time, never
    whole (a whole read copies it once gathers have put it in copy-on-read mode, about
    8 ms a step at 25M keys)."""
    import tensorflow as tf

    keys = tf.cast(keys, tf.int64)
    table, n = _key_table(sorted_keys)

    def narrow(lo, hi):
        mid = (lo + hi) // 2
        right = (lo < hi) & (tf.gather(table, tf.clip_by_value(mid, 0, tf.maximum(n - 1, 0)))
                             < keys)
        return tf.where(right, mid + 1, lo), tf.where(right | (lo >= hi), hi, mid)

    position, _ = tf.while_loop(lambda lo, hi: tf.reduce_any(lo < hi), narrow,
                                (tf.cast(lower, tf.int64), tf.cast(upper, tf.int64)))
    return position


def find_sessions_tf(sorted_keys, keys, lower=None, upper=None):
    """:func:`find_sessions` in TensorFlow. With ``lower``/``upper`` (each key's user's
    range, from :func:`user_offsets`), a binary search of that range alone
    (:func:`lower_bound_tf`); without, one search over every key."""
    import tensorflow as tf

    keys = tf.cast(keys, tf.int64)
    table, n = _key_table(sorted_keys)
    if lower is None:
        position = tf.searchsorted(tf.convert_to_tensor(table), keys, out_type=tf.int64)
    else:
        # Undated keys (-1) have no session: an empty range at 0 ends their search at
        # once and reads the first key (cached) instead of one far away in memory.
        dated = keys >= 0
        position = lower_bound_tf(table, keys, tf.where(dated, tf.cast(lower, tf.int64), 0),
                                  tf.where(dated, tf.cast(upper, tf.int64), 0))
    position = tf.minimum(position, tf.maximum(n - 1, 0))
    return position, (tf.gather(table, position) == keys) & (keys >= 0)


def session_table(sorted_keys: np.ndarray):
    """A TensorFlow hash table from each training session's key to its position among
    ``sorted_keys`` (int32, or int64 past 2**31 sessions), for
    :func:`find_sessions_hashed`.

    At 25M sessions it takes about 2 s to build and holds about 0.55 GB (0.8 GB while
    it is built; ``benchmarks/lookups.py``).

    Example:
        >>> import tensorflow as tf
        >>> table = session_table(np.array([5, 9, 12]))
        >>> [int(v) for v in table.lookup(tf.constant([9, 10], tf.int64))]
        [1, -1]
    """
    import tensorflow as tf

    keys = np.asarray(sorted_keys, np.int64)
    dtype = np.int32 if len(keys) < 2 ** 31 else np.int64
    if not len(keys):  # a table cannot be empty: -1 is no session's key
        keys, positions = np.array([-1], np.int64), np.array([-1], dtype)
    else:
        positions = np.arange(len(keys), dtype=dtype)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, positions),
                                     default_value=-1)


def find_sessions_hashed(table, keys):
    """:func:`find_sessions` by a :func:`session_table`: the same ``found``, and the same
    position where found (0 where not)."""
    import tensorflow as tf

    position = tf.cast(table.lookup(tf.cast(keys, tf.int64)), tf.int64)
    found = position >= 0
    return tf.maximum(position, 0), found
