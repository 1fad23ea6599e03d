"""The hybrid's additive context, session and recent-residual terms, in NumPy and in
TensorFlow.

The context branch ``relu(flags @ kernel + bias)``, the per-session bias and the recent
residuals (``recent_stars``) enter the linear ``rating`` head additively, so a score at
any context is the score at the reference context (a weekday night, no session, now)
plus :meth:`HybridTerms.shift`. The
score table stores reference scores and adds the shift; the SavedModel runs the same
shift from :meth:`HybridTerms.serving_module`. Both forms sit side by side here and
``tests/models/test_hybrid.py`` holds them equal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional

import numpy as np

from kerasrec.models.hybrid.recent import recent_residual, recent_residual_ops
from kerasrec.models.hybrid.sessions import (USER_SHIFT, find_sessions, find_sessions_tf,
                                             session_keys, session_keys_ops, user_offsets)


@dataclass
class HybridTerms:
    """Context and session parts in score units (multiply by the stars slope).

    Attributes:
        context_kernel, context_bias, context_head: The context branch and its weights
            in the head, or None without the branch.
        session_keys: Sorted keys of the training sessions, or None.
        session_values: Each session's bias times its head weight.
        session_hours: Session window length.
        recent_keys, recent_residuals: The stored residuals of ``recent_stars`` by key
            (:class:`~kerasrec.models.hybrid.time_layers.RecentResiduals`), or None.
        recent_values: ``(length, shrink, head weight, half-life in days, latest
            second)`` of that part.
    """

    context_kernel: Optional[np.ndarray] = None
    context_bias: Optional[np.ndarray] = None
    context_head: Optional[np.ndarray] = None
    session_keys: Optional[np.ndarray] = None
    session_values: Optional[np.ndarray] = None
    session_hours: float = 6.0
    recent_keys: Optional[np.ndarray] = None
    recent_residuals: Optional[np.ndarray] = None
    recent_values: Optional[np.ndarray] = None

    @property
    def has_sessions(self) -> bool:
        return self.session_keys is not None and len(self.session_keys) > 0

    @property
    def has_recent(self) -> bool:
        return self.recent_keys is not None and bool(self.recent_values[2])

    def unknown_users(self) -> "HybridTerms":
        """The terms of users unseen in training: the context branch alone.

        Sessions and recent residuals belong to training users, so for an unknown user
        (row 0) they add nothing; an export that needs the terms only for such users
        (the two-stage SavedModel, whose model scores known users itself) leaves their
        keys out instead of storing them a second time.
        """
        return replace(self, session_keys=None, session_values=None, recent_keys=None,
                       recent_residuals=None, recent_values=None)

    def shift(self, rows: np.ndarray, flags: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """Score minus the reference-context score, per (user index, flags, time)."""
        shift = np.zeros(len(rows))
        if self.context_kernel is not None:
            hidden = np.maximum(np.asarray(flags, np.float64) @ self.context_kernel
                                + self.context_bias, 0.0)
            shift += (hidden - np.maximum(self.context_bias, 0.0)) @ self.context_head
        if self.has_sessions:
            position, found = find_sessions(
                self.session_keys, session_keys(rows, timestamps, self.session_hours))
            shift += np.where(found, self.session_values[position], 0.0)
        if self.has_recent:
            length, shrink, weight, half_life, latest = self.recent_values
            drift = [recent_residual(self.recent_keys, self.recent_residuals, rows, moments,
                                     int(length), shrink, half_life, int(latest))
                     for moments in (timestamps, np.full(len(rows), -1))]
            shift += weight * (drift[0].astype(np.float64) - drift[1])
        return shift

    def serving_module(self):
        """A ``tf.Module`` computing :meth:`shift` in a graph: ``module(rows, flags, t)``."""
        import tensorflow as tf

        terms = self

        class _Shift(tf.Module):
            def __init__(self):
                super().__init__(name="additive_terms")
                fixed = dict(trainable=False)
                if terms.context_kernel is not None:
                    self.kernel = tf.Variable(terms.context_kernel.astype(np.float32), **fixed)
                    self.bias = tf.Variable(terms.context_bias.astype(np.float32), **fixed)
                    self.head = tf.Variable(terms.context_head.astype(np.float32)[:, None], **fixed)
                if terms.has_sessions:
                    keys = terms.session_keys.astype(np.int64)
                    self.keys = tf.Variable(keys, **fixed)
                    self.values = tf.Variable(terms.session_values.astype(np.float32), **fixed)
                    # Each user's own sessions are searched (as in the model): a search
                    # of every key would read the whole key variable on each call.
                    self.n_users = int(keys[-1] // USER_SHIFT) + 1
                    self.offsets = tf.Variable(user_offsets(keys, self.n_users), **fixed)
                if terms.has_recent:
                    keys = terms.recent_keys.astype(np.int64)
                    self.recent_keys = tf.Variable(keys, **fixed)
                    self.recent_residuals = tf.Variable(
                        terms.recent_residuals.astype(np.float32), **fixed)
                    self.recent_users = int(keys[-1] // USER_SHIFT) + 1 if len(keys) else 1
                    self.recent_offsets = tf.Variable(user_offsets(keys, self.recent_users),
                                                      **fixed)

            def __call__(self, rows, flags, timestamps):
                shift = tf.zeros(tf.shape(rows), tf.float32)
                if terms.context_kernel is not None:
                    hidden = tf.nn.relu(tf.matmul(flags, self.kernel) + self.bias)
                    shift += tf.matmul(hidden - tf.nn.relu(self.bias)[None, :], self.head)[:, 0]
                if terms.has_sessions:
                    rows = tf.cast(rows, tf.int64)
                    bounds = (tf.gather(self.offsets, tf.minimum(rows, self.n_users)),
                              tf.gather(self.offsets, tf.minimum(rows + 1, self.n_users)))
                    position, found = find_sessions_tf(
                        self.keys, session_keys_ops(rows, timestamps, terms.session_hours),
                        *bounds)
                    shift += tf.where(found, tf.gather(self.values, position), 0.0)
                if terms.has_recent:
                    length, shrink, weight, half_life, latest = terms.recent_values
                    rows = tf.cast(rows, tf.int64)
                    bounds = (tf.gather(self.recent_offsets, tf.minimum(rows, self.recent_users)),
                              tf.gather(self.recent_offsets,
                                        tf.minimum(rows + 1, self.recent_users)))
                    drift = [recent_residual_ops(self.recent_keys, self.recent_residuals, rows,
                                                 moments, int(length), float(shrink),
                                                 float(half_life), int(latest), bounds)
                             for moments in (timestamps, tf.fill(tf.shape(rows),
                                                                 tf.constant(-1, tf.int64)))]
                    shift += float(weight) * (drift[0] - drift[1])
                return shift

        return _Shift()

    def to_arrays(self) -> Dict[str, np.ndarray]:
        """The terms as named arrays (for an ``.npz``)."""
        arrays = {name: np.asarray(value) for name, value in vars(self).items()
                  if value is not None}
        arrays["session_hours"] = np.asarray(self.session_hours)
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> "HybridTerms":
        """Inverse of :meth:`to_arrays`."""
        values = {name: arrays[name] for name in ("context_kernel", "context_bias",
                                                  "context_head", "session_keys",
                                                  "session_values", "recent_keys",
                                                  "recent_residuals", "recent_values")
                  if name in arrays}
        return cls(**values, session_hours=float(arrays["session_hours"]))
