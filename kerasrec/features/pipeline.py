"""FeaturePipeline: MovieData -> the named NumPy inputs every kerasrec model takes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import pandas as pd

from kerasrec._io import write_text_atomic
from kerasrec.data.movie_data import MovieData, require_movie_data
from kerasrec.data.validate import Source, check_rating_range, check_scale
from kerasrec.errors import ArgumentError, PipelineError, is_number, preview, whole_number
from kerasrec.features.context import (CONTEXT_NAMES, check_timezone, context_features,
                                       unix_seconds)
from kerasrec.features.genres import decode_genres, encode_genres, genre_vocabulary
from kerasrec.features.scaling import RatingScaler
from kerasrec.features.titles import old_flags, parse_titles
from kerasrec.schema import RATING_RANGE

FORMAT = "kerasrec.FeaturePipeline"
#: 2 stores each movie's genres as text (1 packed them into one int64, so at most 63).
FORMAT_VERSION = 2
#: Index 0 of every id vocabulary is the out-of-vocabulary bucket.
OOV_INDEX = 0


@dataclass
class FeatureConfig:
    """Settings of a :class:`FeaturePipeline`; the defaults suit MovieLens.

    Attributes:
        timezone: IANA zone in which daytime and weekend are judged.
        old_cutoff: Movies released before this year are ``old``.
        daytime_hours: Daytime is ``start < hour < end``.
        rating_scaling: See :class:`~kerasrec.features.scaling.RatingScaler`.
        rating_range: The rating scale, in stars: ratings are scaled over it and
            predictions clipped to it. None: the scale of the data the pipeline is
            fitted on (:attr:`~kerasrec.MovieData.rating_range`, MovieLens' 0.5-5 unless
            the data was loaded with another).
    """

    timezone: str = "UTC"
    old_cutoff: int = 2000
    daytime_hours: Tuple[int, int] = (6, 20)
    rating_scaling: str = "minmax"
    rating_range: Optional[Tuple[float, float]] = None

    def __post_init__(self) -> None:
        check_timezone(self.timezone)
        self.old_cutoff = whole_number(self.old_cutoff, "old_cutoff", error=PipelineError)
        if self.rating_range is not None:
            self.rating_range = check_scale(self.rating_range, PipelineError)
        hours = self.daytime_hours
        if isinstance(hours, (str, bytes)) or not hasattr(hours, "__len__") or len(hours) != 2 \
                or not all(is_number(h) and h == int(h) for h in hours) \
                or not 0 <= hours[0] < hours[1] <= 24:
            raise PipelineError(f"daytime_hours must be two whole hours (start, end) with "
                                f"0 <= start < end <= 24, got {hours!r}")
        self.daytime_hours = tuple(int(h) for h in hours)


class FeaturePipeline:
    """Turns ratings into model inputs and model outputs back into stars.

    ``fit`` learns, from training data only, the user and item id vocabularies, the
    genre order and the rating scaler, and builds the movie feature table for the
    whole catalog. ``transform`` maps any ratings frame to a dict of NumPy arrays keyed
    by the model input names.

    Args:
        timezone: See :class:`FeatureConfig`.
        old_cutoff: See :class:`FeatureConfig`.
        daytime_hours: See :class:`FeatureConfig`.
        rating_scaling: See :class:`FeatureConfig`.
        rating_range: See :class:`FeatureConfig`.

    Example:
        >>> pipeline = FeaturePipeline(timezone="Europe/Berlin").fit(train_data)
        >>> inputs = pipeline.transform(test_ratings)
        >>> sorted(inputs)
        ['context', 'item_features', 'item_id', 'rating', 'user_id']
    """

    def __init__(self, timezone: str = "UTC", old_cutoff: int = 2000,
                 daytime_hours: Tuple[int, int] = (6, 20), rating_scaling: str = "minmax",
                 rating_range: Optional[Tuple[float, float]] = None) -> None:
        self.config = FeatureConfig(timezone, old_cutoff, daytime_hours, rating_scaling,
                                    rating_range)
        self._asked_range = self.config.rating_range  # None: each fit takes the data's
        self.scaler = RatingScaler(rating_scaling, rating_range or RATING_RANGE)
        self.user_vocabulary_: Optional[np.ndarray] = None
        self.item_vocabulary_: Optional[np.ndarray] = None
        self.genres_: Optional[List[str]] = None
        self.items_: Optional[pd.DataFrame] = None
        self._genre_hot: Optional[np.ndarray] = None

    # --- fitting -------------------------------------------------------------------------

    def fit(self, data: MovieData) -> "FeaturePipeline":
        """Learn vocabularies, genre order and scaling from ``data``.

        Args:
            data: Training data: its ratings define the id vocabularies and the
                scaler; its products (the whole catalog) the item features; its
                ``rating_range`` the scale, unless the pipeline was given one.

        Returns:
            self.

        Raises:
            DataError: If a rating lies outside the scale.
            ArgumentError: If ``data`` is not a MovieData.
        """
        require_movie_data(data, "FeaturePipeline.fit's data")
        ratings = data.ratings
        scale = self._asked_range or data.rating_range
        # Rows are positions in the ratings fitted on (perhaps a split of what was
        # loaded); the file they came from, if any ("<memory>" is none), is named too.
        file = None if str(data.source).startswith("<") else str(data.source)
        check_rating_range(ratings["rating"].to_numpy(), Source(file, None, 0, "ratings"),
                           scale)
        self.config.rating_range = scale
        self.scaler = RatingScaler(self.config.rating_scaling, scale)
        self.user_vocabulary_ = np.unique(ratings["userId"].to_numpy()).astype(np.int64)
        self.item_vocabulary_ = np.unique(ratings["movieId"].to_numpy()).astype(np.int64)
        self.genres_ = genre_vocabulary(data.products["genres"])
        self.items_ = self._item_table(data.products)
        self._genre_hot = None
        self.scaler.fit(ratings)
        return self

    def _item_table(self, products: pd.DataFrame) -> pd.DataFrame:
        titles = parse_titles(products["title"])
        return pd.DataFrame({
            "movieId": products["movieId"].to_numpy(dtype=np.int64),
            "year": titles["year"].to_numpy(),
            "genres": products["genres"].to_numpy(dtype=object),
        }).sort_values("movieId", ignore_index=True)

    def _check_fitted(self) -> None:
        if self.items_ is None:
            raise PipelineError("this FeaturePipeline is not fitted yet; call fit(data) first")

    # --- vocabularies and feature tables -------------------------------------------------

    @property
    def feature_names(self) -> List[str]:
        """Column names of ``item_features``: the genres, then ``old``, ``year_unknown``."""
        self._check_fitted()
        return [*self.genres_, "old", "year_unknown"]

    @property
    def context_names(self) -> List[str]:
        """Names of the context columns: daytime, weekend."""
        return list(CONTEXT_NAMES)

    @property
    def n_users(self) -> int:
        """Size of the user embedding table, the OOV bucket included."""
        self._check_fitted()
        return len(self.user_vocabulary_) + 1

    @property
    def n_items(self) -> int:
        """Size of the item embedding table, the OOV bucket included."""
        self._check_fitted()
        return len(self.item_vocabulary_) + 1

    def user_index(self, user_ids) -> np.ndarray:
        """Raw userIds -> embedding indices (0 for users unseen in training)."""
        self._check_fitted()
        return _lookup(self.user_vocabulary_, user_ids)

    def item_index(self, movie_ids) -> np.ndarray:
        """Raw movieIds -> embedding indices (0 for movies unseen in training)."""
        self._check_fitted()
        return _lookup(self.item_vocabulary_, movie_ids)

    def item_features(self, movie_ids) -> np.ndarray:
        """Feature rows (genres, old, year_unknown) for raw movieIds, float32.

        Movies outside the catalog get all zeros except ``year_unknown``.
        """
        self._check_fitted()
        table = self._catalog_features()
        rows = pd.Index(self.items_["movieId"]).get_indexer(np.asarray(movie_ids))
        return table[rows]  # row -1 is the extra "unknown movie" row

    def item_feature_table(self) -> np.ndarray:
        """Features of every embedding index: row ``i`` belongs to item index ``i``.

        Row 0 (unseen movies) is all zeros but ``year_unknown``. Models can hold this
        table and look features up by ``item_id``, so callers pass ids only.
        """
        return self.item_features(np.concatenate([[-1], self.item_vocabulary_]))

    def _catalog_features(self) -> np.ndarray:
        if self._genre_hot is None:  # any number of genres; encoded once per pipeline
            self._genre_hot = encode_genres(self.items_["genres"], self.genres_)
        genres = self._genre_hot
        flags = old_flags(self.items_["year"], self.config.old_cutoff)
        table = np.concatenate([genres, flags], axis=1).astype(np.float32)
        unknown = np.zeros((1, table.shape[1]), np.float32)
        unknown[0, -1] = 1.0
        return np.concatenate([table, unknown])

    # --- transforming --------------------------------------------------------------------

    def context(self, ratings: pd.DataFrame) -> np.ndarray:
        """Context flags for ``ratings`` as uint8 (n, 2); Keras casts them to float.

        From ``timestamp`` where present (missing or negative means unknown), else from
        ``daytime``/``weekend`` columns, else zeros (a weekday night: the reference
        context).

        Raises:
            PipelineError: If ``daytime``/``weekend`` columns hold values other than 0/1.
        """
        present = [c for c in CONTEXT_NAMES if c in ratings.columns]
        if len(present) == 1:  # the other would silently read as 0
            other = CONTEXT_NAMES[1 - CONTEXT_NAMES.index(present[0])]
            raise PipelineError(f"a {present[0]!r} column needs a {other!r} column beside it "
                                "(both 0 or 1), or give a timestamp instead")
        if present:
            try:
                given = ratings[list(CONTEXT_NAMES)].to_numpy(np.float64)
            except (TypeError, ValueError):
                given = np.full((1, 2), np.nan)
            if not np.isin(given, (0.0, 1.0)).all():
                raise PipelineError("the daytime and weekend columns must hold 0 or 1 "
                                    "(or true/false)")
            flags = given.astype(np.uint8)
        else:
            flags = np.zeros((len(ratings), 2), np.uint8)
        if "timestamp" in ratings:
            stamps = self.timestamps(ratings)
            dated = stamps >= 0
            if dated.any():
                flags[dated] = context_features(stamps[dated], self.config.timezone,
                                                self.config.daytime_hours)
        return flags

    @staticmethod
    def timestamps(ratings: pd.DataFrame) -> np.ndarray:
        """int64 Unix seconds of ``ratings`` (-1 where missing or without the column):
        numbers or dates, read by :func:`~kerasrec.features.context.unix_seconds`.

        Raises:
            ArgumentError: For timestamps that are neither numbers nor dates in 1970-9999.
        """
        if "timestamp" not in ratings:
            return np.full(len(ratings), -1, np.int64)
        return unix_seconds(ratings["timestamp"])

    def transform(self, ratings: pd.DataFrame, *, item_features: bool = True
                  ) -> Dict[str, np.ndarray]:
        """Map ratings (or bare userId/movieId pairs) to model inputs.

        Args:
            ratings: Frame with ``userId`` and ``movieId``, optionally ``rating`` and
                ``timestamp`` (or ``daytime``/``weekend``).
            item_features: Include the per-row ``item_features`` matrix. Models that
                look features up by ``item_id`` do not need it.

        Returns:
            Dict with ``user_id``, ``item_id`` (int32), ``item_features`` (float32),
            ``context`` (uint8 flags), ``timestamp`` (int64 Unix seconds, -1 where
            unknown) and, when ratings are given, ``rating`` (scaled float32).

        Raises:
            PipelineError: If the pipeline is not fitted or a column is missing.
        """
        self._check_fitted()
        missing = {"userId", "movieId"} - set(ratings.columns)
        if missing:
            raise PipelineError(f"ratings lack column(s) {sorted(missing)}")
        movies = ratings["movieId"].to_numpy()
        out = {
            "user_id": self.user_index(ratings["userId"].to_numpy()),
            "item_id": self.item_index(movies),
            "context": self.context(ratings),
            "timestamp": self.timestamps(ratings),
        }
        if item_features:
            out["item_features"] = self.item_features(movies)
        if "rating" in ratings:
            out["rating"] = self.scaler.transform(ratings["rating"].to_numpy(), movies)
        return out

    def fit_transform(self, data: MovieData) -> Dict[str, np.ndarray]:
        """``fit(data)`` then ``transform(data.ratings)``."""
        return self.fit(data).transform(data.ratings)

    def to_stars(self, scaled: np.ndarray, movie_ids=None) -> np.ndarray:
        """Model outputs -> ratings in stars."""
        return self.scaler.inverse_transform(np.ravel(scaled), movie_ids)

    def stars_per_unit(self) -> Optional[float]:
        """Stars per unit of the scaled rating, if one number holds for every movie (so
        an error in scaled units times it is the error in stars); None otherwise."""
        self._check_fitted()
        movies = self.items_["movieId"].to_numpy()
        slope = self.to_stars(np.ones(len(movies)), movies) - self.to_stars(
            np.zeros(len(movies)), movies)
        return float(slope[0]) if len(slope) and np.allclose(slope, slope[0]) else None

    # --- persistence ---------------------------------------------------------------------

    def get_config(self) -> dict:
        """Everything needed to rebuild the fitted pipeline, as JSON-ready data."""
        self._check_fitted()
        config = asdict(self.config)
        config["daytime_hours"] = list(self.config.daytime_hours)
        config["rating_range"] = list(self.config.rating_range)
        years = self.items_["year"]
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": config,
            "scaler": self.scaler.get_config(),
            "genres": list(self.genres_),
            "users": self.user_vocabulary_.tolist(),
            "items": self.item_vocabulary_.tolist(),
            "catalog": {
                "movieId": self.items_["movieId"].tolist(),
                "year": [None if pd.isna(y) else int(y) for y in years],
                "genres": self.items_["genres"].tolist(),
            },
        }

    @classmethod
    def from_config(cls, state: dict, *, source: str = "<config>") -> "FeaturePipeline":
        """Rebuild a fitted pipeline from :meth:`get_config` output.

        Raises:
            PipelineError: If the state is from another format version or malformed.
        """
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise PipelineError(f"{source} is not a kerasrec FeaturePipeline file")
        if state.get("format_version") not in (1, FORMAT_VERSION):
            raise PipelineError(
                f"{source} has format version {state.get('format_version')!r}; this kerasrec "
                f"reads version {FORMAT_VERSION}. Refit the pipeline with this version.")
        try:
            config = state["config"]
            pipeline = cls(**config)
            pipeline.scaler = RatingScaler.from_config(state["scaler"])
            pipeline.genres_ = [str(g) for g in state["genres"]]
            pipeline.user_vocabulary_ = np.asarray(state["users"], dtype=np.int64)
            pipeline.item_vocabulary_ = np.asarray(state["items"], dtype=np.int64)
            catalog = state["catalog"]
            genres = (np.asarray(catalog["genres"], dtype=object) if "genres" in catalog else
                      _genres_from_bits(catalog["genre_bits"], pipeline.genres_))
            pipeline.items_ = pd.DataFrame({
                "movieId": np.asarray(catalog["movieId"], dtype=np.int64),
                "year": pd.array(catalog["year"], dtype="Int64"),
                "genres": genres,
            })
        except (KeyError, TypeError, ValueError) as exc:
            raise PipelineError(f"{source} is malformed ({type(exc).__name__}: {exc}); "
                                "it may have been edited by hand. Refit and save again.") from exc
        for name, vocab in (("users", pipeline.user_vocabulary_),
                            ("items", pipeline.item_vocabulary_)):
            if vocab.size and np.any(np.diff(vocab) <= 0):
                raise PipelineError(f"{source}: the '{name}' vocabulary must be sorted and "
                                    "unique; it may have been edited by hand")
        if len(set(map(len, catalog.values()))) != 1:
            raise PipelineError(f"{source}: catalog columns have different lengths")
        named = set(genre_vocabulary(pipeline.items_["genres"]))
        if not named <= set(pipeline.genres_):
            raise PipelineError(f"{source}: the catalog names genres missing from the genre "
                                f"list: {preview(sorted(named - set(pipeline.genres_)))}")
        return pipeline

    def save(self, path: Union[str, Path]) -> Path:
        """Write the fitted pipeline to one JSON file, atomically.

        Raises:
            PipelineError: If not fitted. ArtifactError: If the file cannot be written.
        """
        return write_text_atomic(path, json.dumps(self.get_config(), separators=(",", ":")))

    @classmethod
    def load(cls, path: Union[str, Path]) -> "FeaturePipeline":
        """Read a pipeline written by :meth:`save`.

        Raises:
            PipelineError: If the file is missing, not JSON, or not a valid pipeline.
        """
        path = Path(path)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise PipelineError(f"no pipeline file at '{path}'") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PipelineError(f"'{path}' is not valid JSON ({exc})") from exc
        return cls.from_config(state, source=f"'{path}'")

    def __repr__(self) -> str:
        fitted = (f", users={len(self.user_vocabulary_)}, items={len(self.item_vocabulary_)}, "
                  f"genres={len(self.genres_)}") if self.items_ is not None else ", unfitted"
        return f"FeaturePipeline(timezone={self.config.timezone!r}{fitted})"


def _lookup(vocabulary: np.ndarray, ids) -> np.ndarray:
    try:
        ids = np.asarray(ids, dtype=np.int64)
    except OverflowError:
        raise ArgumentError(f"an id is outside the 64-bit integer range of MovieLens ids: "
                            f"{preview(np.ravel(np.asarray(ids, dtype=object)))}") from None
    index = pd.Index(vocabulary).get_indexer(ids)
    return (index + 1).astype(np.int32)  # -1 (unknown) becomes the OOV bucket 0


def _genres_from_bits(bits, vocabulary: List[str]) -> np.ndarray:
    """Format 1's packed genre codes (bit i = genre i) -> genre text."""
    bits = np.asarray(bits, dtype=np.int64)
    flags = (bits[:, None] >> np.arange(len(vocabulary), dtype=np.int64)) & 1
    if len(vocabulary) > 63 or np.any(bits >> min(len(vocabulary), 63)):
        raise ValueError("genre codes do not match the genre list")
    return decode_genres(flags, vocabulary)
