"""Each validation error names the file, sheet, column and offending rows."""

from __future__ import annotations

import time

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


def test_missing_file(tmp_path):
    err = _error(tmp_path / "nope.xlsx")
    _assert_located(err, tmp_path / "nope.xlsx")
    assert "no such file" in str(err)


def test_csv_renamed_to_xlsx(tmp_path, ratings):
    path = tmp_path / "ratings.xlsx"
    ratings.to_csv(path, index=False)
    err = _error(path)
    _assert_located(err, path)
    assert "not an Excel workbook" in str(err) and "CSV" in str(err)


def test_truncated_xlsx(tmp_path, products, ratings):
    path = _book(tmp_path, products, ratings)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    err = _error(path)
    assert "corrupt or truncated" in str(err)


def test_corrupt_zip(tmp_path):
    path = tmp_path / "ml.zip"
    path.write_bytes(b"PK\x03\x04 definitely not a zip")
    assert "zip" in str(_error(path))


def test_missing_sheet_and_case_hint(tmp_path, products, ratings):
    path = write_xlsx(tmp_path / "m.xlsx", {"Products": products, "users": ratings})
    err = _error(path)
    assert "no sheet 'products'" in str(err) and "rename 'Products' to 'products'" in str(err)


def test_empty_sheet(tmp_path, products):
    path = write_xlsx(tmp_path / "m.xlsx", {"products": products, "users": pd.DataFrame()})
    _assert_located(_error(path), path, sheet="users")


def test_header_only_sheet(tmp_path, products, ratings):
    path = _book(tmp_path, products, ratings.iloc[:0])
    err = _error(path)
    _assert_located(err, path, sheet="users")
    assert "no data rows" in str(err)


def test_missing_column_with_case_hint(tmp_path, products, ratings):
    path = _book(tmp_path, products, ratings.rename(columns={"rating": "Rating"}))
    err = _error(path)
    _assert_located(err, path, sheet="users")
    assert "missing column 'rating'" in str(err) and "'Rating' -> 'rating'" in str(err)


def test_extra_columns_are_accepted(tmp_path, products, ratings):
    path = _book(tmp_path, products.assign(imdb="tt1"), ratings.assign(note="x"))
    data = kr.load_movies(path)
    assert list(data.ratings.columns) == ["userId", "movieId", "rating", "timestamp"]


@pytest.mark.parametrize("value, words", [
    (float("nan"), "missing rating"), (0.0, "[0.5, 5]"), (7.0, "[0.5, 5]"),
    (-1.0, "[0.5, 5]"), ("good", "must be numbers")])
def test_bad_ratings(tmp_path, products, ratings, value, words):
    bad = ratings.astype({"rating": object})
    bad.loc[2, "rating"] = value
    path = _book(tmp_path, products, bad)
    err = _error(path)
    _assert_located(err, path, sheet="users", column="rating", rows=[4])  # header is row 1
    assert words in str(err)


def test_ids_as_exact_strings_and_floats_are_accepted(tmp_path, products, ratings):
    fuzzy = ratings.astype({"userId": object, "movieId": float})
    fuzzy.loc[0, "userId"] = "1"
    path = _book(tmp_path, products, fuzzy)
    assert kr.load_movies(path).ratings["userId"].tolist() == ratings["userId"].tolist()


@pytest.mark.parametrize("value", ["12a", 2.5])
def test_bad_ids_are_rejected(tmp_path, products, ratings, value):
    bad = ratings.astype({"movieId": object})
    bad.loc[3, "movieId"] = value
    path = _book(tmp_path, products, bad)
    err = _error(path)
    _assert_located(err, path, sheet="users", column="movieId", rows=[5])
    assert "whole numbers" in str(err)


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


def test_rating_of_unknown_movie(tmp_path, products, ratings):
    bad = ratings.copy()
    bad.loc[4, "movieId"] = 99
    path = _book(tmp_path, products, bad)
    err = _error(path)
    _assert_located(err, path, sheet="users", column="movieId", rows=[6])
    assert "no row in 'products'" in str(err) and "99" in str(err)


def test_duplicate_movie_in_products(tmp_path, products, ratings):
    bad = pd.concat([products, products.iloc[[1]]], ignore_index=True)
    path = _book(tmp_path, bad, ratings)
    _assert_located(_error(path), path, sheet="products", column="movieId", rows=[3, 6])


def test_null_title(tmp_path, products, ratings):
    bad = products.copy()
    bad.loc[2, "title"] = None
    path = _book(tmp_path, bad, ratings)
    _assert_located(_error(path), path, sheet="products", column="title", rows=[4])


def test_missing_or_empty_genres_mean_no_genres(tmp_path, products, ratings):
    loose = products.copy()
    loose.loc[0, "genres"] = None
    loose.loc[1, "genres"] = "  "
    data = kr.load_movies(_book(tmp_path, loose, ratings))
    assert data.products["genres"].tolist()[:2] == ["(no genres listed)"] * 2
    assert data.n_ratings == len(ratings)  # their ratings are kept


@pytest.mark.parametrize("value, words", [
    (-5, "negative"), (964982703000, "milliseconds"), ("yesterday", "unix seconds"),
    (int(time.time()) + 10 * 86400, "future")])
def test_bad_timestamps(tmp_path, products, ratings, value, words):
    bad = ratings.astype({"timestamp": object})
    bad.loc[1, "timestamp"] = value
    path = _book(tmp_path, products, bad)
    err = _error(path)
    _assert_located(err, path, sheet="users", column="timestamp", rows=[3])
    assert words in str(err)


def test_millisecond_timestamps_with_unit(tmp_path, products, ratings):
    path = _book(tmp_path, products, ratings.assign(timestamp=ratings.timestamp * 1000))
    loaded = kr.load_movies(path, timestamp_unit="ms")
    assert loaded.ratings["timestamp"].tolist() == ratings["timestamp"].tolist()


def test_numeric_string_timestamps_are_accepted(tmp_path, products, ratings):
    path = _book(tmp_path, products, ratings.astype({"timestamp": str}))
    assert kr.load_movies(path).ratings["timestamp"].tolist() == ratings["timestamp"].tolist()


def test_folder_with_half_a_layout(tmp_path, products):
    products.to_csv(tmp_path / "movies.csv", index=False)
    err = _error(tmp_path)
    assert "has 'movies.csv' but not 'ratings.csv'" in str(err)


def test_folder_without_data(tmp_path):
    assert "holds no MovieLens data" in str(_error(tmp_path))


def test_csv_error_names_member(tmp_path, products, ratings):
    products.to_csv(tmp_path / "movies.csv", index=False)
    ratings.assign(rating="bad").to_csv(tmp_path / "ratings.csv", index=False)
    err = _error(tmp_path)
    _assert_located(err, tmp_path, sheet="ratings.csv", column="rating", rows=[2, 3])


def test_in_memory_frames_are_validated(products, ratings):
    with pytest.raises(kr.DataError, match="sheet 'ratings', column 'rating'"):
        kr.MovieData.from_frames(products, ratings.assign(rating=9.0))


def test_single_table_file_is_explained(tmp_path, ratings):
    ratings.to_csv(tmp_path / "ratings.csv", index=False)
    assert "load_ratings" in str(_error(tmp_path / "ratings.csv"))
