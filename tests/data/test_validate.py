"""Validation policies for inputs that are odd but valid.

Inputs that are invalid are catalogued in ``tests/test_malformed.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import kerasrec as kr
from kerasrec.schema import NO_GENRES
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


def test_in_memory_frames_are_validated_and_name_rows_as_iloc_counts_them(products, ratings):
    """A frame has no file or header row: errors name the frame and the bad rows'
    positions, whatever its index (a spreadsheet's row 5 would be iloc 3 here)."""
    bad = ratings.assign(rating=[4.0, 9.0, 5.0, 0.5, 7.0]).set_index(ratings.index * 10)
    with pytest.raises(kr.DataError) as caught:
        kr.MovieData.from_frames(products, bad)
    assert str(caught.value).startswith("frame 'ratings', column 'rating': ratings must lie")
    assert "(positions 1, 4)" in str(caught.value)
    assert (caught.value.frame, caught.value.file, caught.value.rows) == ("ratings", None, [1, 4])
    assert bad.iloc[caught.value.rows]["rating"].tolist() == [9.0, 7.0]
    with pytest.raises(kr.DataError, match="frame 'ratings': the frame has no rows"):
        kr.MovieData.from_frames(products, ratings.head(0))
    with pytest.raises(kr.DataError, match=r"frame 'ratings', column 'movieId': 1 rated "
                                           r"movieId\(s\) have no row in 'products'.*position 4"):
        kr.MovieData.from_frames(products.head(3), ratings)

# --- one validation path whatever the cell type ------------------------------------------

def test_excel_serials_read_with_their_unit(tmp_path, products, ratings):
    """Day serials are refused as seconds (above) and read exactly as ``excel``."""
    serials = 25569 + ratings["timestamp"] / 86400  # the same moments as Excel numbers
    path = write_xlsx(tmp_path / "m.xlsx", {"products": products,
                                             "users": ratings.assign(timestamp=serials)})
    data = kr.load_movies(path, timestamp_unit="excel")
    np.testing.assert_allclose(data.ratings["timestamp"], ratings["timestamp"], atol=1)


def test_date_cells_are_read_as_utc_seconds(tmp_path, products, ratings):
    when = pd.to_datetime(ratings["timestamp"], unit="s")  # naive: Excel has no zones
    path = write_xlsx(tmp_path / "m.xlsx", {"products": products,
                                             "users": ratings.assign(timestamp=when)})
    assert kr.load_movies(path).ratings["timestamp"].tolist() == ratings["timestamp"].tolist()


def test_a_column_mixing_date_cells_and_seconds(tmp_path, products, ratings):
    mixed = ratings.astype({"timestamp": object})
    mixed.loc[1, "timestamp"] = pd.Timestamp(int(ratings.loc[1, "timestamp"]), unit="s")
    path = write_xlsx(tmp_path / "m.xlsx", {"products": products, "users": mixed})
    assert kr.load_movies(path).ratings["timestamp"].tolist() == ratings["timestamp"].tolist()


def test_iso_8601_text_is_read_as_dates(tmp_path, products, ratings):
    """How a CSV holds dates: naive ones UTC, offsets honoured, beside plain seconds."""
    when = pd.to_datetime(ratings["timestamp"], unit="s")
    text = when.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object)
    text[1] = (when[1].tz_localize("UTC").tz_convert("Asia/Tokyo")).isoformat()  # +09:00
    text[2] = int(ratings.loc[2, "timestamp"])
    products.to_csv(tmp_path / "movies.csv", index=False)
    ratings.assign(timestamp=text).to_csv(tmp_path / "ratings.csv", index=False)
    assert kr.load_movies(tmp_path).ratings["timestamp"].tolist() == \
        ratings["timestamp"].tolist()
    # not ISO 8601: refused, not guessed (is 01/02/2001 January or February?)
    ratings.assign(timestamp="01/02/2001").to_csv(tmp_path / "ratings.csv", index=False)
    with pytest.raises(kr.DataError, match="ISO 8601"):
        kr.load_movies(tmp_path)


def test_arrow_timestamps_with_a_zone(tmp_path, products, ratings):
    when = pd.to_datetime(ratings["timestamp"], unit="s", utc=True).dt.tz_convert("Asia/Tokyo")
    products.to_parquet(tmp_path / "movies.parquet")
    ratings.assign(timestamp=when.astype("datetime64[ms, Asia/Tokyo]")).to_parquet(
        tmp_path / "ratings.parquet")
    assert kr.load_movies(tmp_path).ratings["timestamp"].tolist() == \
        ratings["timestamp"].tolist()


def test_genre_names_are_trimmed_and_case_folded_to_one_spelling(ratings):
    """Each genre takes its most common spelling; repeats in a cell are dropped."""
    odd = pd.DataFrame({"movieId": [1, 2, 3, 4, 5], "title": list("ABCDE"),
                        "genres": [" comedy", "Comedy|ACTION ", "Action|action|Drama",
                                   "Comedy|Drama|Action", "(No Genres Listed)"]})
    data = kr.MovieData.from_frames(odd, ratings)
    assert data.products["genres"].tolist() == ["Comedy", "Comedy|Action", "Action|Drama",
                                                "Comedy|Drama|Action", NO_GENRES]
    assert kr.FeaturePipeline().fit(data).genres_ == ["Action", "Comedy", "Drama"]


def test_list_genres_from_parquet_are_joined(tmp_path, products, ratings):
    listed = products.assign(genres=[g.split("|") for g in products["genres"]])
    listed.to_parquet(tmp_path / "movies.parquet")
    ratings.to_parquet(tmp_path / "ratings.parquet")
    loaded = kr.load_movies(tmp_path).products["genres"].tolist()
    assert loaded == kr.MovieData.from_frames(products, ratings).products["genres"].tolist()


def test_a_latin1_movies_file_is_decoded_with_a_warning_naming_the_line(tmp_path, ratings):
    lines = ["movieId,title,genres", "1,Toy Story (1995),Animation", "2,Amélie (2001),Comedy",
             "3,Heat (1995),Action", "4,Léon (1994),Crime", "5,Se7en (1995),Thriller"]
    (tmp_path / "movies.csv").write_bytes("\n".join(lines).encode("latin-1"))
    ratings.to_csv(tmp_path / "ratings.csv", index=False)
    with pytest.warns(kr.errors.DataWarning, match=r"movies.csv' is not UTF-8 \(first at line "
                      r"3\); read it as Windows-1252"):
        data = kr.load_movies(tmp_path)
    assert data.products["title"].tolist()[1] == "Amélie (2001)"


def test_a_utf8_file_with_a_byte_order_mark_reads_silently(tmp_path, products, ratings):
    (tmp_path / "movies.csv").write_bytes(b"\xef\xbb\xbf" + products.to_csv(index=False).encode())
    ratings.to_csv(tmp_path / "ratings.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kr.load_movies(tmp_path).products["movieId"].tolist() == \
            products["movieId"].tolist()
