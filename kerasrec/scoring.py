"""Precomputed scores: every known user x every catalog movie, in stars.

Once a model is trained, its prediction for a (user, movie) pair at the reference
context (a weekday night, outside any training session) no longer changes. For
catalogs of modest size (users x movies up to :data:`SCORE_TABLE_LIMIT` cells) kerasrec
computes them all once, with the model itself, and keeps them in a
:class:`ScoreTable`. ``Recommender.predict`` and ``recommend`` then look scores up
instead of running the network per pair, and the SavedModel export serves the same
table. Nothing is approximated:

* the hybrid's context branch and per-session bias enter its linear ``rating`` head
  additively, so any other context is the table value plus ``slope * (context part -
  reference context part + session part)``, computed from the stored weights of
  those two branches;
* the other models take no context, so the table is their prediction everywhere;
* cold start follows the Recommender's rules: row 0 is the user unseen in training,
  the last column a movie outside the catalog, and the pairs that get the global
  mean (unknown user and a movie never rated) ignore context.

A hybrid with a sigmoid output is not additive after the activation; it has no table
and is scored by the network.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import pandas as pd
import scipy.sparse as sp

SCORE_TABLE_LIMIT = 2 ** 25
"""Largest table (users x catalog movies) kept: 128 MiB of float32 scores."""


@dataclass
class ScoreTable:
    """A model's predictions for every known user and catalog movie.

    Attributes:
        user_ids: (U,) the training users; user ``user_ids[r]`` is row ``r + 1``.
        movie_ids: (M,) the catalog, sorted; movie ``movie_ids[c]`` is column ``c``.
            Column ``M`` stands for any movie outside the catalog.
        stars: (U + 1, M + 1) float32 predictions in stars at the reference context,
            before clipping. Row 0 is the cold-start row of users unseen in training.
        slope: (M + 1,) stars per unit of model score (context and session parts).
        item_known: (M + 1,) whether the movie was rated in training.
        n_ratings: (M,) training ratings per catalog movie.
        seen: (U + 1, M) sparse boolean: movies each user rated in training.
        popular_min: Fewest ratings a movie needs to be recommended to an unseen user.
        rating_range: Predictions are clipped to it.
        context_kernel, context_bias, context_head: The hybrid's context branch
            ``relu(flags @ kernel + bias) @ head``, or None.
        session_keys, session_values, session_hours: The hybrid's per-session bias in
            score units (sorted keys ``row * 2**32 + window``), or None.
        item_vectors: (M, d) unit-length learned movie vectors for similar items, or None.
    """

    user_ids: np.ndarray
    movie_ids: np.ndarray
    stars: np.ndarray
    slope: np.ndarray
    item_known: np.ndarray
    n_ratings: np.ndarray
    seen: sp.csr_matrix
    popular_min: int
    rating_range: Tuple[float, float]
    context_kernel: Optional[np.ndarray] = None
    context_bias: Optional[np.ndarray] = None
    context_head: Optional[np.ndarray] = None
    session_keys: Optional[np.ndarray] = None
    session_values: Optional[np.ndarray] = None
    session_hours: float = 6.0
    item_vectors: Optional[np.ndarray] = None

    @property
    def n_movies(self) -> int:
        return len(self.movie_ids)

    def rows(self, user_ids) -> np.ndarray:
        """Raw userIds -> table rows (0 for users unseen in training)."""
        return (pd.Index(self.user_ids).get_indexer(np.asarray(user_ids, np.int64)) + 1
                ).astype(np.int64)

    def columns(self, movie_ids) -> np.ndarray:
        """Raw movieIds -> table columns (``n_movies`` for movies outside the catalog)."""
        index = pd.Index(self.movie_ids).get_indexer(np.asarray(movie_ids, np.int64))
        return np.where(index < 0, self.n_movies, index).astype(np.int64)

    def context_part(self, flags: np.ndarray) -> np.ndarray:
        """Context branch score minus that of the reference context, per row."""
        if self.context_kernel is None:
            return np.zeros(len(flags))
        flags = np.asarray(flags, np.float64)
        hidden = np.maximum(flags @ self.context_kernel + self.context_bias, 0.0)
        reference = np.maximum(self.context_bias, 0.0)
        return (hidden - reference) @ self.context_head

    def session_part(self, rows: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """Per-session bias in score units (0 outside the training sessions)."""
        timestamps = np.asarray(timestamps, np.int64)
        if self.session_keys is None or not len(self.session_keys):
            return np.zeros(len(rows))
        keys = rows * 2 ** 32 + timestamps // int(self.session_hours * 3600)
        position = np.minimum(np.searchsorted(self.session_keys, keys), len(self.session_keys) - 1)
        found = (self.session_keys[position] == keys) & (timestamps >= 0)
        return np.where(found, self.session_values[position], 0.0)

    def score(self, rows: np.ndarray, columns: np.ndarray, flags: np.ndarray,
              timestamps: np.ndarray, clip: bool = True) -> np.ndarray:
        """Predictions in stars, clipped to the rating range unless ``clip=False``."""
        stars = self.stars[rows, columns].astype(np.float64)
        if self.context_kernel is not None or self.session_keys is not None:
            applies = (rows != 0) | self.item_known[columns]
            shift = self.context_part(flags) + self.session_part(rows, timestamps)
            stars = stars + np.where(applies, self.slope[columns] * shift, 0.0)
        return np.clip(stars, *self.rating_range) if clip else stars

    def user_scores(self, row: int, flags=(0.0, 0.0), timestamp: int = -1,
                    clip: bool = True) -> np.ndarray:
        """One user's predictions for the whole catalog, in stars.

        Rank by the unclipped scores (``clip=False``): clipping ties every movie
        predicted above the top of the scale.
        """
        columns = np.arange(self.n_movies)
        n = len(columns)
        return self.score(np.full(n, row), columns, np.tile(np.asarray(flags, np.float64), (n, 1)),
                          np.full(n, timestamp, np.int64), clip=clip)

    def candidates(self, row: int, exclude_seen: bool = True,
                   min_ratings: Optional[int] = None) -> np.ndarray:
        """Columns that may be recommended to the user of ``row``.

        Known users: movies with at least ``min_ratings`` (default 1) training ratings,
        minus those they rated if ``exclude_seen``; unseen users: at least
        ``popular_min`` ratings (well-rated popular movies).
        """
        if min_ratings is None:
            min_ratings = 1 if row else self.popular_min
        allowed = self.n_ratings >= min_ratings
        if exclude_seen and row:
            allowed[self.seen[row].indices] = False
        return np.flatnonzero(allowed)


    def save(self, path: Union[str, Path]) -> None:
        """Write the table to one ``.npz`` file (the caller makes it atomic)."""
        arrays = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "seen":
                arrays.update(seen_indptr=value.indptr, seen_indices=value.indices,
                              seen_shape=np.asarray(value.shape))
            else:
                arrays[f.name] = np.asarray(value)
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "ScoreTable":
        """Read a table written by :meth:`save`."""
        with np.load(path) as stored:
            values = {k: stored[k] for k in stored.files}
        indptr, indices = values.pop("seen_indptr"), values.pop("seen_indices")
        shape = tuple(values.pop("seen_shape"))
        values["seen"] = sp.csr_matrix((np.ones(len(indices), bool), indices, indptr), shape=shape)
        values["popular_min"] = int(values["popular_min"])
        values["session_hours"] = float(values.get("session_hours", 6.0))
        values["rating_range"] = tuple(float(v) for v in values["rating_range"])
        return cls(**values)


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, ties broken by the smaller id."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64)
    if k < len(scores):
        # Everything scoring at least the k-th best, so ties at the cut stay in play.
        cut = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = np.flatnonzero(scores >= cut)
    else:
        keep = np.arange(len(scores))
    order = np.lexsort((ids[keep], -scores[keep]))[:k]
    return keep[order]


def popular_min(n_ratings: np.ndarray) -> int:
    """Fewest ratings of a movie recommended to an unseen user: the median count of
    rated movies, at least 10."""
    rated = n_ratings[n_ratings > 0]
    return max(10, int(np.median(rated)) if len(rated) else 10)


def table_cells(n_users: int, n_movies: int) -> int:
    """Cells of the score table for that many training users and catalog movies."""
    return (n_users + 1) * (n_movies + 1)
