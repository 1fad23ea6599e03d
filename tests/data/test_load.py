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


def test_another_rating_scale_is_declared_and_carried(tmp_path, products, ratings):
    products.to_csv(tmp_path / "movies.csv", index=False)
    ratings.assign(rating=ratings["rating"] * 2).to_csv(tmp_path / "ratings.csv", index=False)
    with pytest.raises(kr.DataError, match=r"\[0.5, 5\] stars.*--rating-range LOW,HIGH"):
        kr.load_movies(tmp_path)
    data = kr.load_movies(tmp_path, rating_range=(1, 10))
    assert data.rating_range == (1.0, 10.0) and data.ratings["rating"].max() == 10.0
    assert data.with_ratings(data.ratings.head(2)).rating_range == (1.0, 10.0)
    assert data.describe()["rating_range"] == [1.0, 10.0]
    assert kr.load_movies(tmp_path, rating_range=(0, 10)).rating_range == (0.0, 10.0)


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


def test_writers_take_movie_data_and_write_nothing_else(tmp_path, tiny):
    """A ratings frame given to write_workbook raised openpyxl's "At least one sheet
    must be visible"."""
    from kerasrec.data import write_parquet, write_workbook

    for writer, target in ((write_workbook, tmp_path / "book.xlsx"),
                           (write_parquet, tmp_path / "pq")):
        with pytest.raises(kr.ArgumentError, match=f"{writer.__name__}'s data must be a "
                                                   r"kerasrec.MovieData .* got DataFrame"):
            writer(tiny.ratings, target)
    assert list(tmp_path.iterdir()) == []


# --- large tables: read, typed and checked a chunk at a time ---------------------------------

