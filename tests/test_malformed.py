"""The catalogue of malformed inputs: each one fails with a named error that says where
the problem is, and nothing is written.

Every data case goes through the main job twice, as its users meet it: the Python
API (``train_run``) and the command line (``kerasrec train DATA --out RUN``). Every
artifact case damages a saved model or calls it wrongly, through the API and the
``recommend``/``similar``/``export`` commands. Each test compares a snapshot of the
whole temporary folder (hidden files included) before and after: a failure may not
create, change or leave behind anything.

Inputs that look odd but are valid (extra columns, exact ids as text, one user,
non-ASCII titles, unknown ids at prediction time, ...) are in ``test_odd_but_valid``.
"""

from __future__ import annotations

import datetime
import json
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import numpy as np
import pandas as pd
import pytest

import kerasrec as kr
from kerasrec.cli import main
from kerasrec.run import RunConfig, train_run
from tests.conftest import write_xlsx


def _snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder`` with its size and modification time."""
    return {p.relative_to(folder).as_posix(): (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


# --- data cases -------------------------------------------------------------------------

def _book(folder, products, ratings, name="movies.xlsx"):
    return write_xlsx(folder / name, {"products": products, "users": ratings})


def _set(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    out = frame.astype({column: object})
    out.loc[row, column] = value
    return out


def _bad_rating(value):
    return lambda f, p, r: _book(f, p, _set(r, 2, "rating", value))


def _bad_id(column, value):
    return lambda f, p, r: _book(f, p, _set(r, 3, column, value))


def _bad_timestamp(value):
    return lambda f, p, r: _book(f, p, _set(r, 1, "timestamp", value))


def _csv_as_xlsx(f, p, r):
    r.to_csv(f / "ratings.xlsx", index=False)
    return f / "ratings.xlsx"


def _truncated_xlsx(f, p, r):
    path = _book(f, p, r)
    path.write_bytes(path.read_bytes()[:-300])
    return path


def _latest_zip(f, p, r):
    path = f / "ml-latest-small.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-latest-small/movies.csv", p.to_csv(index=False))
        zf.writestr("ml-latest-small/ratings.csv", r.to_csv(index=False))
    return path


def _truncated_zip(f, p, r):
    path = _latest_zip(f, p, r)
    path.write_bytes(path.read_bytes()[:120])
    return path


def _not_a_zip(f, p, r):
    (f / "ml.zip").write_bytes(b"PK\x03\x04 definitely not a zip")
    return f / "ml.zip"


def _csv_folder_with_bad_rating(f, p, r):
    p.to_csv(f / "movies.csv", index=False)
    r.assign(rating="x").to_csv(f / "ratings.csv", index=False)
    return f


def _csv_folder(ratings_columns=None, sep=","):
    """A MovieLens CSV folder whose ratings.csv has only ``ratings_columns`` or another
    separator (as a spreadsheet saved as CSV in many locales is)."""
    def make(f, p, r):
        p.to_csv(f / "movies.csv", index=False)
        r[ratings_columns or list(r.columns)].to_csv(f / "ratings.csv", index=False, sep=sep)
        return f
    return make


def _parquet_folder(f, p, r):
    p.to_parquet(f / "movies.parquet")
    r.drop(columns="movieId").to_parquet(f / "ratings.parquet")
    return f


def _damaged_parquet_folder(f, p, r):
    _parquet(f, p, r)
    (f / "ratings.parquet").write_bytes(b"PAR1 not really" * 20)
    return f


def _damaged_parquet_zip(f, p, r):
    with zipfile.ZipFile(f / "ml.zip", "w") as zf:
        zf.writestr("ml/movies.parquet", p.to_parquet())
        zf.writestr("ml/ratings.parquet", b"PAR1 not really" * 20)
    return f / "ml.zip"


def _ml_100k(item_lines=None, data=None):
    """A MovieLens 100K folder (u.item with 19 genre flags, u.data tab-separated), with
    the given u.item lines or u.data bytes in place of the good ones."""
    def make(f, p, r):
        flags = "|".join(["0"] * 19)
        good = [f"{m}|{t}|01-Jan-1995||http://x|{flags}" for m, t in zip(p["movieId"], p["title"])]
        lines = item_lines(good) if item_lines else good
        (f / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
        (f / "u.data").write_bytes(data if data is not None else "\n".join(
            f"{u}\t{m}\t{x:g}\t{t}" for u, m, x, t in r.itertuples(index=False)).encode())
        return f
    return make


def _duplicate_pair(f, p, r):
    extra = r.iloc[[0]].assign(rating=2.0, timestamp=999999999)
    return _book(f, p, pd.concat([r, extra], ignore_index=True))


def _duplicate_movie(f, p, r):
    return _book(f, pd.concat([p, p.iloc[[1]]], ignore_index=True), r)


def _half_layout(f, p, r):
    p.to_csv(f / "movies.csv", index=False)
    return f


def _ratings_only(f, p, r):
    r.to_csv(f / "ratings.csv", index=False)
    return f / "ratings.csv"


def _test_file_with_unknown_movie(f, p, r):
    r.iloc[:2].assign(movieId=[1, 99]).to_csv(f / "test.csv", index=False)
    return _book(f, p, r)


def _excel_serials(f, p, r):
    return _book(f, p, r.assign(timestamp=36891.5 + np.arange(len(r))))


def _formula_without_value(f, p, r):
    """A formula cell saved without its value (as openpyxl and some exporters do)."""
    import openpyxl

    path = _book(f, p, r)
    book = openpyxl.load_workbook(path)
    book["users"]["C4"] = "=A4*0"  # frame row 2, column rating
    book.save(path)
    return path


def _merged_cells(f, p, r):
    """Two rating cells merged into one: the second row's cell has no value of its own."""
    import openpyxl

    path = _book(f, p, r)
    book = openpyxl.load_workbook(path)
    book["users"].merge_cells("C4:C5")  # frame rows 2 and 3
    book.save(path)
    return path


