"""The session rule: which rating session a (user, time) belongs to.

A session is a ``session_hours`` window of Unix time; its key is
``user * 2**32 + timestamp // window``. Ratings without a time (timestamp < 0) belong
to no session. The rule exists in NumPy (:func:`session_keys`, for the score table
and the training data) and in Keras ops (:func:`session_keys_ops`, inside the model
and the SavedModel) side by side; ``tests/models/test_hybrid.py`` holds them equal.
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
