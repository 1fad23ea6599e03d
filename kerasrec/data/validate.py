"""Schema checks that turn raw tables into clean, typed MovieLens frames.

Each check raises :class:`~kerasrec.errors.DataError` naming the file, sheet,
column and the first offending rows, so the user can open the file and fix it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import pandas as pd

from kerasrec.errors import DataError, preview
from kerasrec.schema import NO_GENRES, PRODUCT_COLUMNS, RATING_COLUMNS


#: Unix seconds beyond this are far in the future (year 5138): the values are milliseconds.
_MILLISECONDS_THRESHOLD = 1e11
#: Timestamps up to one day ahead of the clock are tolerated (clock skew, time zones).
_FUTURE_TOLERANCE_S = 86_400
DUPLICATE_POLICIES = ("error", "last", "mean")


@dataclass(frozen=True)
class Source:
    """Where a table came from, for error messages.

    Attributes:
        file: The file the user passed (or the archive).
        sheet: Sheet name (xlsx) or member name (zip/folder), if any.
        first_row: File row number of the first data record (a header row is row 1).
    """

    file: str
    sheet: Optional[str] = None
    first_row: int = 2

    def error(self, problem: str, *, column: Optional[str] = None,
              mask: Optional[np.ndarray] = None, hint: Optional[str] = None) -> DataError:
        """Build a DataError located at this source, listing the rows where ``mask``."""
        rows, n = None, None
        if mask is not None:
            idx = np.flatnonzero(np.asarray(mask))
            rows, n = (idx[:5] + self.first_row).tolist(), int(idx.size)
        return DataError(problem, file=self.file, sheet=self.sheet, column=column,
                         rows=rows, n_rows=n, hint=hint)


def check_columns(frame: pd.DataFrame, required: Tuple[str, ...], source: Source) -> pd.DataFrame:
    """Return ``frame[required]``; extra columns are accepted and dropped.

    Raises:
        DataError: If the table is empty or a required column is missing.
    """
    columns = [str(c).strip() for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    missing = [c for c in required if c not in columns]
    if missing:
        lower = {c.lower(): c for c in columns}
        near = [f"'{lower[m.lower()]}' -> '{m}'" for m in missing if m.lower() in lower]
        hint = ("column names are case-sensitive; rename " + ", ".join(near)) if near else (
            f"expected columns {list(required)}, found {columns}")
        raise DataError(f"missing column{'s' if len(missing) > 1 else ''} "
                        + ", ".join(f"'{m}'" for m in missing),
                        file=source.file, sheet=source.sheet, hint=hint)
    if len(frame) == 0:
        raise DataError("the table has a header but no data rows", file=source.file,
                        sheet=source.sheet)
    return frame.loc[:, list(required)]


def to_int_ids(values: pd.Series, source: Source, column: str) -> np.ndarray:
    """Convert an id column to int64, accepting exact floats and numeric strings.

    Raises:
        DataError: On missing, non-numeric or fractional ids.
    """
    if pd.api.types.is_bool_dtype(values):
        raise source.error("ids must be integers, not true/false", column=column)
    if pd.api.types.is_integer_dtype(values):
        return values.to_numpy(dtype=np.int64)
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna().to_numpy()
    if bad.any():
        blank = values.isna().to_numpy() | (values.astype("string").str.strip() == "").fillna(True).to_numpy()
        if (bad & blank).any():
            raise source.error("missing id", column=column, mask=bad & blank)
        raise source.error(f"ids must be whole numbers, found {preview(values[bad].unique())}",
                           column=column, mask=bad)
    floats = numeric.to_numpy(dtype=np.float64)
    fractional = floats != np.floor(floats)
    if fractional.any():
        raise source.error(f"ids must be whole numbers, found {preview(floats[fractional])}",
                           column=column, mask=fractional)
    if np.abs(floats).max() >= 2**53:
        raise source.error("ids are too large to be exact", column=column,
                           mask=np.abs(floats) >= 2**53)
    return floats.astype(np.int64)


def validate_products(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    """Check and type a products table (movieId, title, genres).

    Empty or missing genres become ``"(no genres listed)"``; titles are stripped.

    Raises:
        DataError: On missing columns, bad or duplicate ids, or missing titles.
    """
    frame = check_columns(frame, PRODUCT_COLUMNS, source)
    ids = to_int_ids(frame["movieId"], source, "movieId")
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        raise source.error(f"movieId {preview(np.unique(ids[dup]))} appears more than once",
                           column="movieId", mask=dup,
                           hint="each movie must have exactly one products row")
    title = frame["title"].astype("string").str.strip()
    missing = title.isna().to_numpy() | (title == "").fillna(False).to_numpy()
    if missing.any():
        raise source.error("missing title", column="title", mask=missing)
    genres = frame["genres"].astype("string").str.strip()
    genres = genres.mask(genres.isna() | (genres == ""), NO_GENRES)
    return pd.DataFrame({
        "movieId": ids,
        "title": title.to_numpy(dtype=object),
        "genres": genres.to_numpy(dtype=object),
    })


def _ratings_values(frame: pd.DataFrame, source: Source,
                    rating_range: Tuple[float, float]) -> np.ndarray:
    raw = frame["rating"]
    rating = pd.to_numeric(raw, errors="coerce")
    missing = raw.isna().to_numpy()
    if missing.any():
        raise source.error("missing rating (NaN or empty cell)", column="rating", mask=missing)
    bad = rating.isna().to_numpy()
    if bad.any():
        raise source.error(f"ratings must be numbers, found {preview(raw[bad].unique())}",
                           column="rating", mask=bad)
    values = rating.to_numpy(dtype=np.float64)
    lo, hi = rating_range
    out = (values < lo) | (values > hi)
    if out.any():
        raise source.error(f"ratings must lie in [{lo:g}, {hi:g}] stars, found "
                           f"{preview(np.unique(values[out]))}", column="rating", mask=out,
                           hint="pass rating_range=(low, high) if your scale differs")
    return values.astype(np.float32)


def _timestamps(frame: pd.DataFrame, source: Source, timestamp_unit: str) -> np.ndarray:
    raw = frame["timestamp"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        if raw.isna().any():
            raise source.error("missing timestamp", column="timestamp", mask=raw.isna().to_numpy())
        when = pd.to_datetime(raw, utc=True)  # naive cells are read as UTC
        seconds = (when - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        return seconds.to_numpy(dtype=np.int64)
    numeric = pd.to_numeric(raw, errors="coerce")
    bad = numeric.isna().to_numpy()
    if bad.any():
        missing = bad & raw.isna().to_numpy()
        if missing.any():
            raise source.error("missing timestamp", column="timestamp", mask=missing)
        raise source.error(f"timestamps must be unix seconds, found {preview(raw[bad].unique())}",
                           column="timestamp", mask=bad)
    values = numeric.to_numpy(dtype=np.float64)
    if timestamp_unit == "ms":
        values = values / 1000.0
    elif timestamp_unit != "s":
        raise ValueError(f"timestamp_unit must be 's' or 'ms', got {timestamp_unit!r}")
    negative = values < 0
    if negative.any():
        raise source.error("negative timestamps (before 1970)", column="timestamp",
                           mask=negative)
    if timestamp_unit == "s" and (values > _MILLISECONDS_THRESHOLD).any():
        raise source.error("timestamps look like milliseconds, not seconds", column="timestamp",
                           mask=values > _MILLISECONDS_THRESHOLD,
                           hint="pass timestamp_unit='ms' or divide the column by 1000")
    future = values > time.time() + _FUTURE_TOLERANCE_S
    if future.any():
        raise source.error("timestamps lie in the future", column="timestamp", mask=future,
                           hint="check the column holds unix seconds (UTC)")
    return np.floor(values).astype(np.int64)


def validate_ratings(frame: pd.DataFrame, source: Source, *,
                     rating_range: Tuple[float, float] = (0.5, 5.0),
                     duplicates: str = "error", timestamp_unit: str = "s") -> pd.DataFrame:
    """Check and type a ratings table (userId, movieId, rating, timestamp).

    Args:
        frame: The raw table.
        source: Where it came from, for error messages.
        rating_range: Inclusive range of valid ratings, in stars.
        duplicates: Policy for repeated (userId, movieId) pairs: ``"error"`` (default)
            raises, ``"last"`` keeps the latest rating by timestamp, ``"mean"`` averages
            the ratings and keeps the latest timestamp.
        timestamp_unit: ``"s"`` (MovieLens) or ``"ms"``.

    Returns:
        A frame with int32 ids, float32 ratings and int64 timestamps, in file order.

    Raises:
        DataError: On any schema violation.
    """
    check_duplicate_policy(duplicates)
    typed = typed_ratings(frame, source, rating_range=rating_range,
                          timestamp_unit=timestamp_unit)
    return resolve_duplicates(typed, source, duplicates)


def check_duplicate_policy(duplicates: str) -> str:
    """Return ``duplicates`` if it is one of :data:`DUPLICATE_POLICIES`.

    Raises:
        ValueError: Otherwise.
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    return duplicates


