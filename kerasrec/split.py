"""Train/test splits of a ratings table.

Every split returns a :class:`Split`: train and test share no (userId, movieId) pair,
and the split reports how many test users and movies never occur in train (the cold
start the test will exercise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import pandas as pd

from kerasrec.data.validate import Source, check_columns
from kerasrec.errors import DataError, check_fraction, whole_number

#: What the splits by time read.
TIMED = ("userId", "movieId", "timestamp")


@dataclass(frozen=True)
class Split:
    """A train/test split of ratings.

    Attributes:
        train: Training ratings.
        test: Test ratings.
        cold_users: Test users with no training rating.
        cold_items: Test movies with no training rating.
        method: Name of the split that produced it.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    cold_users: int
    cold_items: int
    method: str

    def __iter__(self):
        """Allow ``train, test = random_split(...)``."""
        return iter((self.train, self.test))

    def summary(self) -> dict:
        """Sizes and cold-start counts as a plain dict."""
        return {"method": self.method, "train": len(self.train), "test": len(self.test),
                "cold_users": self.cold_users, "cold_items": self.cold_items}


def _make(ratings: pd.DataFrame, test_mask: np.ndarray, method: str) -> Split:
    train = ratings.loc[~test_mask].reset_index(drop=True)
    test = ratings.loc[test_mask].reset_index(drop=True)
    cold_users = np.setdiff1d(test["userId"].unique(), train["userId"].unique()).size
    cold_items = np.setdiff1d(test["movieId"].unique(), train["movieId"].unique()).size
    return Split(train, test, int(cold_users), int(cold_items), method)


def _check(ratings: pd.DataFrame, columns: Tuple[str, ...]) -> None:
    # The columns the split reads; the others are carried along untouched.
    check_columns(ratings, columns, Source.in_memory("ratings"))
    if len(ratings) < 2:
        raise DataError("cannot split fewer than two ratings")


def random_split(ratings: pd.DataFrame, test_size: float = 0.2, seed: int = 42) -> Split:
    """Hold out a seeded random ``test_size`` share of all ratings.

    The same seed gives the same split, on any machine.

    Args:
        ratings: A ratings frame (userId, movieId and any other columns, carried along).
        test_size: Share held out, strictly between 0 and 1.
        seed: A whole number, 0 or more.

    Returns:
        A :class:`Split`.

    Raises:
        ArgumentError: For a ``test_size`` or ``seed`` outside those, or ``ratings`` that
            is not a DataFrame.
        DataError: If a column the split reads is missing, or there are fewer than two
            ratings.

    Example:
        >>> train, test = random_split(data.ratings, 0.2, seed=0)
    """
    check_fraction(test_size, "test_size")
    rng = np.random.default_rng(whole_number(seed, "seed", 0))
    _check(ratings, ("userId", "movieId"))
    n_test = int(round(len(ratings) * test_size))
    mask = np.zeros(len(ratings), dtype=bool)
    mask[rng.permutation(len(ratings))[:n_test]] = True
    return _make(ratings, mask, "random")


def _position_from_end(ratings: pd.DataFrame) -> tuple:
    # Ties in time are broken by movieId so the split is deterministic.
    order = np.lexsort((ratings["movieId"].to_numpy(), ratings["timestamp"].to_numpy(),
                        ratings["userId"].to_numpy()))
    users = ratings["userId"].to_numpy()[order]
    counts = pd.Series(users).groupby(users).transform("size").to_numpy()
    rank = pd.Series(users).groupby(users).cumcount().to_numpy()
    from_end = np.empty(len(ratings), dtype=np.int64)
    sizes = np.empty(len(ratings), dtype=np.int64)
    from_end[order] = counts - rank - 1  # 0 = the user's latest rating
    sizes[order] = counts
    return from_end, sizes


def temporal_split(ratings: pd.DataFrame, test_fraction: float = 0.2) -> Split:
    """Hold out each user's latest ``test_fraction`` of ratings, by timestamp.

    Users with a single rating keep it in train; every other user keeps at least one
    training rating.

    Raises:
        ArgumentError, DataError: As :func:`random_split`; the ratings need a
            ``timestamp`` column too.

    Example:
        >>> train, test = temporal_split(data.ratings, 0.2)
    """
    check_fraction(test_fraction, "test_fraction")
    _check(ratings, TIMED)
    from_end, sizes = _position_from_end(ratings)
    n_test = np.minimum(np.floor(sizes * test_fraction + 0.5), sizes - 1)
    return _make(ratings, from_end < n_test, "temporal")


def leave_last_n(ratings: pd.DataFrame, n: int = 1) -> Split:
    """Hold out each user's ``n`` latest ratings; users with ``n`` or fewer keep all in train.

    Raises:
        ArgumentError, DataError: As :func:`temporal_split`, or if ``n`` is not a
            positive whole number.
    """
    n = whole_number(n, "n")
    _check(ratings, TIMED)
    from_end, sizes = _position_from_end(ratings)
    return _make(ratings, (from_end < n) & (sizes > n), f"leave_last_{n}")


def article_split(ratings: pd.DataFrame, test_size: float = 0.2, seed: int = 42) -> Split:
    """The article's split: a seeded share of *movies* (product columns) goes to test.

    Kept to reproduce the article. Every test movie is unseen in train, so the test
    measures item cold start only; prefer :func:`random_split` or
    :func:`temporal_split` for model comparison.

    Raises:
        ArgumentError, DataError: As :func:`random_split`.
    """
    check_fraction(test_size, "test_size")
    rng = np.random.default_rng(whole_number(seed, "seed", 0))
    _check(ratings, ("userId", "movieId"))
    movies = np.unique(ratings["movieId"].to_numpy())
    test_movies = rng.permutation(movies)[: int(round(len(movies) * test_size))]
    return _make(ratings, np.isin(ratings["movieId"].to_numpy(), test_movies), "article")
