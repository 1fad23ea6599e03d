"""Schema checks that turn raw tables into clean, typed MovieLens frames.

Each check raises :class:`~kerasrec.errors.DataError` naming the file, sheet,
column and the first offending rows, so the user can open the file and fix it.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Optional, Tuple, Type

import numpy as np
import pandas as pd

from kerasrec.errors import (ArgumentError, DataError, KerasRecError, is_number, preview,
                             whole_number)
from kerasrec.schema import (NO_GENRES, PRODUCT_COLUMNS, RATING_COLUMNS, RATING_RANGE,
                             loose_name)


#: Unix seconds beyond this are far in the future (year 5138): the values are milliseconds.
_MILLISECONDS_THRESHOLD = 1e11
#: Timestamps up to one day ahead of the clock are tolerated (clock skew, time zones).
_FUTURE_TOLERANCE_S = 86_400
#: Excel stores dates as days since 1899-12-30; 1970-01-01 is day 25569 and 9999-12-31
#: day 2958465. A column of Unix seconds that all lie below the latter would be ratings
#: made in the first 34 days of 1970: they are day serials.
_EXCEL_UNIX_EPOCH_DAY = 25_569
_EXCEL_MAX_SERIAL = 2_958_466
DUPLICATE_POLICIES = ("error", "last", "mean")
#: ``timestamp_unit`` values: Unix seconds, Unix milliseconds, Excel day serials (UTC).
TIMESTAMP_UNITS = ("s", "ms", "excel")


@dataclass(frozen=True)
class Source:
    """Where a table came from, for error messages.

    Attributes:
        file: The file the user passed (or the archive); None for a frame in memory.
        sheet: Sheet name (xlsx) or member name (zip), if any; a file in a folder is
            named as ``file`` itself.
        first_row: File row number of the first data record (a header row is row 1).
        frame: The name of a DataFrame passed in memory (:meth:`in_memory`).
    """

    file: Optional[str]
    sheet: Optional[str] = None
    first_row: int = 2
    frame: Optional[str] = None

    @classmethod
    def in_memory(cls, name: str) -> "Source":
        """A DataFrame passed in memory: errors name the frame, and its rows by their
        0-based positions (``frame.iloc[row]``)."""
        return cls(None, None, 0, name)

    def where(self) -> dict:
        """The location arguments of a :class:`DataError` raised about this source."""
        return {"file": self.file, "sheet": self.sheet, "frame": self.frame}

    def error(self, problem: str, *, column: Optional[str] = None,
              mask: Optional[np.ndarray] = None, hint: Optional[str] = None) -> DataError:
        """Build a DataError located at this source, listing the rows where ``mask``."""
        rows, n = None, None
        if mask is not None:
            idx = np.flatnonzero(np.asarray(mask))
            rows, n = (idx[:5] + self.first_row).tolist(), int(idx.size)
        return DataError(problem, **self.where(), column=column, rows=rows, n_rows=n,
                         hint=hint)


def check_columns(frame: pd.DataFrame, required: Tuple[str, ...], source: Source) -> pd.DataFrame:
    """Return ``frame[required]``; extra columns are accepted and dropped.

    Raises:
        DataError: If the table is empty or a required column is missing.
        ArgumentError: If ``frame`` (given in memory) is not a DataFrame.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"{source.frame or 'the table'} must be a pandas DataFrame with "
                            f"columns {list(required)}, got {type(frame).__name__}")
    columns = [str(c).strip() for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    missing = [c for c in required if c not in columns]
    if missing:
        # 'Rating', 'user_id', 'Movie ID': the name written another way
        loose = {loose_name(c): c for c in columns}
        near = [f"'{loose[loose_name(m)]}' -> '{m}'" for m in missing
                if loose_name(m) in loose]
        # A spreadsheet saved as CSV in many locales is separated by ';' (or tabs).
        separator = next((s for s in (";", "\t") if len(columns) == 1
                          and set(required) <= set(columns[0].split(s))), None)
        # A sheet with a title (or blank rows) above its header.
        header = next((source.first_row + i for i, row in
                       enumerate(frame.head(10).itertuples(index=False))
                       if set(required) <= {str(v).strip() for v in row}), None)
        hint = ("column names must be written exactly; rename " + ", ".join(near)) if near else (
            f"the file is separated by {separator!r}, not commas: save it as comma-separated "
            f"CSV (as MovieLens' files are)") if separator else (
            f"the column names are in row {header}: delete the rows above them") if header \
            else f"expected columns {list(required)}, found {columns}"
        raise DataError(f"missing column{'s' if len(missing) > 1 else ''} "
                        + ", ".join(f"'{m}'" for m in missing),
                        **source.where(), hint=hint)
    if len(frame) == 0:
        # Formats without a header row (.dat, u.data) read their data from row 1.
        raise DataError("the frame has no rows" if source.frame else
                        "the table has a header but no data rows" if source.first_row > 1
                        else "the file holds no data rows", **source.where())
    return frame.loc[:, list(required)]


def to_int_ids(values: pd.Series, source: Source, column: str) -> np.ndarray:
    """Convert an id column to int64, accepting exact floats and numeric strings.

    Raises:
        DataError: On missing, non-numeric or fractional ids.
    """
    reject_odd_cells(values, source, column, "ids")
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
    reject_odd_cells(frame["title"], source, "title", "titles")
    return pd.DataFrame({
        "movieId": ids,
        "title": title.to_numpy(dtype=object),
        "genres": normalise_genres(frame["genres"]),
    })


def normalise_genres(genres: pd.Series) -> np.ndarray:
    """Pipe-separated genre cells in one spelling per genre.

    Names are trimmed and compared without case; each genre takes its most common
    spelling in the table (so " comedy" joins "Comedy"), repeats within a cell are
    dropped, and empty cells become ``"(no genres listed)"``. Lists (nested Parquet
    values) are joined with ``|``.

    Returns:
        An object array of genre strings aligned with ``genres``.

    Example:
        >>> normalise_genres(pd.Series(["Comedy|Drama", " comedy ", "drama|Drama", None]))
        array(['Comedy|Drama', 'Comedy', 'Drama', '(no genres listed)'], dtype=object)
    """
    cells = genres.reset_index(drop=True).map(
        lambda v: "|".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)
    text = cells.astype("string").fillna("")
    parts = text.str.split("|").explode().str.strip()
    parts = parts[parts != ""]
    table = pd.DataFrame({"row": parts.index.to_numpy(), "name": parts.to_numpy(object)})
    table["key"] = table["name"].str.casefold()
    counts = table.groupby(["key", "name"], sort=False).size().reset_index(name="n")
    spelling = (counts.sort_values("n", ascending=False, kind="stable")
                .drop_duplicates("key").set_index("key")["name"])
    spelling[NO_GENRES.casefold()] = NO_GENRES
    table["name"] = table["key"].map(spelling)
    table = table.drop_duplicates(["row", "key"])
    table = table[table["name"] != NO_GENRES]  # "(no genres listed)" means no genre
    joined = table.groupby("row", sort=False)["name"].agg("|".join)
    return joined.reindex(range(len(cells)), fill_value=NO_GENRES).to_numpy(dtype=object)


def _ratings_values(frame: pd.DataFrame, source: Source,
                    rating_range: Tuple[float, float]) -> np.ndarray:
    raw = frame["rating"]
    reject_odd_cells(raw, source, "rating", "ratings")
    rating = pd.to_numeric(raw, errors="coerce")
    missing = raw.isna().to_numpy()
    if missing.any():
        raise source.error("missing rating (NaN or empty cell)", column="rating", mask=missing)
    bad = rating.isna().to_numpy()
    if bad.any():
        raise source.error(f"ratings must be numbers, found {preview(raw[bad].unique())}",
                           column="rating", mask=bad)
    values = rating.to_numpy(dtype=np.float64)
    check_rating_range(values, source, rating_range)
    return values.astype(np.float32)


def check_rating_range(values: np.ndarray, source: Source,
                       rating_range: Tuple[float, float]) -> None:
    """Refuse ratings outside the rating scale.

    Raises:
        DataError: Naming the values found outside ``rating_range`` and their rows, and
            how to declare another scale.
    """
    values = np.asarray(values, dtype=np.float64)
    lo, hi = rating_range
    out = (values < lo) | (values > hi)
    if out.any():
        raise source.error(f"ratings must lie in [{lo:g}, {hi:g}] stars, found "
                           f"{preview(np.unique(values[out]))}", column="rating", mask=out,
                           hint="if your scale differs, load the data with "
                                "rating_range=(low, high) (kerasrec: --rating-range LOW,HIGH)")


def _timestamps(frame: pd.DataFrame, source: Source, timestamp_unit: str) -> np.ndarray:
    """Unix seconds from any cell type, through one set of range checks.

    Numbers are read in ``timestamp_unit``; date cells (Excel dates, Arrow timestamps,
    ``datetime`` objects) are taken as they are, naive ones as UTC. Both then meet the
    same checks: missing, before 1970, in the future, and for numbers in seconds the
    signatures of milliseconds and of Excel day serials.
    """
    raw = frame["timestamp"]
    if timestamp_unit not in TIMESTAMP_UNITS:
        raise ArgumentError(f"timestamp_unit must be one of {TIMESTAMP_UNITS}, "
                            f"got {timestamp_unit!r}")
    reject_odd_cells(raw, source, "timestamp", "timestamps")
    missing = raw.isna().to_numpy()
    if missing.any():
        raise source.error("missing timestamp", column="timestamp", mask=missing)
    values, dates = time_cells(raw)
    lost = dates & np.isnan(values)
    if lost.any():  # dates pandas cannot read at all (e.g. before year 1)
        raise source.error(f"dates before 1970 or in the future, found "
                           f"{preview(raw[lost].unique())}", column="timestamp", mask=lost)
    numbers = ~dates
    if numbers.any():
        numeric = values[numbers]
        bad = numbers & np.isnan(values)
        if bad.any():
            raise source.error(f"timestamps must be unix seconds or dates, found "
                               f"{preview(raw[bad].unique())}", column="timestamp", mask=bad,
                               hint="dates as text must be ISO 8601, e.g. 2018-09-16 13:50:00 "
                                    "(UTC unless an offset follows)")
        values[numbers] = _numeric_seconds(numeric, numbers, source, timestamp_unit)
    negative = values < 0
    if negative.any():
        raise source.error("timestamps before 1970 (negative unix seconds)", column="timestamp",
                           mask=negative, hint="MovieLens ratings start in 1995; check the "
                           "column holds rating times")
    future = values > time.time() + _FUTURE_TOLERANCE_S
    if future.any():
        raise source.error("timestamps lie in the future", column="timestamp", mask=future,
                           hint="check the column holds unix seconds (UTC)")
    return np.floor(values).astype(np.int64)


def _numeric_seconds(values: np.ndarray, where: np.ndarray, source: Source,
                     unit: str) -> np.ndarray:
    """Numeric timestamp cells (at rows ``where``) in ``unit`` -> Unix seconds."""
    def rows(mask: np.ndarray) -> np.ndarray:
        full = np.zeros(len(where), bool)
        full[where] = mask
        return full

    if unit == "ms":
        return values / 1000.0
    if unit == "excel":
        return (values - _EXCEL_UNIX_EPOCH_DAY) * 86_400.0
    large = values > _MILLISECONDS_THRESHOLD
    if large.any():
        raise source.error("timestamps look like milliseconds, not seconds", column="timestamp",
                           mask=rows(large),
                           hint="pass timestamp_unit='ms' or divide the column by 1000")
    if values.size and values.max() < _EXCEL_MAX_SERIAL and values.max() > 0:
        first = float(values[values > 0][0])
        serial = pd.Timestamp("1899-12-30") + pd.Timedelta(days=first)
        seconds = pd.Timestamp(first, unit="s")
        raise source.error(
            f"timestamps look like Excel day serials, not unix seconds ({first:g} is "
            f"{serial:%Y-%m-%d %H:%M} as a serial but {seconds:%Y-%m-%d %H:%M} as unix "
            f"seconds)", column="timestamp", mask=rows(values < _EXCEL_MAX_SERIAL),
            hint="pass timestamp_unit='excel', or format the column as dates in Excel")
    return values


def _date_cells(raw: pd.Series) -> np.ndarray:
    """Which cells of an object column are dates (``datetime``, ``date``, ``Timestamp``)."""
    if raw.dtype != object:
        return np.zeros(len(raw), bool)
    return raw.map(lambda v: isinstance(v, (datetime.date, np.datetime64))).to_numpy(bool)


def time_cells(raw: pd.Series) -> Tuple[np.ndarray, np.ndarray]:
    """The cells of a time column read as times, the one rule for every reader of times.

    Date cells (``datetime64`` columns, Excel dates, ``datetime``/``date`` objects) and
    ISO 8601 text (``"2018-09-16 13:50:00"``, ``"2018-09-16T13:50:00+02:00"``: how a CSV
    holds dates) are dates, read as Unix seconds, naive ones as UTC. Other cells are
    numbers, whose unit the caller knows.

    Returns:
        ``(values, dates)``: float values (NaN for missing or unreadable cells) and
        which cells were dates.
    """
    if pd.api.types.is_datetime64_any_dtype(raw):
        return _date_seconds(raw), np.ones(len(raw), bool)
    dates = _date_cells(raw).copy()
    values = np.full(len(raw), np.nan)
    if dates.any():
        values[dates] = _date_seconds(raw[dates])
    numbers = ~dates & raw.notna().to_numpy()
    if numbers.any():
        values[numbers] = pd.to_numeric(raw[numbers], errors="coerce")
        text = numbers & np.isnan(values)
        if text.any():
            values[text] = _date_seconds(raw[text].astype(str), format="ISO8601")
            dates |= text & ~np.isnan(values)
    return values, dates


def _date_seconds(cells: pd.Series, format: Optional[str] = None) -> np.ndarray:
    """Date cells (or text in ``format``) -> Unix seconds (NaN where pandas cannot hold or
    read the date); naive is UTC."""
    when = pd.to_datetime(cells, utc=True, errors="coerce", format=format
                          ).dt.tz_convert(None).to_numpy()
    # Whole seconds in NumPy: pandas' own arithmetic is in nanoseconds and overflows
    # for dates past 2262 that the cells may hold.
    seconds = when.astype("datetime64[s]").astype(np.int64).astype(np.float64)
    seconds[np.isnat(when)] = np.nan
    return seconds


def reject_odd_cells(raw: pd.Series, source: Source, column: str, what: str) -> None:
    """Refuse cells no numeric column may hold: true/false and nested values (lists).

    Booleans would otherwise read as 1 and 0 (a rating of one star, a time in 1970),
    and nested Parquet values cannot be compared at all.

    Raises:
        DataError: Naming the column and the rows.
    """
    if pd.api.types.is_bool_dtype(raw):
        raise source.error(f"{what} cannot be true/false", column=column,
                           mask=np.ones(len(raw), bool))
    if raw.dtype != object:
        return
    kinds = raw.map(type)
    boolean = kinds.isin([bool, np.bool_]).to_numpy()
    if boolean.any():
        raise source.error(f"{what} cannot be true/false", column=column, mask=boolean)
    nested = kinds.isin([list, tuple, dict, set, np.ndarray]).to_numpy()
    if nested.any():
        raise source.error(f"{what} must be single values, found lists or other nested values",
                           column=column, mask=nested,
                           hint="flatten the column (one value per cell) before loading")


def validate_ratings(frame: pd.DataFrame, source: Source, *,
                     rating_range: Tuple[float, float] = RATING_RANGE,
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
        ArgumentError: Otherwise.
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise ArgumentError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    return duplicates


def check_scale(rating_range: Any, error: Type[KerasRecError] = ArgumentError
                ) -> Tuple[float, float]:
    """Return ``rating_range`` as ``(low, high)`` floats if it is a rating scale.

    Raises:
        ArgumentError: (or ``error``) unless it is two finite numbers, low < high.

    Example:
        >>> check_scale((1, 10))
        (1.0, 10.0)
    """
    try:
        low, high = rating_range
    except (TypeError, ValueError):
        raise error(f"rating_range must be a pair of numbers (low, high), got "
                    f"{rating_range!r}") from None
    if not (is_number(low) and is_number(high) and low < high):
        raise error(f"rating_range must be (low, high) with finite low < high, got "
                    f"{tuple(rating_range)!r}")
    return float(low), float(high)


def check_read_options(nrows: Optional[int] = None,
                       rating_range: Tuple[float, float] = RATING_RANGE,
                       duplicates: str = "error", timestamp_unit: str = "s") -> None:
    """Check the reading options of the loaders before any file is opened.

    So a wrong argument is blamed on the argument, never on the data.

    Raises:
        ArgumentError: Naming the argument and what it accepts.

    Example:
        >>> check_read_options(nrows=-1)
        Traceback (most recent call last):
        kerasrec.errors.ArgumentError: nrows must be a positive whole number, got -1
    """
    if nrows is not None:
        whole_number(nrows, "nrows")
    check_scale(rating_range)
    check_duplicate_policy(duplicates)
    if timestamp_unit not in TIMESTAMP_UNITS:
        raise ArgumentError(f"timestamp_unit must be one of {TIMESTAMP_UNITS} (Unix seconds, "
                            f"Unix milliseconds, Excel day serials), got {timestamp_unit!r}")


def typed_ratings(frame: pd.DataFrame, source: Source, *,
                  rating_range: Tuple[float, float] = RATING_RANGE,
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
        first = np.flatnonzero(dup)[0]  # ids as ints: a row of the frame reads as floats
        user, movie = (int(ratings[column].iloc[first]) for column in ("userId", "movieId"))
        raise source.error(
            f"(userId, movieId) pairs rated more than once, e.g. user {user} / movie {movie}",
            column="userId, movieId", mask=dup,
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
        where = (products_source.sheet or products_source.frame
                 or PurePath(products_source.file).name)
        raise source.error(f"{len(ids)} rated movieId(s) have no row in '{where}': {preview(ids)}",
                           column="movieId", mask=unknown,
                           hint="add the movies to the products table or drop those ratings")
