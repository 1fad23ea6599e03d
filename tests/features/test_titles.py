from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from kerasrec.features import old_flags, parse_titles


@pytest.mark.parametrize("title, name, year", [
    ("Toy Story (1995)", "Toy Story", 1995),
    ("2001: A Space Odyssey (1968)", "2001: A Space Odyssey", 1968),
    ("Babylon 5", "Babylon 5", None),
    ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto", 2006),
    ("Show (2007-2013)", "Show", 2007),
    ("Open Series (2007-)", "Open Series", 2007),
    ("From Dusk Till Dawn 2: Texas Blood Money (1999) ", "From Dusk Till Dawn 2: Texas Blood Money", 1999),
    ("Godfather Trilogy: 1972-1990, The (1992)", "The Godfather Trilogy: 1972-1990", 1992),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)",
     "The City of Lost Children (Cité des enfants perdus, La)", 1995),
    ("Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
     "Amélie (Fabuleux destin d'Amélie Poulain, Le)", 2001),
    ("千と千尋の神隠し (2001)", "千と千尋の神隠し", 2001),
    ("Movie (12345)", "Movie (12345)", None),
    ("Ancient (0042)", "Ancient", None),  # implausible year: unknown, not 42
])
def test_parse_titles(title, name, year):
    parsed = parse_titles(pd.Series([title]))
    assert parsed["name"][0] == name
    assert (pd.isna(parsed["year"][0]) if year is None else parsed["year"][0] == year)


def test_old_flag_and_unknown_year_flag():
    years = pd.Series([1995, 2000, 2010, None], dtype="Int64")
    flags = old_flags(years, cutoff=2000)
    assert flags.tolist() == [[1, 0], [0, 0], [0, 0], [0, 1]]
    assert old_flags(years, cutoff=2011)[:, 0].tolist() == [1, 1, 1, 0]


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
       st.integers(1870, 2100))
def test_any_name_with_trailing_year(name, year):
    parsed = parse_titles(pd.Series([f"{name} ({year})"]))
    assert parsed["year"][0] == year
    assert f"({year})" not in parsed["name"][0][-6:] or f"({year})" in name


@given(st.text(max_size=60))
def test_parsing_never_fails(title):
    parsed = parse_titles(pd.Series([title]))
    assert len(parsed) == 1
