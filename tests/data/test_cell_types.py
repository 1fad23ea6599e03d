"""Property: a workbook whose cells are of any type either loads with exactly the values
its cells mean, or raises a DataError naming the sheet, a column holding a bad cell and
only rows that hold one — never another exception.

Each generated cell carries what it means (a value, or ``BAD``), so the expected table
comes from the generator, not from the code under test.
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

import kerasrec as kr
from kerasrec.data.validate import RATING_COLUMNS

BAD = object()


def _mostly(good, bad):
    """Good cells nine times in ten, so a lone bad cell among good ones is common."""
    return st.integers(0, 9).flatmap(lambda roll: bad if roll == 0 else good)
MOVIES = (1, 2, 3, 4)
EPOCH = datetime.datetime(1970, 1, 1)


def _id_cells(own: int, valid_ids=None):
    """Cells of an id column whose valid forms all mean ``own``."""
    good = st.sampled_from([(own, own), (str(own), own), (float(own), own)])
    bad = st.sampled_from([(2.5, BAD), (-1, BAD), (None, BAD), (True, BAD), ("abc", BAD),
                           (datetime.datetime(2001, 1, 1), BAD)])
    if valid_ids is not None:
        bad = st.one_of(bad, st.just((99, BAD)))  # not in the products sheet
    return _mostly(good, bad)


def _rating_cells():
    stars = st.sampled_from(np.arange(1, 11) / 2)
    good = st.one_of(stars.map(lambda v: (float(v), float(v))), stars.map(lambda v: (str(v), float(v))))
    bad = st.sampled_from([(0.0, BAD), (7.0, BAD), (None, BAD), (True, BAD), ("good", BAD),
                           (datetime.datetime(2001, 1, 1), BAD)])
    return _mostly(good, bad)


def _timestamp_cells():
    seconds = st.integers(900_000_000, 1_500_000_000)
    good = st.one_of(
        seconds.map(lambda t: (t, t)),
        seconds.map(lambda t: (t + 0.5, t)),
        seconds.map(lambda t: (str(t), t)),
        seconds.map(lambda t: (EPOCH + datetime.timedelta(seconds=t), t)),  # a date cell
    )
    bad = st.sampled_from([(None, BAD), (True, BAD), ("yesterday", BAD), (-5, BAD),
                           (964_982_703_000, BAD), (datetime.datetime(1960, 1, 1), BAD),
                           (datetime.datetime(2099, 1, 1), BAD)])
    return _mostly(good, bad)


@st.composite
def rows(draw):
    n = draw(st.integers(1, 4))
    table = []
    for i in range(n):
        table.append([draw(_id_cells(i + 1)), draw(_id_cells(MOVIES[i % 4], MOVIES)),
                      draw(_rating_cells()), draw(_timestamp_cells())])
    return table


def _write(path: Path, table) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    products = book.active
    products.title = "products"
    products.append(["movieId", "title", "genres"])
    for movie in MOVIES:
        products.append([movie, f"Movie {movie} (1999)", "Drama"])
    users = book.create_sheet("users")
    users.append(list(RATING_COLUMNS))
    for row in table:
        users.append([cell for cell, _ in row])
    # A last valid row: readers drop trailing blank rows, which would hide bad cells.
    users.append([100, 1, 3.0, 1_000_000_000])
    book.save(path)
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows())
def test_any_cell_types_load_exactly_or_fail_located(table):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder) / "cells.xlsx", table)
        bad = {c: [r + 2 for r, row in enumerate(table) if row[i][1] is BAD]
               for i, c in enumerate(RATING_COLUMNS)}
        try:
            data = kr.load_movies(path)
        except kr.DataError as err:
            assert err.file == str(path) and err.sheet == "users", str(err)
            assert err.column in bad and bad[err.column], str(err)
            assert err.rows and set(err.rows) <= set(bad[err.column]), str(err)
            return
        assert not any(bad.values()), f"accepted bad cells: {bad}"
        expected = pd.DataFrame([[meaning for _, meaning in row] for row in table]
                                + [[100, 1, 3.0, 1_000_000_000]], columns=list(RATING_COLUMNS))
        got = data.ratings
        assert got["userId"].tolist() == expected["userId"].tolist()
        assert got["movieId"].tolist() == expected["movieId"].tolist()
        np.testing.assert_allclose(got["rating"], expected["rating"])
        assert got["timestamp"].tolist() == expected["timestamp"].tolist()
