"""Movie titles -> clean display name and release year."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def _move_article(match) -> str:
    article = match.group("article")
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match.group('main')}{match.group('rest') or ''}"


def old_flags(year: pd.Series, cutoff: int = 2000) -> np.ndarray:
    """``old`` (year < cutoff) and ``year_unknown`` flags as a (n, 2) uint8 array.

    An unknown year is flagged on its own instead of counting as new.
    """
    known = year.notna().to_numpy()
    old = known & (year.fillna(cutoff).to_numpy(dtype=np.int64) < cutoff)
    return np.stack([old, ~known], axis=1).astype(np.uint8)
