"""Synthetic MovieLens-style data with planted, learnable structure.

The generator plants what the hybrid model is built to find: a per-user taste over
genres, a per-movie quality, a low-rank user x movie interaction, a small bonus for
old movies, and a context effect (ratings given at the weekend are higher, ratings
given in the daytime lower). Everything is vectorized, so tens of millions of ratings
generate in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np
import pandas as pd

from kerasrec.data.movie_data import MovieData
from kerasrec.errors import ArgumentError, whole_number
from kerasrec.schema import context_features, decode_genres

GENRES = ("Action Adventure Animation Children Comedy Crime Documentary Drama Fantasy "
          "Film-Noir Horror IMAX Musical Mystery Romance Sci-Fi Thriller War Western").split()
# Relative frequency of each genre, roughly as in MovieLens.
_GENRE_WEIGHTS = np.array([18, 13, 6, 7, 39, 13, 4, 44, 8, 1, 10, 2, 3, 6, 16, 9, 19, 4, 2],
                          dtype=float)
_ADJECTIVES = ("Silent Broken Golden Last Secret Lost Hidden Crimson Wild Dark Bright Frozen "
               "Endless Distant Burning Quiet Iron Electric Forgotten Midnight Little Strange "
               "Savage Gentle Hollow Velvet Brave Lonely Bitter Sweet").split()
_NOUNS = ("River Empire Garden Promise Kingdom Stranger Harbor Mirror Journey Storm Letter "
          "Island Summer Shadow Machine Heart Horizon Frontier Witness Dream Voyage Signal "
          "Orchard Prophet Carnival Station Lantern Citadel Echo Compass").split()
_SERIES = ("", "", "", "", " II", " 2", " Returns", ": Origins", ": The Reckoning")

#: The planted effects, in stars.
WEEKEND_EFFECT = 0.30
DAYTIME_EFFECT = -0.25
OLD_EFFECT = 0.15
NOISE_SD = 0.55

DEFAULT_SAMPLE = dict(n_users=300, n_movies=600, n_ratings=20_000, seed=0)
SAMPLE_FILE = "sample_movies.xlsx"


def make_sample(n_users: int = 300, n_movies: int = 600, n_ratings: int = 20_000,
                seed: int = 0, *, start: str = "2000-01-01", end: str = "2018-09-01",
                chunk_size: int = 2_000_000) -> MovieData:
    """Generate MovieLens-style data with planted structure.

    Args:
        n_users: Number of users.
        n_movies: Number of movies in the catalog.
        n_ratings: Number of distinct (user, movie) ratings; at most n_users * n_movies / 2.
        seed: Random seed; the same seed gives the same data on any machine.
        start, end: Rating timestamps are uniform in this UTC interval.
        chunk_size: Ratings are scored in chunks of this size to bound memory.

    Returns:
        A validated-schema :class:`MovieData` (ratings sorted by userId, timestamp).

    Raises:
        ArgumentError: If a size is not a positive whole number, the seed not a whole
            number (0 or more), or ``n_ratings`` is too large.
    """
    sample = _Sample(n_users, n_movies, n_ratings, seed, start, end, chunk_size)
    return MovieData(sample.products, next(sample.chunks(n_ratings)), f"make_sample(seed={seed})")


def write_sample(folder: Union[str, Path], n_users: int, n_movies: int, n_ratings: int,
                 seed: int = 0, *, start: str = "2000-01-01", end: str = "2018-09-01",
                 chunk_size: int = 2_000_000) -> Path:
    """Generate :func:`make_sample`'s data and stream it to Parquet, a chunk at a time.

    For sizes that would not fit comfortably in memory as one DataFrame (MovieLens-25M:
    ``write_sample(folder, 162_000, 59_000, 25_000_000)``). The folder holds
    ``movies.parquet`` and ``ratings.parquet`` (int32 ids, float32 ratings, int64
    timestamps), is written atomically, and reads back (:func:`~kerasrec.load_movies`)
    as exactly ``make_sample`` with the same arguments.

    Args:
        folder: Output folder: new, empty, or kerasrec's own data folder (replaced);
            anything else is refused before generating.
        n_users, n_movies, n_ratings, seed, start, end: As in :func:`make_sample`.
        chunk_size: Ratings per Parquet row group (and per scoring chunk).

    Returns:
        ``folder``.

    Raises:
        ArgumentError: If a size is not a positive whole number, the seed not a whole
            number (0 or more), or ``n_ratings`` is too large.
        ArtifactError: If the folder cannot be written or holds other files.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kerasrec._io import atomic_path, check_output_folder, write_marker

    check_output_folder(folder, "data")
    sample = _Sample(n_users, n_movies, n_ratings, seed, start, end, chunk_size)
    tables = (pa.Table.from_pandas(chunk, preserve_index=False)
              for chunk in sample.chunks(chunk_size))
    first = next(tables)  # there is at least one rating
    with atomic_path(folder, directory=True, kind="data") as tmp:
        write_marker(tmp, "data", source="kerasrec.data.write_sample", seed=seed)
        sample.products.to_parquet(tmp / "movies.parquet", index=False)
        with pq.ParquetWriter(tmp / "ratings.parquet", first.schema) as writer:
            writer.write_table(first)
            for table in tables:
                writer.write_table(table)
    return Path(folder)