def _parquet(f, p, r, **columns):
    p.to_parquet(f / "movies.parquet")
    r.assign(**columns).to_parquet(f / "ratings.parquet")
    return f


def _arrow_time_before_1970(f, p, r):
    when = pd.to_datetime(r["timestamp"], unit="s", utc=True).astype("datetime64[us, UTC]")
    when.iloc[2] = pd.Timestamp("1960-06-01", tz="UTC")
    return _parquet(f, p, r, timestamp=when)


def _zip_with(f, p, r, *, method=zipfile.ZIP_DEFLATED, patch=None, movies=None):
    path = f / "ml-latest-small.zip"
    with zipfile.ZipFile(path, "w", method) as zf:
        zf.writestr("ml-latest-small/movies.csv", movies or p.to_csv(index=False))
        zf.writestr("ml-latest-small/ratings.csv", r.to_csv(index=False))
    if patch:
        data = bytearray(path.read_bytes())
        for signature, offset, value in patch:  # every local and central header
            at = data.find(signature)
            while at >= 0:
                data[at + offset] = value(data[at + offset])
                at = data.find(signature, at + 4)
        path.write_bytes(bytes(data))
    return path


_LOCAL, _CENTRAL = b"PK\x03\x04", b"PK\x01\x02"


def _encrypted_zip(f, p, r):
    return _zip_with(f, p, r, patch=[(_LOCAL, 6, lambda b: b | 1), (_CENTRAL, 8, lambda b: b | 1)])


def _deflate64_zip(f, p, r):
    return _zip_with(f, p, r, patch=[(_LOCAL, 8, lambda b: 9), (_CENTRAL, 10, lambda b: 9)])


def _zip_bomb(f, p, r):
    """A 70 KB archive whose movies.csv inflates to 65 MiB (over the 64 MiB default)."""
    padding = "\n" * (65 << 20)
    return _zip_with(f, p, r, movies=p.to_csv(index=False) + padding)


