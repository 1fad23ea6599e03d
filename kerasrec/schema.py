"""Names and codecs shared by every layer: columns, ids, genres, titles and the time rule.

``kerasrec.data`` reads and writes MovieLens files with these; ``kerasrec.features``
turns them into model inputs. Keeping them here lets the data layer stay below the
feature layer (it never imports it).

The daytime/weekend rule exists in two forms side by side: :func:`context_features`
(NumPy/pandas, with the tz database) and :func:`context_features_tf` (TensorFlow, for
SavedModels, with the UTC offset history from :func:`utc_offsets`);
``tests/test_schema.py`` holds them equal.
"""

from __future__ import annotations

from typing import Iterable, Sequence, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from kerasrec.errors import ArgumentError, PipelineError, preview

PRODUCT_COLUMNS: Tuple[str, ...] = ("movieId", "title", "genres")
RATING_COLUMNS: Tuple[str, ...] = ("userId", "movieId", "rating", "timestamp")
NO_GENRES = "(no genres listed)"
#: MovieLens' rating scale, in stars (half stars from 0.5 to 5). Data on another scale
#: declares it when loaded (``load_movies(..., rating_range=(1, 10))``) and carries it
#: (:attr:`kerasrec.MovieData.rating_range`) into the pipeline and the model.
RATING_RANGE: Tuple[float, float] = (0.5, 5.0)
CONTEXT_NAMES = ("daytime", "weekend")

# --- genres ------------------------------------------------------------------------------


def loose_name(name) -> str:
    """A column name as people write it in other ways ('user_id', 'Movie ID', 'Rating'):
    without case, underscores, spaces or hyphens.

    Example:
        >>> loose_name("Movie_ID") == loose_name("movieId")
        True
    """
    return str(name).replace("_", "").replace(" ", "").replace("-", "").lower()


def as_ids(values, name: str) -> np.ndarray:
    """Ids given in a call (a pairs column, ``recent``, ``user_ids``, a candidate list,
    one id) as a 1-d int64 array: integers, whole floats and numeric text alike, as the loaders
    read ids (a text ``"2"`` would otherwise miss the catalog and be taken for an
    unknown movie, in silence).

    Raises:
        ArgumentError: For missing, fractional, non-numeric or true/false ids, or ids
            beyond 64 bits.

    Example:
        >>> as_ids(["2", 3.0, 4], "movies")
        array([2, 3, 4])
    """
    if not isinstance(values, (pd.Series, np.ndarray)):  # a list, tuple, set, generator
        values = list(values) if isinstance(values, Iterable) and not isinstance(
            values, (str, bytes)) else [values]
    values = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_integer_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(np.int64)
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    bad = np.isnan(numeric) | (numeric != np.floor(numeric))
    if values.dtype == object or pd.api.types.is_bool_dtype(values):
        bad |= values.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(bool)
    if bad.any():
        raise ArgumentError(f"{name} must hold whole-number ids, found "
                            f"{preview(values[bad].unique())} at positions "
                            f"{preview(np.flatnonzero(bad))}")
    if np.abs(numeric).max(initial=0) >= 2.0 ** 63:
        raise ArgumentError(f"an id is outside the 64-bit integer range of MovieLens ids: "
                            f"{preview(values[np.abs(numeric) >= 2.0 ** 63].unique())}")
    return numeric.astype(np.int64)


def decode_genres(multi_hot: np.ndarray, vocabulary: Sequence[str]) -> np.ndarray:
    """Multi-hot rows -> pipe-separated genre strings (the MovieLens ``genres`` cell).

    Rows without any genre become ``"(no genres listed)"``.
    """
    names = np.array([f"{g}|" for g in vocabulary], dtype=object)
    joined = pd.DataFrame(np.asarray(multi_hot, dtype=bool) * names).sum(axis=1)
    joined = joined.astype(str).str.rstrip("|")
    return joined.mask(joined == "", NO_GENRES).to_numpy(dtype=object)


# --- titles ------------------------------------------------------------------------------

# The year is the last parenthesised group only, so "2001: A Space Odyssey (1968)" is
# 1968 and a series' range "(2007-2013)" or "(2006–2007)" gives its first year.
_TITLE_YEAR = (r"(?s)^(?P<name>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)$")
# MovieLens files titles "American President, The"; display them as "The American President".
_TRAILING_ARTICLE = r"(?s)^(?P<main>.+?), (?P<article>The|A|An|L'|La|Le|Les|Il|El|Das|Der|Die)(?P<rest>\s*\(.*\))?$"
MIN_YEAR, MAX_YEAR = 1870, 2100


def parse_titles(titles: pd.Series) -> pd.DataFrame:
    """Split MovieLens titles into a display name and a release year.

    Only a trailing ``(YYYY)`` or ``(YYYY-YYYY)`` counts as the year; titles without one
    get a missing year. Surrounding white space is ignored.

    Args:
        titles: The ``title`` column.

    Returns:
        A frame aligned with ``titles`` with ``name`` (str) and ``year`` (nullable Int64).
    """
    stripped = titles.astype("string").str.strip()
    parts = stripped.str.extract(_TITLE_YEAR)
    name = parts["name"].fillna(stripped).str.strip()
    name = name.str.replace(_TRAILING_ARTICLE, _move_article, regex=True)
    year = pd.to_numeric(parts["year"], errors="coerce").astype("Int64")
    year = year.where((year >= MIN_YEAR) & (year <= MAX_YEAR))
    return pd.DataFrame({"name": name.astype(object), "year": year}, index=titles.index)