class _Sample:
    """One generated dataset: the catalog, and its ratings drawn but not yet laid out.

    Ratings are drawn and scored in draw order (so the seed alone decides them) and
    handed out in (userId, timestamp) order, in chunks.
    """

    def __init__(self, n_users: int, n_movies: int, n_ratings: int, seed: int, start: str,
                 end: str, chunk_size: int) -> None:
        for name, value in (("n_users", n_users), ("n_movies", n_movies),
                            ("n_ratings", n_ratings), ("chunk_size", chunk_size)):
            whole_number(value, name)
        whole_number(seed, "seed", 0)
        try:
            lo, hi = (pd.Timestamp(t, tz="UTC").timestamp() for t in (start, end))
        except (TypeError, ValueError):
            raise ArgumentError(f"start and end must be dates such as '2000-01-01', got "
                                f"{start!r} and {end!r}") from None
        if not lo < hi:
            raise ArgumentError(f"start must come before end, got {start!r} and {end!r}")
        if n_ratings > n_users * n_movies // 2:
            raise ArgumentError(f"n_ratings={n_ratings} is more than half of all "
                             f"{n_users * n_movies} (user, movie) pairs; use fewer ratings")
        rng = np.random.default_rng(seed)
        products, movie_genres, quality, popularity, old = _movies(rng, n_movies)
        n_factors = 5
        user_bias = rng.normal(0.0, 0.35, n_users)
        taste = rng.normal(0.0, 0.45, (n_users, len(GENRES)))
        user_factors = rng.normal(0.0, 0.35, (n_users, n_factors))
        item_factors = rng.normal(0.0, 0.35, (n_movies, n_factors))
        activity = rng.lognormal(0.0, 0.9, n_users)

        users, items = _pairs(rng, n_ratings, activity, popularity, n_movies)
        timestamps = rng.integers(int(lo), int(hi), size=n_ratings, dtype=np.int64)
        # Each genre's taste is spread over the movie's genres so multi-genre films are
        # not extreme.
        genre_norm = movie_genres / np.maximum(movie_genres.sum(axis=1, keepdims=True), 1.0)
        ratings = np.empty(n_ratings, dtype=np.float32)
        for s in range(0, n_ratings, chunk_size):
            u, i = users[s:s + chunk_size], items[s:s + chunk_size]
            ctx = context_features(timestamps[s:s + chunk_size])
            score = (3.5 + user_bias[u] + quality[i] + OLD_EFFECT * old[i]
                     + np.einsum("ng,ng->n", taste[u], genre_norm[i])
                     + np.einsum("nk,nk->n", user_factors[u], item_factors[i])
                     + WEEKEND_EFFECT * ctx[:, 1] + DAYTIME_EFFECT * ctx[:, 0]
                     + rng.normal(0.0, NOISE_SD, len(u)))
            ratings[s:s + chunk_size] = np.clip(np.round(score * 2.0) / 2.0, 0.5, 5.0)
        self.products = products
        self.user_ids = (users + 1).astype(np.int32)
        self.movie_ids = products["movieId"].to_numpy()[items].astype(np.int32)
        self.ratings, self.timestamps = ratings, timestamps
        # Stable, so equal (user, timestamp) pairs keep their draw order.
        self.order = np.lexsort((timestamps, self.user_ids))

    def chunks(self, size: int) -> Iterator[pd.DataFrame]:
        """The ratings in (userId, timestamp) order, ``size`` rows at a time."""
        for s in range(0, len(self.order), size):
            rows = self.order[s:s + size]
            yield pd.DataFrame({"userId": self.user_ids[rows], "movieId": self.movie_ids[rows],
                                "rating": self.ratings[rows], "timestamp": self.timestamps[rows]})


