"""Validation policies for inputs that are odd but valid.

Inputs that are invalid are catalogued in ``tests/test_malformed.py``.
"""

from __future__ import annotations


import pandas as pd
import pytest

import kerasrec as kr
from tests.conftest import write_xlsx


def _book(tmp_path, products, ratings, name="movies.xlsx"):
    return write_xlsx(tmp_path / name, {"products": products, "users": ratings})


def _error(path, **kwargs) -> kr.DataError:
    with pytest.raises(kr.DataError) as info:
        kr.load_movies(path, **kwargs)
    return info.value


def _assert_located(err, path, sheet=None, column=None, rows=None):
    message = str(err)
    assert str(path) in message and err.file == str(path)
    if sheet:
        assert f"sheet '{sheet}'" in message and err.sheet == sheet
    if column:
        assert f"column '{column}'" in message and err.column == column
    if rows:
        assert err.rows[: len(rows)] == rows
        assert ("row " if len(rows) == 1 else "rows ") + ", ".join(map(str, rows)) in message


def test_extra_columns_are_accepted(tmp_path, products, ratings):
    path = _book(tmp_path, products.assign(imdb="tt1"), ratings.assign(note="x"))
    data = kr.load_movies(path)
    assert list(data.ratings.columns) == ["userId", "movieId", "rating", "timestamp"]


def test_ids_as_exact_strings_and_floats_are_accepted(tmp_path, products, ratings):
    fuzzy = ratings.astype({"userId": object, "movieId": float})
    fuzzy.loc[0, "userId"] = "1"
    path = _book(tmp_path, products, fuzzy)
    assert kr.load_movies(path).ratings["userId"].tolist() == ratings["userId"].tolist()


def test_duplicate_pairs_policies(tmp_path, products, ratings):
    dup = pd.concat([ratings, ratings.iloc[[0]].assign(rating=2.0, timestamp=999999999)],
                    ignore_index=True)
    path = _book(tmp_path, products, dup)
    err = _error(path)
    _assert_located(err, path, sheet="users", rows=[2, 7])
    assert "duplicates='last'" in str(err)
    last = kr.load_movies(path, duplicates="last").ratings
    assert len(last) == len(ratings) and last.loc[last.movieId == 1, "rating"].item() == 2.0
    mean = kr.load_movies(path, duplicates="mean").ratings
    assert mean.loc[(mean.userId == 1) & (mean.movieId == 1), "rating"].item() == 3.0


def test_missing_or_empty_genres_mean_no_genres(tmp_path, products, ratings):
    loose = products.copy()
    loose.loc[0, "genres"] = None
    loose.loc[1, "genres"] = "  "
    data = kr.load_movies(_book(tmp_path, loose, ratings))
    assert data.products["genres"].tolist()[:2] == ["(no genres listed)"] * 2
    assert data.n_ratings == len(ratings)  # their ratings are kept


def test_millisecond_timestamps_with_unit(tmp_path, products, ratings):
    path = _book(tmp_path, products, ratings.assign(timestamp=ratings.timestamp * 1000))
    loaded = kr.load_movies(path, timestamp_unit="ms")
    assert loaded.ratings["timestamp"].tolist() == ratings["timestamp"].tolist()


def test_numeric_string_timestamps_are_accepted(tmp_path, products, ratings):
    path = _book(tmp_path, products, ratings.astype({"timestamp": str}))
    assert kr.load_movies(path).ratings["timestamp"].tolist() == ratings["timestamp"].tolist()


def test_in_memory_frames_are_validated(products, ratings):
    with pytest.raises(kr.DataError, match="sheet 'ratings', column 'rating'"):
        kr.MovieData.from_frames(products, ratings.assign(rating=9.0))