def _megabyte_line(f, p, r):
    p.to_csv(f / "movies.csv", index=False)
    text = r.to_csv(index=False)
    (f / "ratings.csv").write_text(text + "x" * (3 << 20) + "\n")
    return f


@dataclass
class DataCase:
    name: str
    make: Callable[[Path, pd.DataFrame, pd.DataFrame], Path]
    words: str
    #: The workbook's sheet, the archive's member, or the file inside the folder named.
    sheet: Optional[str] = None
    column: Optional[str] = None
    rows: Sequence[int] = ()
    args: List[str] = field(default_factory=list)
    #: The file the message names, relative to the input folder (default: what make returns).
    names: Optional[str] = None


# Spreadsheet row numbers: the header is row 1, so frame row i is row i + 2.
DATA_CASES = [
    DataCase("missing file", lambda f, p, r: f / "nope.xlsx", "no such file"),
    DataCase("csv renamed to xlsx", _csv_as_xlsx, "not an Excel workbook"),
    DataCase("truncated xlsx", _truncated_xlsx, "corrupt or truncated"),
    DataCase("not a zip", _not_a_zip, "zip"),
    DataCase("truncated zip", _truncated_zip, "zip"),
    DataCase("sheet in another case",
             lambda f, p, r: write_xlsx(f / "m.xlsx", {"Products": p, "users": r}),
             "rename 'Products' to 'products'"),
    DataCase("sheet missing", lambda f, p, r: write_xlsx(f / "m.xlsx", {"products": p}),
             "no sheet 'users'"),
    DataCase("empty sheet",
             lambda f, p, r: write_xlsx(f / "m.xlsx", {"products": p, "users": pd.DataFrame()}),
             "users", sheet="users"),
    DataCase("header-only sheet", lambda f, p, r: _book(f, p, r.iloc[:0]), "no data rows",
             sheet="users"),
    DataCase("missing column", lambda f, p, r: _book(f, p, r.rename(columns={"rating": "Rating"})),
             "'Rating' -> 'rating'", sheet="users"),
    DataCase("snake_case id columns",
             lambda f, p, r: _book(f, p, r.rename(columns={"userId": "user_id",
                                                         "movieId": "Movie ID"})),
             "rename 'user_id' -> 'userId', 'Movie ID' -> 'movieId'", sheet="users"),
    DataCase("missing title column", lambda f, p, r: _book(f, p.drop(columns="title"), r),
             "missing column 'title'", sheet="products"),
    DataCase("rating not a number", _bad_rating("good"), "must be numbers", "users", "rating", [4]),
    DataCase("rating NaN", _bad_rating(float("nan")), "missing rating", "users", "rating", [4]),
    DataCase("rating 0", _bad_rating(0.0), "[0.5, 5]", "users", "rating", [4]),
    DataCase("rating 7", _bad_rating(7.0), "[0.5, 5]", "users", "rating", [4]),
    DataCase("rating negative", _bad_rating(-1.0), "[0.5, 5]", "users", "rating", [4]),
    DataCase("id 12a", _bad_id("movieId", "12a"), "whole numbers", "users", "movieId", [5]),
    DataCase("id 2.5", _bad_id("movieId", 2.5), "whole numbers", "users", "movieId", [5]),
    DataCase("user id missing", _bad_id("userId", None), "userId", "users", "userId", [5]),
    DataCase("movie id missing in products",
             lambda f, p, r: _book(f, _set(p, 1, "movieId", None), r),
             "movieId", "products", "movieId", [3]),
    DataCase("duplicate (userId, movieId)", _duplicate_pair, "duplicates='last'", "users",
             rows=[2, 7]),
    DataCase("duplicate movie in products", _duplicate_movie, "movieId", "products", "movieId",
             [3, 6]),
    DataCase("rating of a movie absent from products",
             lambda f, p, r: _book(f, p, _set(r, 4, "movieId", 99)), "no row in 'products'",
             "users", "movieId", [6]),
    DataCase("null title", lambda f, p, r: _book(f, _set(p, 2, "title", None), r), "title",
             "products", "title", [4]),
    DataCase("timestamp as words", _bad_timestamp("yesterday"), "unix seconds", "users",
             "timestamp", [3]),
    DataCase("timestamp negative", _bad_timestamp(-5), "negative", "users", "timestamp", [3]),
    DataCase("timestamp in milliseconds", _bad_timestamp(964982703000), "milliseconds", "users",
             "timestamp", [3]),
    DataCase("timestamp in the future", _bad_timestamp(int(time.time()) + 10 * 86400), "future",
             "users", "timestamp", [3]),
    DataCase("date cell before 1970", _bad_timestamp(datetime.datetime(1965, 3, 1)),
             "before 1970", "users", "timestamp", [3]),
    DataCase("date cell in the future", _bad_timestamp(datetime.datetime(2099, 1, 1)),
             "future", "users", "timestamp", [3]),
    DataCase("date cell beyond pandas' years", _bad_timestamp(datetime.datetime(9999, 1, 1)),
             "future", "users", "timestamp", [3]),
    DataCase("Excel day serials as timestamps", _excel_serials, "Excel day serials", "users",
             "timestamp", [2, 3, 4]),
    DataCase("true as a rating", _bad_rating(True), "true/false", "users", "rating", [4]),
    DataCase("true as a timestamp", _bad_timestamp(True), "true/false", "users", "timestamp",
             [3]),
    DataCase("false as an id", _bad_id("userId", False), "true/false", "users", "userId", [5]),
    DataCase("formula cell without a value", _formula_without_value, "missing rating", "users",
             "rating", [4]),
    DataCase("merged cells", _merged_cells, "missing rating", "users", "rating", [5]),
    DataCase("Parquet timestamp before 1970", _arrow_time_before_1970, "before 1970",
             "ratings.parquet", "timestamp", [3]),
    DataCase("nested Parquet column",
             lambda f, p, r: _parquet(f, p, r, rating=[[v] for v in r["rating"]]),
             "nested", "ratings.parquet", "rating", [1, 2, 3]),
    DataCase("encrypted zip", _encrypted_zip, "encrypted", "ml-latest-small/movies.csv"),
    DataCase("Deflate64 zip", _deflate64_zip, "deflate64", "ml-latest-small/movies.csv"),
    DataCase("zip member inflating past the limit", _zip_bomb, "over the limit of 64 MiB",
             "ml-latest-small/movies.csv"),
    DataCase("a ratings line of a megabyte", _megabyte_line, "longer than 1 MiB",
             "ratings.csv"),
    DataCase("folder with half a layout", _half_layout, "has 'movies.csv' but not 'ratings.csv'"),
    DataCase("folder without data", lambda f, p, r: f, "holds no MovieLens data"),
    DataCase("bad value in a CSV folder", _csv_folder_with_bad_rating,
             "must be numbers", "ratings.csv", "rating", [2, 3]),
    DataCase("ratings file alone", _ratings_only, "load_ratings"),
    DataCase("damaged Parquet in a folder", _damaged_parquet_folder, "cannot be read as Parquet",
             "ratings.parquet"),
    DataCase("damaged Parquet in a zip", _damaged_parquet_zip, "cannot be read as Parquet",
             "ml/ratings.parquet"),
    DataCase("100K u.item lines cut short or with a genre flag of 7",
             _ml_100k(lambda good: [good[0], good[1][:12], good[2].replace("|0|", "|7|", 1),
                                    *good[3:]]),
             "19 genre flags (0 or 1)", "u.item", rows=[2, 3]),
    DataCase("100K u.data that is not text", _ml_100k(data=b"\x00\xff\xfe\x01\n\x03,,\"\n"),
             "whole numbers", "u.data", "userId", [1, 2]),
    DataCase("empty 100K u.data", _ml_100k(data=b""), "the file holds no data rows", "u.data"),
    DataCase("parquet without movieId", _parquet_folder, "missing column 'movieId'",
             "ratings.parquet"),
    DataCase("header below a title row",
             lambda f, p, r: _book(f, p, pd.concat([pd.DataFrame([r.columns], columns=r.columns),
                                                    r.astype(object)]).set_axis(
                 ["My ratings", "", "", ""], axis=1)),
             "column names are in row 2: delete the rows above them", "users"),
    DataCase("csv without timestamps", _csv_folder(["userId", "movieId", "rating"]),
             "missing column 'timestamp'", "ratings.csv"),
    DataCase("csv separated by semicolons", _csv_folder(sep=";"),
             "separated by ';', not commas", "ratings.csv"),
    DataCase("csv separated by tabs", _csv_folder(sep="\t"),
             "separated by '\\t', not commas", "ratings.csv"),
    DataCase("single rating", lambda f, p, r: _book(f, p, r.iloc[:1]),
             "cannot split fewer than two ratings"),
    DataCase("test file with a movie not in the catalog", _test_file_with_unknown_movie,
             "not in the catalog", column="movieId", args=["--test", "{in}/test.csv"],
             names="test.csv"),
]