def display_titles(titles: pd.Series) -> pd.Series:
    """MovieLens titles as people write them: "American President, The (1995)" becomes
    "The American President (1995)"; other titles are only stripped.

    Example:
        >>> display_titles(pd.Series(["Matrix, The (1999)", "Heat (1995)"])).tolist()
        ['The Matrix (1999)', 'Heat (1995)']
    """
    stripped = titles.astype("string").str.strip()
    return stripped.str.replace(_TRAILING_ARTICLE, _move_article, regex=True).astype(object)


def _move_article(match) -> str:
    article = match.group("article")
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match.group('main')}{match.group('rest') or ''}"



# --- the daytime/weekend rule ------------------------------------------------------------

def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone (e.g. "UTC", "Europe/Berlin").

    Raises:
        PipelineError: If the zone is unknown.
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise PipelineError(f"unknown time zone {name!r}; use an IANA name such as "
                            "'UTC' or 'America/New_York'") from exc
    return name


def context_features(timestamps: np.ndarray, timezone: str = "UTC",
                     daytime_hours: Tuple[int, int] = (6, 20)) -> np.ndarray:
    """Compute ``daytime`` and ``weekend`` flags from unix timestamps.

    Args:
        timestamps: Unix seconds (UTC).
        timezone: IANA zone in which "day" and "weekend" are judged. Explicit, so the
            same data gives the same features on every machine.
        daytime_hours: ``(start, end)``: daytime is ``start < hour < end`` (exclusive).

    Returns:
        A (n, 2) uint8 array: column 0 daytime, column 1 weekend (Saturday/Sunday).
    """
    when = pd.DatetimeIndex(pd.to_datetime(np.asarray(timestamps, dtype=np.int64), unit="s",
                                           utc=True))
    if timezone != "UTC":
        when = when.tz_convert(check_timezone(timezone))
    hour = when.hour.to_numpy()
    start, end = daytime_hours
    daytime = (hour > start) & (hour < end)
    weekend = when.day_of_week.to_numpy() >= 5
    return np.stack([daytime, weekend], axis=1).astype(np.uint8)


def utc_offsets(timezone: str, first_year: int = 1970,
                last_year: int = 2100) -> Tuple[np.ndarray, np.ndarray]:
    """A time zone's UTC offset history, for computing context without a tz database.

    Programs that cannot convert time zones (a TensorFlow graph) find the offset of a
    Unix time ``t`` as ``offsets[searchsorted(starts, t, side="right") - 1]``.

    Args:
        timezone: IANA zone name.
        first_year, last_year: Span covered exactly; later times keep the last offset.

    Returns:
        ``(starts, offsets)``: int64 Unix seconds from which each offset (int64
        seconds east of UTC) holds; ``starts[0]`` is the smallest int64.

    Raises:
        PipelineError: If the zone is unknown.
    """
    zone = check_timezone(timezone)
    first, last = (int(pd.Timestamp(f"{year}-01-01", tz="UTC").timestamp())
                   for year in (first_year, last_year))
    seconds = np.arange(first, last + 1, 86400, dtype=np.int64)

    def offset_at(t: np.ndarray) -> np.ndarray:
        utc = pd.DatetimeIndex(pd.to_datetime(t, unit="s", utc=True))
        local = utc.tz_convert(zone).tz_localize(None)
        return ((local - utc.tz_localize(None)) // pd.Timedelta(seconds=1)).to_numpy(np.int64)

    offsets = offset_at(seconds)
    change = np.flatnonzero(np.diff(offsets) != 0)
    lo, hi = seconds[change], seconds[change + 1]
    while np.any(hi - lo > 1):  # bisect every change to the second it happens
        mid = (lo + hi) // 2
        same = offset_at(mid) == offsets[change]
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    starts = np.concatenate([[np.iinfo(np.int64).min], hi]).astype(np.int64)
    return starts, np.concatenate([offsets[:1], offsets[change + 1]]).astype(np.int64)


def context_features_tf(timestamps, offset_starts, offsets, daytime_hours=(6, 20)):
    """:func:`context_features` in TensorFlow, for graphs without a tz database.

    Args:
        timestamps: int64 tensor of Unix seconds (UTC), shape ``(n,)``.
        offset_starts, offsets: :func:`utc_offsets` of the time zone (tensors or arrays).
        daytime_hours: As in :func:`context_features`.

    Returns:
        A float32 ``(n, 2)`` tensor: daytime, weekend.
    """
    import tensorflow as tf

    index = tf.searchsorted(offset_starts, timestamps, side="right", out_type=tf.int64) - 1
    local = timestamps + tf.gather(offsets, tf.maximum(index, 0))
    hour = tf.math.floormod(tf.math.floordiv(local, 3600), 24)
    weekday = tf.math.floormod(tf.math.floordiv(local, 86400) + 3, 7)  # 1970-01-01: Thursday
    start, end = (int(h) for h in daytime_hours)
    return tf.cast(tf.stack([(hour > start) & (hour < end), weekday >= 5], 1), tf.float32)
