"""The catalog a recommender serves: movies, counts, who saw what, and cold start.

:class:`Catalog` is written once and used by ``Recommender``, the score table and the
SavedModel export, so a rule here holds everywhere:

* **Candidates.** Known users are offered movies with at least one training rating
  (or ``min_ratings``), minus those they rated; users unseen in training only movies
  with at least :attr:`Catalog.popular_min` ratings (popular, so the list is not
  obscure).
* **Cold start.** A pair whose user *and* movie are unseen in training gets the
  global mean (:func:`global_mean_pairs`, in NumPy and TensorFlow side by side). A
  pair with one of them unseen is scored by the model if it can
  (``RecModel.scores_cold_pairs``), else by the baseline ``mean + b_u + b_i`` with
  shrunk biases (Koren, 2008), which the catalog holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kerasrec.errors import ArgumentError, is_number, preview, true_or_false, whole_number
from kerasrec.features.titles import parse_titles
from kerasrec.schema import as_ids, display_titles

MOVIES_FILE, SEEN_FILE, FALLBACK_FILE = "catalog.parquet", "seen.parquet", "fallback.npz"


def global_mean_pairs(user_index, item_index) -> np.ndarray:
    """Pairs that get the global mean: user and movie both unseen in training."""
    return (np.asarray(user_index) == 0) & (np.asarray(item_index) == 0)


def global_mean_pairs_tf(user_rows, item_known):
    """:func:`global_mean_pairs` in TensorFlow (``item_known``: the movie was rated)."""
    import tensorflow as tf

    return tf.equal(user_rows, 0) & tf.logical_not(item_known)


def popular_min(n_ratings: np.ndarray) -> int:
    """Fewest ratings a movie needs to be recommended to a user unseen in training:
    the median count of rated movies, at least 10."""
    rated = np.asarray(n_ratings)[np.asarray(n_ratings) > 0]
    return max(10, int(np.median(rated)) if len(rated) else 10)


@dataclass(frozen=True)
class Filters:
    """What a recommendation list may hold, on top of the candidate rule above.

    Attributes:
        exclude_seen: Leave out movies the user rated in training.
        min_ratings: Movies need at least this many training ratings (default: 1 for
            known users, :attr:`Catalog.popular_min` for users unseen in training).
        genres: Only movies with at least one of these genres (any case).
        years: ``(first, last)`` release years, inclusive; either may be None. Movies
            without a year are left out when a range is given.
        movies: Only these movieIds (an explicit candidate list).
        exclude: Never these movieIds.

    Example:
        >>> Filters(genres=["Comedy"], years=(1990, 1999), exclude=[1])
    """

    exclude_seen: bool = True
    min_ratings: Optional[int] = None
    genres: Optional[Sequence[str]] = None
    years: Optional[Tuple[Optional[int], Optional[int]]] = None
    movies: Optional[Sequence[int]] = None
    exclude: Optional[Sequence[int]] = None

    def __post_init__(self) -> None:
        true_or_false(self.exclude_seen, "exclude_seen")
        if self.min_ratings is not None:
            whole_number(self.min_ratings, "min_ratings", 0)
        if isinstance(self.genres, str):  # one genre, not its letters
            object.__setattr__(self, "genres", (self.genres,))
        if self.genres is not None and not (isinstance(self.genres, Iterable) and all(
                isinstance(g, str) for g in self.genres)):
            raise ArgumentError(f"genres must be genre names, e.g. ['Comedy'], got "
                                f"{self.genres!r}")
        for name in ("movies", "exclude"):  # one id ("12", 12) or several, as ids are read
            if getattr(self, name) is not None:
                object.__setattr__(self, name, as_ids(getattr(self, name), name))
        if self.years is not None:
            try:
                first, last = self.years
            except (TypeError, ValueError):
                raise ArgumentError(f"years must be (first, last), got {self.years!r}") from None
            if not all(y is None or is_number(y) for y in (first, last)):
                raise ArgumentError(f"years must be (first, last), each a year or None, got "
                                    f"{self.years!r}")
            if first is not None and last is not None and first > last:
                raise ArgumentError(f"years must be (first, last) with first <= last, got "
                                    f"{self.years!r}")


class Catalog:
    """Movies (sorted by movieId), training statistics and the cold-start baseline.

    Attributes:
        movies: Indexed by movieId: title, name, year, genres, n_ratings, mean_rating.
        seen: Training pairs (userId, movieId).
        global_mean: Mean training rating in stars.
        user_bias, item_bias: Shrunk biases by pipeline index (index 0, unseen: 0).
        user_ids: The pipeline's user vocabulary (row ``r + 1`` of the seen matrix).
    """

    def __init__(self, movies: pd.DataFrame, seen: pd.DataFrame, global_mean: float,
                 user_bias: np.ndarray, item_bias: np.ndarray, user_ids: np.ndarray) -> None:
        self.movies = movies
        self.seen = seen
        self.global_mean = float(global_mean)
        self.user_bias, self.item_bias = user_bias, item_bias
        self.user_ids = np.asarray(user_ids, np.int64)
        self._seen_matrix: Optional[sp.csr_matrix] = None

    @classmethod
    def fit(cls, products: pd.DataFrame, ratings: pd.DataFrame, pipeline) -> "Catalog":
        """The catalog of ``products`` with statistics of the training ``ratings``."""
        from kerasrec.models.baselines import shrunk_biases

        parsed = parse_titles(products["title"])
        stats = ratings.groupby("movieId")["rating"].agg(n_ratings="size", mean_rating="mean")
        movies = pd.DataFrame({"movieId": products["movieId"].to_numpy(),
                               "title": products["title"].astype(str).to_numpy(),
                               "name": parsed["name"].to_numpy(),
                               "year": parsed["year"].to_numpy(),
                               "genres": products["genres"].fillna("").astype(str).to_numpy()})
        movies = movies.set_index("movieId").sort_index().join(stats)
        movies["n_ratings"] = movies["n_ratings"].fillna(0).astype("int64")
        u = pipeline.user_index(ratings["userId"].to_numpy())
        i = pipeline.item_index(ratings["movieId"].to_numpy())
        mean, user_bias, item_bias = shrunk_biases(u - 1, i - 1, ratings["rating"].to_numpy(),
                                                   pipeline.n_users - 1, pipeline.n_items - 1)
        return cls(movies, ratings[["userId", "movieId"]].reset_index(drop=True), mean,
                   np.concatenate([[0.0], user_bias]), np.concatenate([[0.0], item_bias]),
                   pipeline.user_vocabulary_)

    # --- the movies ---------------------------------------------------------------------

    @property
    def movie_ids(self) -> np.ndarray:
        """Catalog movieIds, sorted."""
        return self.movies.index.to_numpy(np.int64)

    @property
    def n_ratings(self) -> np.ndarray:
        """Training ratings per catalog movie, in ``movie_ids`` order."""
        return self.movies["n_ratings"].to_numpy(np.int64)

    @property
    def popular_min(self) -> int:
        """Fewest ratings a movie needs to be offered to a user unseen in training."""
        return popular_min(self.n_ratings)

    def position(self, movie_ids) -> np.ndarray:
        """Positions in :attr:`movie_ids` (-1 outside the catalog)."""
        return self.movies.index.get_indexer(np.asarray(movie_ids))

    def title(self, movie_id) -> Optional[str]:
        """The display title of a movie ("The Matrix (1999)"), None outside the catalog."""
        row = self.position([movie_id])[0]
        if row < 0:
            return None
        return str(display_titles(self.movies["title"].iloc[[row]]).iloc[0])

    def describe(self, movie_ids) -> pd.DataFrame:
        """movieId, title (as people write it), year (integer, missing where unknown) and
        genres of catalog movies, in the given order."""
        out = self.movies.loc[movie_ids, ["title", "year", "genres"]].reset_index()
        out["title"] = display_titles(out["title"]).to_numpy()
        out["year"] = out["year"].astype("Int64")
        return out

    # --- who saw what -------------------------------------------------------------------

    def seen_matrix(self) -> sp.csr_matrix:
        """(users + 1, movies) booleans: row ``r + 1`` is user ``user_ids[r]``."""
        if self._seen_matrix is None:
            rows = pd.Index(self.user_ids).get_indexer(self.seen["userId"].to_numpy()) + 1
            columns = self.position(self.seen["movieId"].to_numpy())
            self._seen_matrix = sp.csr_matrix(
                (np.ones(len(rows), bool), (rows, columns)),
                shape=(len(self.user_ids) + 1, len(self.movies)))
        return self._seen_matrix

    def allowed(self, rows: np.ndarray, filters: Filters = Filters()) -> np.ndarray:
        """``(len(rows), n_movies)`` booleans: what may be recommended to the users of
        seen-matrix ``rows`` (0: a user unseen in training).

        Raises:
            ArgumentError: For a genre the catalog does not have.
        """
        rows = np.asarray(rows, np.int64)
        if filters.min_ratings is None:
            least = np.where(rows > 0, 1, self.popular_min)
        else:
            least = np.full(len(rows), filters.min_ratings)
        allowed = (self.n_ratings[None, :] >= least[:, None]) & self.kept(filters)[None, :]
        if filters.exclude_seen:
            allowed &= ~self.seen_matrix()[rows].toarray()
        return allowed

    def kept(self, filters: Filters) -> np.ndarray:
        """``(n_movies,)`` booleans: the movies that pass the user-independent filters."""
        keep = np.ones(len(self.movies), bool)
        if filters.genres is not None:
            keep &= self._has_genre(filters.genres)
        if filters.years is not None:
            first, last = filters.years
            year = self.movies["year"].to_numpy(np.float64)
            keep &= ~np.isnan(year)
            keep &= (year >= (first if first is not None else -np.inf)) & (
                year <= (last if last is not None else np.inf))
        if filters.movies is not None:
            keep &= np.isin(self.movie_ids, filters.movies)
        if filters.exclude is not None:
            keep &= ~np.isin(self.movie_ids, filters.exclude)
        return keep

    def _has_genre(self, wanted: Sequence[str]) -> np.ndarray:
        names = self.movies["genres"].str.split("|").explode()
        known = {g.casefold(): g for g in names.unique()}
        unknown = [g for g in wanted if str(g).strip().casefold() not in known]
        if unknown:
            raise ArgumentError(f"unknown genre(s) {preview(unknown)}; the catalog has "
                                f"{', '.join(sorted(known.values()))}")
        hits = names.isin({known[str(g).strip().casefold()] for g in wanted})
        return hits.groupby(level=0, sort=False).any().reindex(self.movies.index,
                                                                fill_value=False).to_numpy()

    def candidates(self, row: int, filters: Filters = Filters()) -> np.ndarray:
        """Catalog positions that may be recommended to the user of seen-matrix ``row``."""
        return np.flatnonzero(self.allowed(np.array([row]), filters)[0])

    # --- cold start ---------------------------------------------------------------------

    def fallback(self, block) -> np.ndarray:
        """The baseline ``mean + b_u + b_i`` in stars (float32, as it is stored)."""
        return (self.global_mean + self.user_bias[block["user_id"]]
                + self.item_bias[block["item_id"]]).astype(np.float32).astype(np.float64)

    def apply_cold_start(self, block, stars: np.ndarray, model_scores_cold: bool) -> np.ndarray:
        """``stars`` with the cold-start rules applied (see the module docstring)."""
        user_unknown, item_unknown = block["user_id"] == 0, block["item_id"] == 0
        if not model_scores_cold:
            stars = np.where(user_unknown | item_unknown, self.fallback(block), stars)
        return np.where(global_mean_pairs(block["user_id"], block["item_id"]),
                        self.global_mean, stars)

    def cold_start_parts(self, block, parts: pd.DataFrame) -> pd.DataFrame:
        """Explanation parts with the global-mean rule: those pairs are all intercept."""
        both = global_mean_pairs(block["user_id"], block["item_id"])
        parts.loc[both, :] = 0.0
        parts.loc[both, "intercept"] = self.global_mean
        return parts

    # --- persistence --------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write ``catalog.parquet``, ``seen.parquet`` and ``fallback.npz``."""
        self.movies.reset_index().to_parquet(folder / MOVIES_FILE)
        self.seen.to_parquet(folder / SEEN_FILE, index=False)
        np.savez(folder / FALLBACK_FILE, global_mean=self.global_mean,
                 user_bias=self.user_bias, item_bias=self.item_bias)

    @classmethod
    def load(cls, folder: Path, pipeline) -> "Catalog":
        """Read what :meth:`save` wrote (no pickle: Parquet and ``.npz`` arrays)."""
        from kerasrec.errors import ArtifactError

        movies = pd.read_parquet(folder / MOVIES_FILE)
        seen = pd.read_parquet(folder / SEEN_FILE)
        for path, frame, columns in ((folder / MOVIES_FILE, movies, {"movieId", "title", "n_ratings"}),
                                     (folder / SEEN_FILE, seen, {"userId", "movieId"})):
            if not columns <= set(frame.columns):
                raise ArtifactError(f"'{path}' lacks column(s) {sorted(columns - set(frame.columns))}")
        with np.load(folder / FALLBACK_FILE) as stored:
            arrays = {k: stored[k] for k in ("global_mean", "user_bias", "item_bias")}
        if len(arrays["user_bias"]) != pipeline.n_users or len(arrays["item_bias"]) != pipeline.n_items:
            raise ArtifactError(f"'{folder / FALLBACK_FILE}' does not match the pipeline's "
                                "vocabularies (a file from another model?)")
        return cls(movies.set_index("movieId"), seen[["userId", "movieId"]],
                   float(arrays["global_mean"]), arrays["user_bias"], arrays["item_bias"],
                   pipeline.user_vocabulary_)