def _movies(rng: np.random.Generator, n: int):
    # Top-k of Gumbel-perturbed log weights = k genres drawn without replacement.
    keys = np.log(_GENRE_WEIGHTS) + rng.gumbel(size=(n, len(GENRES)))
    k = rng.choice([1, 2, 3], size=n, p=[0.45, 0.35, 0.20])
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    multi_hot = (rank < k[:, None]).astype(np.float64)
    no_genres = rng.random(n) < 0.01
    multi_hot[no_genres] = 0.0
    genres = decode_genres(multi_hot, GENRES)

    years = np.clip(2018 - np.floor(rng.exponential(16.0, n)), 1921, 2018).astype(int)
    words = (np.array(_ADJECTIVES, dtype=object)[rng.integers(0, len(_ADJECTIVES), n)] + " "
             + np.array(_NOUNS, dtype=object)[rng.integers(0, len(_NOUNS), n)]
             + np.array(_SERIES, dtype=object)[rng.integers(0, len(_SERIES), n)])
    the = rng.random(n) < 0.15
    words[the] = words[the] + ", The"
    no_year = rng.random(n) < 0.01
    titles = words + np.where(no_year, "", " (" + years.astype(str).astype(object) + ")")
    movie_ids = np.sort(rng.choice(np.arange(1, 4 * n + 1), size=n, replace=False))
    products = pd.DataFrame({"movieId": movie_ids.astype(np.int64), "title": titles,
                             "genres": genres})
    quality = rng.normal(0.0, 0.45, n)
    popularity = np.exp(rng.normal(0.0, 1.1, n) + 0.8 * quality)
    old = ((years < 2000) & ~no_year).astype(float)
    return products, multi_hot, quality, popularity, old


def _pairs(rng: np.random.Generator, n_ratings: int, activity: np.ndarray,
           popularity: np.ndarray, n_movies: int):
    """Draw distinct (user, movie) index pairs, active users and popular movies more often."""
    pu, pi = activity / activity.sum(), popularity / popularity.sum()
    keys = np.empty(0, dtype=np.int64)
    draw = int(n_ratings * 1.3) + 16
    while keys.size < n_ratings:
        u = rng.choice(len(activity), size=draw, p=pu)
        i = rng.choice(n_movies, size=draw, p=pi)
        fresh = np.concatenate([keys, u.astype(np.int64) * n_movies + i])
        # np.unique sorts; keep first occurrences so the draw order (and seed) decides.
        _, first = np.unique(fresh, return_index=True)
        keys = fresh[np.sort(first)]
        # Skewed weights saturate popular pairs: flatten them for the next draws.
        pu, pi = np.sqrt(pu) / np.sqrt(pu).sum(), np.sqrt(pi) / np.sqrt(pi).sum()
    keys = keys[:n_ratings]
    return (keys // n_movies).astype(np.int64), (keys % n_movies).astype(np.int64)


def sample_path() -> Path:
    """Path of the bundled sample workbook (``data/sample_movies.xlsx``).

    In a source checkout this is the committed file. In an installed package without
    it, the identical file is generated once into ``$KERASREC_HOME`` (default
    ``~/.cache/kerasrec``) from :data:`DEFAULT_SAMPLE`.
    """
    bundled = Path(__file__).resolve().parents[2] / "data" / SAMPLE_FILE
    if bundled.is_file():
        return bundled
    cache = Path(os.environ.get("KERASREC_HOME", Path.home() / ".cache" / "kerasrec"))
    path = cache / SAMPLE_FILE
    if not path.is_file():
        from kerasrec.data.write import write_workbook

        write_workbook(make_sample(**DEFAULT_SAMPLE), path)
    return path


def load_sample(nrows: Optional[int] = None) -> MovieData:
    """Load the bundled sample workbook."""
    from kerasrec.data.load import load_movies

    return load_movies(sample_path(), nrows=nrows)
