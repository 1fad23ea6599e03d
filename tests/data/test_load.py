"""Every supported input layout, built as tiny files inside the test."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

import kerasrec as kr
from tests.conftest import write_xlsx


def _same(data: kr.MovieData, products: pd.DataFrame, ratings: pd.DataFrame) -> None:
    assert data.products["movieId"].tolist() == products["movieId"].tolist()
    assert data.ratings[["userId", "movieId"]].values.tolist() == \
        ratings[["userId", "movieId"]].values.tolist()
    np.testing.assert_allclose(data.ratings["rating"], ratings["rating"])
    assert data.ratings["timestamp"].tolist() == ratings["timestamp"].tolist()


def test_xlsx_workbook(tmp_path, products, ratings):
    path = write_xlsx(tmp_path / "movies.xlsx", {"products": products, "users": ratings})
    data = kr.load_movies(path)
    _same(data, products, ratings)
    assert data.ratings.dtypes.to_dict() == {"userId": np.int32, "movieId": np.int32,
                                             "rating": np.float32, "timestamp": np.int64}
    # Titles are stripped; "(no genres listed)" is kept as the marker.
    assert data.products["title"].tolist()[1] == "Heat (1995)"


def test_xlsx_with_openpyxl_engine(tmp_path, products, ratings, monkeypatch):
    import kerasrec.data.load as load

    path = write_xlsx(tmp_path / "movies.xlsx", {"products": products, "users": ratings})
    monkeypatch.setattr(load, "excel_engine", lambda: "openpyxl")
    _same(kr.load_movies(path), products, ratings)


def test_nrows_limits_ratings_only(tmp_path, products, ratings):
    path = write_xlsx(tmp_path / "movies.xlsx", {"products": products, "users": ratings})
    data = kr.load_movies(path, nrows=2)
    assert data.n_ratings == 2 and data.n_movies == 4


def _latest_files(folder, products, ratings):
    folder.mkdir(parents=True)
    products.to_csv(folder / "movies.csv", index=False)
    ratings.to_csv(folder / "ratings.csv", index=False)
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n")


def test_movielens_latest_folder(tmp_path, products, ratings):
    _latest_files(tmp_path / "ml-latest-small", products, ratings)
    _same(kr.load_movies(tmp_path / "ml-latest-small"), products, ratings)


def test_movielens_latest_zip_with_nested_folder(tmp_path, products, ratings):
    _latest_files(tmp_path / "ml-latest-small", products, ratings)
    archive = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in (tmp_path / "ml-latest-small").iterdir():
            zf.write(f, f"ml-latest-small/{f.name}")
    _same(kr.load_movies(archive), products, ratings)
    assert kr.load_movies(archive, nrows=3).n_ratings == 3


def test_movielens_1m_dat_latin1(tmp_path, products, ratings):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    lines = [f"{m}::{t}::{g}" for m, t, g in products.itertuples(index=False)]
    lines[0] = "1::Amélie (2001)::Comedy|Children's"
    (folder / "movies.dat").write_bytes("\n".join(lines).encode("latin-1"))
    (folder / "ratings.dat").write_text("\n".join(
        f"{u}::{m}::{int(r * 2) / 2:g}::{t}" for u, m, r, t in ratings.itertuples(index=False)))
    data = kr.load_movies(folder)
    _same(data, products, ratings)
    assert data.products["title"][0] == "Amélie (2001)"
    assert data.products["genres"][0] == "Comedy|Children"  # 1M's "Children's" normalised


def test_movielens_100k(tmp_path, products, ratings):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    genres = ("unknown|Action|Adventure|Animation|Children's|Comedy|Crime|Documentary|Drama|"
              "Fantasy|Film-Noir|Horror|Musical|Mystery|Romance|Sci-Fi|Thriller|War|Western"
              ).split("|")
    (folder / "u.genre").write_text("\n".join(f"{g}|{i}" for i, g in enumerate(genres)))
    rows = []
    for m, title, g in products.itertuples(index=False):
        flags = ["1" if name in g.split("|") or (name == "Children's" and "Children" in g)
                 else "0" for name in genres]
        if g == "(no genres listed)":
            flags[0] = "1"
        rows.append("|".join([str(m), title.strip(), "01-Jan-1995", "", "http://x"] + flags))
    (folder / "u.item").write_bytes("\n".join(rows).encode("latin-1"))
    (folder / "u.data").write_text("\n".join(
        f"{u}\t{m}\t{r:g}\t{t}" for u, m, r, t in ratings.itertuples(index=False)))
    data = kr.load_movies(folder)
    _same(data, products, ratings)
    assert data.products["genres"].tolist() == [
        "Adventure|Animation|Children", "Action|Crime|Thriller", "Action|Sci-Fi",
        "(no genres listed)"]


@pytest.mark.parametrize("names", [("movies.parquet", "ratings.parquet"),
                                   ("products.parquet", "users.parquet")])
def test_parquet_folder(tmp_path, products, ratings, names):
    products.to_parquet(tmp_path / names[0])
    ratings.to_parquet(tmp_path / names[1])
    _same(kr.load_movies(tmp_path), products, ratings)
    assert kr.load_movies(tmp_path, nrows=2).n_ratings == 2


def test_load_ratings_csv_and_parquet(tmp_path, ratings):
    ratings.to_csv(tmp_path / "r.csv", index=False)
    ratings.to_parquet(tmp_path / "r.parquet")
    for name in ("r.csv", "r.parquet"):
        loaded = kr.load_ratings(tmp_path / name)
        assert loaded["movieId"].tolist() == ratings["movieId"].tolist()


def test_write_parquet_round_trip(tmp_path, tiny):
    from kerasrec.data import write_parquet, write_workbook

    write_parquet(tiny, tmp_path / "pq")
    write_workbook(tiny, tmp_path / "book.xlsx")
    for path in (tmp_path / "pq", tmp_path / "book.xlsx"):
        back = kr.load_movies(path)
        pd.testing.assert_frame_equal(back.ratings, tiny.ratings)
        pd.testing.assert_frame_equal(back.products, tiny.products)