def typed_ratings(frame: pd.DataFrame, source: Source, *,
                  rating_range: Tuple[float, float] = (0.5, 5.0),
                  timestamp_unit: str = "s") -> pd.DataFrame:
    """Every check of :func:`validate_ratings` but the one across rows (duplicates).

    So a large table can be checked a chunk at a time (``source.first_row`` set to
    the chunk's first file row) and the duplicates checked once on the whole.

    Returns:
        A frame with int32 ids, float32 ratings and int64 timestamps, in file order.

    Raises:
        DataError: On any schema violation within ``frame``.
    """
    frame = check_columns(frame, RATING_COLUMNS, source)
    users = to_int_ids(frame["userId"], source, "userId")
    movies = to_int_ids(frame["movieId"], source, "movieId")
    for column, ids in (("userId", users), ("movieId", movies)):
        out = (ids < 0) | (ids >= 2**31)
        if out.any():
            raise source.error("ids must lie in [0, 2**31)", column=column, mask=out)
    return pd.DataFrame({
        "userId": users.astype(np.int32),
        "movieId": movies.astype(np.int32),
        "rating": _ratings_values(frame, source, rating_range),
        "timestamp": _timestamps(frame, source, timestamp_unit),
    })


def resolve_duplicates(ratings: pd.DataFrame, source: Source, duplicates: str) -> pd.DataFrame:
    """Apply the ``duplicates`` policy to typed ratings (see :func:`validate_ratings`).

    Raises:
        DataError: With policy ``"error"``, naming the rows of repeated pairs.
    """
    # One int64 key per pair: hashing it is several times faster than two columns.
    keys = ratings["userId"].to_numpy(np.int64) << 31 | ratings["movieId"].to_numpy(np.int64)
    dup = pd.Series(keys).duplicated(keep=False).to_numpy()
    if not dup.any():
        return ratings
    if duplicates == "error":
        first = ratings.loc[dup].iloc[0]
        raise source.error(
            f"(userId, movieId) pairs rated more than once, e.g. user {first.userId} / "
            f"movie {first.movieId}", column="userId, movieId", mask=dup,
            hint="pass duplicates='last' to keep the latest rating or 'mean' to average")
    return _resolve_duplicates(ratings, duplicates)


def _resolve_duplicates(ratings: pd.DataFrame, policy: str) -> pd.DataFrame:
    order = ratings.sort_values("timestamp", kind="stable")
    if policy == "last":
        kept = order.drop_duplicates(["userId", "movieId"], keep="last")
        return ratings.loc[np.sort(kept.index.to_numpy())].reset_index(drop=True)
    grouped = order.groupby(["userId", "movieId"], sort=False)
    kept = grouped.agg(rating=("rating", "mean"), timestamp=("timestamp", "max")).reset_index()
    return kept.astype({"rating": np.float32})


def check_references(ratings: pd.DataFrame, products: pd.DataFrame, source: Source,
                     products_source: Source) -> None:
    """Check that every rated movie has a products row.

    Raises:
        DataError: Naming the unknown movieIds and the ratings rows that use them.
    """
    unknown = ~np.isin(ratings["movieId"].to_numpy(), products["movieId"].to_numpy())
    if unknown.any():
        ids = np.unique(ratings["movieId"].to_numpy()[unknown])
        where = products_source.sheet or products_source.file
        raise source.error(f"{len(ids)} rated movieId(s) have no row in '{where}': {preview(ids)}",
                           column="movieId", mask=unknown,
                           hint="add the movies to the products table or drop those ratings")
