"""The in-memory dataset every other module works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

import pandas as pd

from kerasrec.errors import ArgumentError
from kerasrec.schema import RATING_RANGE, parse_titles

from kerasrec.data.validate import (NO_GENRES, Source, check_references, validate_products,
                                    validate_ratings)


@dataclass(frozen=True)
class MovieData:
    """MovieLens-style data: a products table and a ratings table.

    Attributes:
        products: One row per movie: ``movieId`` (int64), ``title``, ``genres``
            (pipe-separated; ``"(no genres listed)"`` when there are none).
        ratings: One row per rating: ``userId`` and ``movieId`` (int32), ``rating``
            (float32 stars), ``timestamp`` (int64 unix seconds, UTC).
        source: Where the data was read from.
        rating_range: The rating scale, in stars (``(low, high)``, inclusive), that the
            ratings were checked against when loaded; models are fitted to it and
            clip their predictions to it.
    """

    products: pd.DataFrame
    ratings: pd.DataFrame
    source: str = field(default="<memory>")
    rating_range: Tuple[float, float] = RATING_RANGE

    def __post_init__(self) -> None:
        object.__setattr__(self, "rating_range", tuple(float(v) for v in self.rating_range))

    @classmethod
    def from_frames(cls, products: pd.DataFrame, ratings: pd.DataFrame, *,
                    source: str = "<memory>", **options) -> "MovieData":
        """Validate two in-memory frames and wrap them.

        Args:
            products: Frame with movieId, title, genres.
            ratings: Frame with userId, movieId, rating, timestamp.
            source: Where the frames came from, kept as :attr:`source`. Errors name
                the frame (``frame 'ratings'``) and its rows by 0-based position, as
                ``iloc`` counts them.
            **options: ``rating_range``, ``duplicates``, ``timestamp_unit`` as in
                :func:`kerasrec.load_movies`.

        Raises:
            DataError: If either frame violates the schema.
        """
        psrc, rsrc = Source.in_memory("products"), Source.in_memory("ratings")
        products = validate_products(products, psrc)
        ratings = validate_ratings(ratings, rsrc, **options)
        check_references(ratings, products, rsrc, psrc)
        return cls(products, ratings, source, options.get("rating_range", RATING_RANGE))

    def with_ratings(self, ratings: pd.DataFrame, *, duplicates: str = "error",
                     timestamp_unit: str = "s") -> "MovieData":
        """The same catalog and rating scale with other ratings (e.g. the training part
        of a split), checked as :meth:`from_frames` checks them.

        Args:
            ratings: Frame with userId, movieId, rating, timestamp.
            duplicates, timestamp_unit: As in :func:`kerasrec.load_movies`.

        Returns:
            A new MovieData; this one is unchanged.

        Raises:
            DataError: If the ratings violate the schema, lie outside
                :attr:`rating_range` or rate movies the catalog lacks, naming
                ``frame 'ratings'`` and the rows' positions.

        Example:
            >>> train, test = kerasrec.temporal_split(data.ratings)
            >>> data.with_ratings(train).n_ratings == len(train)
            True
        """
        source = Source.in_memory("ratings")
        ratings = validate_ratings(ratings, source, rating_range=self.rating_range,
                                   duplicates=duplicates, timestamp_unit=timestamp_unit)
        check_references(ratings, self.products, source, Source.in_memory("products"))
        return MovieData(self.products, ratings, self.source, self.rating_range)

    @property
    def n_users(self) -> int:
        """Distinct users in the ratings."""
        return int(self.ratings["userId"].nunique())

    @property
    def n_movies(self) -> int:
        """Movies in the products table."""
        return int(len(self.products))

    @property
    def n_ratings(self) -> int:
        """Rows of the ratings table."""
        return int(len(self.ratings))

    def genre_counts(self) -> pd.Series:
        """Number of movies per genre, most common first ("(no genres listed)" included)."""
        exploded = self.products["genres"].str.split("|").explode()
        return exploded.value_counts().rename("movies").rename_axis("genre")

    def describe(self) -> Dict[str, object]:
        """Summary statistics: sizes, sparsity, genres, years and the rating histogram."""
        years = parse_titles(self.products["title"])["year"].dropna()
        n_rated_movies = int(self.ratings["movieId"].nunique())
        cells = self.n_users * max(n_rated_movies, 1)
        hist = self.ratings["rating"].value_counts().sort_index()
        ts = self.ratings["timestamp"]
        genres = self.genre_counts()
        return {
            "source": self.source,
            "movies": self.n_movies,
            "rated_movies": n_rated_movies,
            "users": self.n_users,
            "ratings": self.n_ratings,
            "sparsity": 1.0 - self.n_ratings / cells if cells else 1.0,
            "ratings_per_user_median": float(self.ratings.groupby("userId").size().median()),
            "rating_range": list(self.rating_range),
            "mean_rating": float(self.ratings["rating"].mean()),
            "genres": {str(k): int(v) for k, v in genres.items() if k != NO_GENRES},
            "movies_without_genres": int(genres.get(NO_GENRES, 0)),
            "year_range": [int(years.min()), int(years.max())] if len(years) else None,
            "movies_without_year": int(self.n_movies - len(years)),
            "rating_histogram": {float(k): int(v) for k, v in hist.items()},
            "time_range": [int(ts.min()), int(ts.max())],
        }

    def __repr__(self) -> str:
        return (f"MovieData(source={self.source!r}, movies={self.n_movies}, "
                f"users={self.n_users}, ratings={self.n_ratings})")


def require_movie_data(data, what: str) -> MovieData:
    """Return ``data`` if it is a :class:`MovieData`.

    Args:
        data: What the caller was given.
        what: The argument, as the message names it (``"FeaturePipeline.fit's data"``).

    Raises:
        ArgumentError: Otherwise (a ratings DataFrame, a path), saying how to make one.
    """
    if not isinstance(data, MovieData):
        raise ArgumentError(f"{what} must be a kerasrec.MovieData (load_movies(...), "
                            f"MovieData.from_frames(products, ratings) or "
                            f"data.with_ratings(train)), got {type(data).__name__}")
    return data