def _assert_located(err: kr.DataError, file: Path, case: DataCase) -> None:
    message = str(err)
    if case.sheet and file.is_dir():  # a folder's files are named as files of their own
        file = file / case.sheet
        assert err.file == str(file) and err.sheet is None, message
    elif case.sheet:  # a workbook's sheet, an archive's member
        kind = "member" if file.suffix == ".zip" else "sheet"
        assert f"{kind} '{case.sheet}'" in message and err.sheet == case.sheet, message
    assert f"file '{file}'" in message, message
    assert case.words in message, message
    if case.column:
        assert f"column '{case.column}'" in message and err.column == case.column, message
    if case.rows:
        assert err.rows[: len(case.rows)] == list(case.rows), message
        listed = ("row " if len(case.rows) == 1 else "rows ") + ", ".join(map(str, case.rows))
        assert listed in message, message


@pytest.mark.parametrize("case", DATA_CASES, ids=lambda c: c.name)
def test_bad_data_is_located_and_nothing_is_written(case, tmp_path, products, ratings, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    data = case.make(folder, products, ratings)
    args = [a.replace("{in}", str(folder)) for a in case.args]
    named = folder / case.names if case.names else data
    out = tmp_path / "runs" / "latest"
    before = _snapshot(tmp_path)

    test_file = args[args.index("--test") + 1] if "--test" in args else None
    with pytest.raises(kr.DataError) as info:
        train_run(RunConfig(data=str(data), test_file=test_file, epochs=1), out)
    _assert_located(info.value, named, case)
    assert _snapshot(tmp_path) == before

    assert main(["train", str(data), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == f"kerasrec train: error: {info.value}"
    assert _snapshot(tmp_path) == before


def test_the_catalogue_covers_at_least_thirty_cases():
    names = [c.name for c in DATA_CASES] + [c.name for c in ARTIFACT_CASES]
    assert len(set(names)) == len(names) >= 30
    guide = (Path(__file__).resolve().parents[1] / "docs" / "guide.md").read_text()
    assert f"catalogue of {len(names)} malformed inputs" in guide, "the guide's count is stale"


# --- artifact and call cases ------------------------------------------------------------

@pytest.fixture(scope="module")
def saved(hybrid, tmp_path_factory):
    """The session hybrid saved once; cases damage copies of it."""
    path = tmp_path_factory.mktemp("saved") / "model"
    hybrid.save(path)
    return path


def _edit_json(name, edit):
    def damage(model: Path) -> None:
        state = json.loads((model / name).read_text())
        edit(state)
        (model / name).write_text(json.dumps(state))
    return damage


def _truncate(name):
    def damage(model: Path) -> None:
        data = (model / name).read_bytes()
        (model / name).write_bytes(data[: len(data) // 3])
    return damage


def _existing_version(model: Path) -> None:
    (model.parent / "served" / "1").mkdir(parents=True)


@dataclass
class ArtifactCase:
    name: str
    error: type
    words: str
    argv: List[str]
    damage: Callable[[Path], None] = lambda model: None
    #: The file the message must name, relative to the copied model folder's parent.
    names: str = "model"


ARTIFACT_CASES = [
    ArtifactCase("pipeline JSON of another version", kr.ArtifactError, "changed or damaged",
                 ["recommend", "{model}", "--user", "1"],
                 _edit_json("pipeline.json", lambda s: s.update(format_version=99)),
                 "model/pipeline.json"),
    ArtifactCase("pipeline JSON edited by hand", kr.ArtifactError, "changed or damaged",
                 ["recommend", "{model}", "--user", "1"],
                 _edit_json("pipeline.json", lambda s: s.update(users=s["users"][::-1])),
                 "model/pipeline.json"),
    ArtifactCase("model file missing", kr.ArtifactError, "model.keras' is missing",
                 ["recommend", "{model}", "--user", "1"],
                 lambda m: (m / "model.keras").unlink()),
    ArtifactCase("model file truncated", kr.ArtifactError, "damaged",
                 ["recommend", "{model}", "--user", "1"], _truncate("model.keras")),
    ArtifactCase("catalog file missing", kr.ArtifactError, "catalog.parquet' is missing",
                 ["similar", "{model}", "--movie", "1"],
                 lambda m: (m / "catalog.parquet").unlink()),
    ArtifactCase("recommender.json of another format", kr.ArtifactError, "version 7",
                 ["recommend", "{model}", "--user", "1"],
                 _edit_json("recommender.json", lambda s: s.update(format_version=7)),
                 "model/recommender.json"),
    ArtifactCase("recommender.json missing a key", kr.ArtifactError, "settings do not fit",
                 ["recommend", "{model}", "--user", "1"],
                 _edit_json("recommender.json", lambda s: s.pop("model")),
                 "model/recommender.json"),
    ArtifactCase("recommender.json history that is not a table", kr.ArtifactError, "'history'",
                 ["recommend", "{model}", "--user", "1"],
                 _edit_json("recommender.json", lambda s: s.update(history="x")),
                 "model/recommender.json"),
    ArtifactCase("recommender.json that is not an object", kr.ArtifactError, "expected",
                 ["recommend", "{model}", "--user", "1"],
                 lambda m: (m / "recommender.json").write_text("[1, 2, 3]"),
                 "model/recommender.json"),
    ArtifactCase("seen.parquet replaced by another table", kr.ArtifactError, "changed or damaged",
                 ["recommend", "{model}", "--user", "1"],
                 lambda m: (m / "seen.parquet").write_bytes((m / "catalog.parquet").read_bytes()),
                 "model/seen.parquet"),
    ArtifactCase("recommend k = 0", kr.ArgumentError, "must be a positive",
                 ["recommend", "{model}", "--user", "1", "--k", "0"], names=""),
    ArtifactCase("recommend k < 0", kr.ArgumentError, "must be a positive",
                 ["recommend", "{model}", "--user", "1", "--k", "-3"], names=""),
    ArtifactCase("similar k = 0", kr.ArgumentError, "must be a positive",
                 ["similar", "{model}", "--movie", "1", "--k", "0"], names=""),
    ArtifactCase("similar to an unknown movie", kr.UnknownMovieError, "not in the catalog",
                 ["similar", "{model}", "--movie", "987654"], names=""),
    ArtifactCase("export over an existing version", kr.ArtifactError, "versions are immutable",
                 ["export", "{model}", "--out", "{tmp}/served", "--version", "1"],
                 _existing_version, "served/1"),
]


def _api_call(argv: List[str]):
    """What the command does, through the Python API."""
    from kerasrec.export import export_saved_model
    from kerasrec.run import load_run

    command, model, *rest = argv
    options = dict(zip(rest[::2], rest[1::2]))
    rec = load_run(model).recommender
    if command == "recommend":
        return rec.recommend(int(options["--user"]), k=int(options.get("--k", 10)))
    if command == "similar":
        return rec.similar_items(int(options["--movie"]), k=int(options.get("--k", 10)))
    return export_saved_model(rec, options["--out"], version=int(options["--version"]))


@pytest.mark.parametrize("case", ARTIFACT_CASES, ids=lambda c: c.name)
def test_bad_artifacts_and_calls_are_named_and_nothing_is_written(case, saved, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(saved, model)
    case.damage(model)
    argv = [a.replace("{model}", str(model)).replace("{tmp}", str(tmp_path)) for a in case.argv]
    before = _snapshot(tmp_path)

    with pytest.raises(case.error) as info:
        _api_call(argv)
    message = str(info.value)
    assert case.words in message
    if case.names:
        assert str(tmp_path / case.names) in message, message
    assert _snapshot(tmp_path) == before

    try:
        status = main(argv)
    except SystemExit as exit:  # argparse refuses some arguments itself
        status = exit.code
    assert status == 2
    # Progress lines may come first; the error is one line of its own.
    err = [line for line in capsys.readouterr().err.splitlines() if " error: " in line]
    assert len(err) == 1 and case.words in err[0], err
    assert _snapshot(tmp_path) == before


# --- odd but valid ----------------------------------------------------------------------

def test_odd_but_valid(tmp_path, capsys):
    """One user or one movie, a user with a single rating, non-ASCII and very long
    titles, titles without a year, k beyond the catalog, unknown ids: all train,
    predict and recommend, the unknown ids by the documented cold-start rules."""
    long_title = "A" * 400 + " (1999)"
    products = pd.DataFrame({
        "movieId": [1, 2, 3, 4],
        "title": ["Amélie (2001)", "千と千尋の神隠し (2001)", long_title, "No Year At All"],
        "genres": ["Comedy|Romance", "Animation", "Drama", ""]})
    rng = np.random.default_rng(0)
    ratings = pd.DataFrame({"userId": np.repeat([1, 2, 3, 4, 5], 4)[:-3],
                            "movieId": np.tile([1, 2, 3, 4], 5)[:-3]})
    ratings = ratings.assign(rating=rng.integers(1, 11, len(ratings)) / 2,
                             timestamp=1_000_000_000 + 3600 * np.arange(len(ratings)))
    assert (ratings["userId"] == 5).sum() == 1  # a user with a single rating
    cases = {"all": ratings, "one user": ratings[ratings.userId == 1],
             "one movie": ratings[ratings.movieId == 1]}
    for name, frame in cases.items():
        data = kr.MovieData.from_frames(products, frame.reset_index(drop=True))
        path = kr.data.write_workbook(data, tmp_path / f"{name}.xlsx")
        out = tmp_path / name
        assert main(["train", str(path), "--out", str(out), "--epochs", "2", "--quiet"]) == 0, name
        rec = kr.Recommender.load(out / "model")
        assert rec.catalog_.movies.loc[3, "title"] == long_title
        assert rec.catalog_.movies.loc[2, "title"] == "千と千尋の神隠し (2001)"
        assert np.isnan(rec.catalog_.movies.loc[4, "year"])
        top = rec.recommend(1, k=50, exclude_seen=False, min_ratings=0)
        assert sorted(top["movieId"]) == [1, 2, 3, 4]  # k beyond the catalog: every movie
        cold = rec.predict(pd.DataFrame({"userId": [999, 1], "movieId": [1, 555]}))
        assert np.all((cold >= 0.5) & (cold <= 5.0))
        assert not rec.explain(999, 555).attrs["known_user"]
    capsys.readouterr()