@pytest.fixture
def many_ratings() -> tuple:
    """5,000 distinct ratings of 40 movies, and their products."""
    rng = np.random.default_rng(0)
    pairs = rng.choice(200 * 40, size=5_000, replace=False)
    ratings = pd.DataFrame({"userId": pairs // 40 + 1, "movieId": pairs % 40 + 1,
                            "rating": rng.integers(1, 11, 5_000) / 2.0,
                            "timestamp": rng.integers(9e8, 1.5e9, 5_000)})
    products = pd.DataFrame({"movieId": np.arange(1, 41), "title": [f"M{i} (1999)" for i in
                                                                    range(1, 41)],
                             "genres": "Drama"})
    return products, ratings


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 700 rows (Parquet) and ~1,700 rows (CSV blocks), so 5,000 rows make several."""
    from kerasrec.data import load

    monkeypatch.setattr(load, "CHUNK_ROWS", 700)
    monkeypatch.setattr(load, "CSV_BLOCK_BYTES", 48_000)
    whole = []
    monkeypatch.setattr(load._Table, "validated", _spy(load._Table.validated, whole))
    return whole


def _spy(validated, slow_reads):
    """Wrap _Table.validated to record whether a slow path (any cell text) ran."""
    def wrapper(self, **options):
        for name in ("read", "loose_chunks"):
            original = getattr(self, name)
            if original is None:
                continue

            def counted(original=original):
                slow_reads.append(self.source.file)
                return original()
            object.__setattr__(self, name, counted)
        return validated(self, **options)
    return wrapper


def _layouts(tmp_path, products, ratings):
    csv = tmp_path / "csv"
    csv.mkdir()
    products.to_csv(csv / "movies.csv", index=False)
    ratings.to_csv(csv / "ratings.csv", index=False)
    pq = tmp_path / "pq"
    pq.mkdir()
    products.to_parquet(pq / "movies.parquet")
    ratings.to_parquet(pq / "ratings.parquet", row_group_size=1_000)
    archive = tmp_path / "ml.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(csv / "movies.csv", "ml/movies.csv")
        z.write(csv / "ratings.csv", "ml/ratings.csv")
    return {"csv": csv, "parquet": pq, "zip": archive}


def test_chunked_reading_gives_the_whole_table_in_lean_dtypes(tmp_path, many_ratings,
                                                              small_chunks):
    products, ratings = many_ratings
    for name, path in _layouts(tmp_path, products, ratings).items():
        data = kr.load_movies(path)
        _same(data, products, ratings)
        assert dict(data.ratings.dtypes.astype(str)) == {
            "userId": "int32", "movieId": "int32", "rating": "float32", "timestamp": "int64"}
        assert kr.load_movies(path, nrows=1_234).ratings.equals(data.ratings.iloc[:1_234])
    for path in (tmp_path / "csv" / "ratings.csv", tmp_path / "pq" / "ratings.parquet"):
        assert kr.load_ratings(path).equals(data.ratings)
    assert small_chunks == []  # no whole-table read: every chunk passed on the fast path


def test_chunks_really_are_chunks(tmp_path, many_ratings, small_chunks):
    from kerasrec.data import load

    products, ratings = many_ratings
    paths = _layouts(tmp_path, products, ratings)
    sizes = {}
    for name, chunks in (("parquet", load._parquet_chunks), ("csv", load._csv_chunks)):
        file = paths[name] / f"ratings.{name}"
        sizes[name] = [len(c) for c in chunks(file, None)]
        assert sum(sizes[name]) == 5_000
    assert max(sizes["parquet"]) == 700 and len(sizes["csv"]) >= 3


@pytest.mark.parametrize("layout", ["csv", "parquet", "zip"])
def test_an_error_deep_in_a_large_file_names_every_row_exactly(tmp_path, many_ratings,
                                                               small_chunks, layout):
    products, ratings = many_ratings
    bad = ratings.copy()
    bad.loc[[3_500, 3_501, 4_700], "rating"] = [7.0, 9.0, 7.0]  # chunks 6 and 7 of 700
    path = _layouts(tmp_path, products, bad)[layout]
    with pytest.raises(kr.DataError) as caught:
        kr.load_movies(path)
    first = 1 if layout == "parquet" else 2  # a CSV header is file row 1
    assert caught.value.column == "rating"
    assert caught.value.rows == [3_500 + first, 3_501 + first, 4_700 + first]
    assert caught.value.n_rows == 3
    assert "ratings must lie in [0.5, 5] stars, found 7.0, 9.0 (rows" in str(caught.value)


def test_values_pyarrow_cannot_type_take_the_exact_path(tmp_path, many_ratings, small_chunks):
    """Fractional ids in a late CSV block: named by row, as on the whole-table path."""
    products, ratings = many_ratings
    text = ratings.astype({"userId": object})
    text.loc[4_321, "userId"] = "12.5"
    text.to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(kr.DataError, match=r"column 'userId': ids must be whole numbers, "
                       r"found 12.5 \(row 4323\)"):
        kr.load_ratings(tmp_path / "r.csv")
    assert small_chunks == [str(tmp_path / "r.csv")]


def test_duplicates_across_chunks_are_found(tmp_path, many_ratings, small_chunks):
    products, ratings = many_ratings
    twice = pd.concat([ratings, ratings.iloc[[10]]], ignore_index=True)
    twice.to_parquet(tmp_path / "r.parquet")
    user, movie = ratings.iloc[10][["userId", "movieId"]].astype(int)
    with pytest.raises(kr.DataError, match=rf"rated more than once, e\.g\. user {user} / movie "
                       rf"{movie}\b.*\(rows 11, 5001\)"):
        kr.load_ratings(tmp_path / "r.parquet")
    kept = kr.load_ratings(tmp_path / "r.parquet", duplicates="last")
    assert len(kept) == 5_000


# --- arguments are checked before any file is read ---------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"nrows": -1}, "nrows must be a positive whole number"),
    ({"nrows": 0}, "nrows must be a positive whole number"),
    ({"nrows": 2.5}, "nrows must be a positive whole number"),
    ({"rating_range": (5.0, 0.5)}, "finite low < high"),
    ({"rating_range": (0.5, float("nan"))}, "finite low < high"),
    ({"rating_range": 5}, "pair of numbers"),
    ({"rating_range": ("0.5", "5")}, "finite low < high"),
    ({"nrows": np.bool_(True)}, "nrows must be a positive whole number"),
    ({"duplicates": "first"}, "duplicates must be one of"),
    ({"timestamp_unit": "us"}, "timestamp_unit must be one of"),
    ({"limits": 1 << 20}, "ReadLimits"),
])
@pytest.mark.parametrize("loader", [kr.load_movies, kr.load_ratings])
def test_bad_arguments_are_blamed_on_the_argument(tmp_path, kwargs, words, loader):
    # The path does not exist: the argument is refused before the file is looked at.
    with pytest.raises(kr.ArgumentError, match=words):
        loader(tmp_path / "nowhere.xlsx", **kwargs)


@pytest.mark.parametrize("path", [5, None, b"data.xlsx", ["data.xlsx"]])
@pytest.mark.parametrize("loader", [kr.load_movies, kr.load_ratings])
def test_a_path_that_is_not_a_path_is_named(loader, path):
    with pytest.raises(kr.ArgumentError, match=r"^path must be a file or folder path \(str or "
                                               r"pathlib.Path\), got "):
        loader(path)


def test_read_limits_are_checked_and_configurable(tmp_path, products, ratings):
    from kerasrec.data import ReadLimits

    with pytest.raises(kr.ArgumentError, match="ratings_bytes must be a positive whole number "
                                               "of bytes, got 0"):
        ReadLimits(ratings_bytes=0)
    archive = tmp_path / "ml.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml/movies.csv", products.to_csv(index=False))
        zf.writestr("ml/ratings.csv", ratings.to_csv(index=False))
    size = zipfile.ZipFile(archive).getinfo("ml/ratings.csv").file_size
    with pytest.raises(kr.DataError, match=r"over the limit.*ReadLimits") as caught:
        kr.load_movies(archive, limits=ReadLimits(ratings_bytes=size - 1))
    assert caught.value.sheet == "ml/ratings.csv" and caught.value.file == str(archive)
    _same(kr.load_movies(archive, limits=ReadLimits(ratings_bytes=size)), products, ratings)
    ratings.to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(kr.DataError, match="over the limit"):
        kr.load_ratings(tmp_path / "r.csv", limits=ReadLimits(ratings_bytes=10))


def test_a_huge_damaged_ratings_file_is_checked_a_chunk_at_a_time(tmp_path, products,
                                                                   small_chunks):
    """Garbage after a valid start: the slow path too reads chunk by chunk (bounded
    memory), and the error still counts every bad row of the file."""
    from kerasrec.data import load

    products.to_csv(tmp_path / "movies.csv", index=False)
    good = "userId,movieId,rating,timestamp\n" + "1,1,4.0,1000000000\n"
    (tmp_path / "ratings.csv").write_text(good + "x,y,z,w\n" * 20_000)
    read = []
    original = load._pandas_csv_chunks

    def counting(*args, **kwargs):
        for chunk in original(*args, **kwargs):
            read.append(len(chunk))
            yield chunk
    layout = load._LAYOUTS[0]
    patched = load._Layout(layout.name, layout.products, layout.ratings, layout.read_products,
                           layout.read_ratings, layout.first_row, layout.ratings_chunks,
                           load._member_chunks(counting))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(load, "_LAYOUTS", (patched, *load._LAYOUTS[1:]))
        with pytest.raises(kr.DataError) as caught:
            kr.load_movies(tmp_path)
    assert caught.value.column == "userId" and caught.value.rows[:2] == [3, 4]
    assert caught.value.n_rows == 20_000
    assert sum(read) == 20_001 and max(read) == 700


def test_counting_bad_rows_stops_in_a_damaged_file(tmp_path, products, small_chunks,
                                                   monkeypatch):
    from kerasrec.data import load

    monkeypatch.setattr(load, "STOP_COUNTING", 1_000)
    products.to_csv(tmp_path / "movies.csv", index=False)
    good = "userId,movieId,rating,timestamp\n" + "1,1,4.0,1000000000\n"
    (tmp_path / "ratings.csv").write_text(good + "x,y,z,w\n" * 20_000)
    with pytest.raises(kr.DataError, match=r"counted up to row 1,401; the rest of the file "
                       r"was not read") as caught:
        kr.load_movies(tmp_path)
    assert caught.value.column == "userId" and caught.value.n_rows == 1_399


def _layout_files(layout: str, products: pd.DataFrame, ratings: pd.DataFrame) -> dict:
    """``{file name: bytes}`` of one MovieLens layout holding ``products`` and ``ratings``."""
    if layout == "latest":
        return {"movies.csv": products.to_csv(index=False).encode(),
                "ratings.csv": ratings.to_csv(index=False).encode()}
    if layout == "1m":
        return {"movies.dat": "\n".join(f"{m}::{t}::{g}" for m, t, g in
                                        products.itertuples(index=False)).encode("latin-1"),
                "ratings.dat": "\n".join(f"{u}::{m}::{r:g}::{t}" for u, m, r, t in
                                         ratings.itertuples(index=False)).encode()}
    if layout == "100k":
        flags = "|".join(["0"] * 19)
        return {"u.item": "\n".join(f"{m}|{t.strip()}|01-Jan-1995||http://x|{flags}" for m, t in
                                    zip(products["movieId"], products["title"])).encode(),
                "u.data": "\n".join(f"{u}\t{m}\t{r:g}\t{t}" for u, m, r, t in
                                    ratings.itertuples(index=False)).encode()}
    return {"movies.parquet": products.to_parquet(), "ratings.parquet": ratings.to_parquet()}


@pytest.mark.filterwarnings("ignore::kerasrec.errors.DataWarning")  # binary read as cp1252
@pytest.mark.parametrize("layout", ["latest", "1m", "100k", "parquet"])
@pytest.mark.parametrize("damage", [b"", b"\x00\xff\xfe\x01 binary \x02\n\x03,,\"\n",
                                    b"a;b\n1;2\n", b"1::2\n3\n", b"1|x|y\n1\t2\n"],
                         ids=["empty", "binary", "semicolons", "colons", "bars-and-tabs"])
def test_a_damaged_file_of_any_layout_is_a_data_error_naming_it(tmp_path, products, ratings,
                                                                layout, damage):
    """Whichever file of whichever layout is damaged, in a folder or a zip, loading
    raises a DataError naming that file (a folder's file by its path, an archive's by
    its member name): never pandas', pyarrow's or NumPy's own error."""
    good = _layout_files(layout, products, ratings)
    for name in good:
        files = {**good, name: damage}
        folder = _write(tmp_path / f"{layout}-{name}", files)
        archive = folder.with_suffix(".zip")
        with zipfile.ZipFile(archive, "w") as zf:
            for file, data in files.items():
                zf.writestr(f"ml/{file}", data)
        with pytest.raises(kr.DataError) as in_folder:
            kr.load_movies(folder)
        assert in_folder.value.file == str(folder / name), str(in_folder.value)
        with pytest.raises(kr.DataError) as in_zip:
            kr.load_movies(archive)
        assert (in_zip.value.file, in_zip.value.sheet) == (str(archive), f"ml/{name}")
        assert f"member 'ml/{name}'" in str(in_zip.value)
    _same(kr.load_movies(_write(tmp_path / f"{layout}-good", good)), products, ratings)


def _write(folder, files: dict):
    folder.mkdir()
    for file, data in files.items():
        (folder / file).write_bytes(data)
    return folder
