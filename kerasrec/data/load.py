"""Readers for the MovieLens layouts kerasrec accepts.

* ``data_movies.xlsx``-style workbooks with sheets ``products`` and ``users``;
* MovieLens folders or ``.zip`` archives: latest/25M/32M (``movies.csv`` +
  ``ratings.csv``), 1M/10M (``movies.dat`` + ``ratings.dat``, ``::``-separated),
  100K (``u.item`` + ``u.data``);
* Parquet: a folder with ``movies.parquet`` + ``ratings.parquet`` (or
  ``products.parquet`` + ``users.parquet``).
"""

from __future__ import annotations

import importlib.util
import io
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Iterator, List, Optional, Tuple, Union

import pandas as pd

from kerasrec._io import as_path
from kerasrec.data.movie_data import MovieData
from kerasrec.data.validate import (PRODUCT_COLUMNS, RATING_COLUMNS, Source,
                                    check_read_options, check_references,
                                    resolve_duplicates, typed_ratings, validate_products)
from kerasrec.errors import MAX_LISTED, ArgumentError, DataError, DataWarning, whole_number
from kerasrec.schema import RATING_RANGE, decode_genres

PathLike = Union[str, "os.PathLike[str]"]
PRODUCTS_SHEET, RATINGS_SHEET = "products", "users"
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
# The 100K and 1M releases spell one genre differently from the later ones.
_GENRE_ALIASES = {"Children's": "Children"}
#: Large ratings tables (CSV, Parquet) are read, checked and typed this many rows at a time.
CHUNK_ROWS = 1 << 20
#: CSV is read in blocks of this many bytes (about 1.3M MovieLens ratings rows).
CSV_BLOCK_BYTES = 32 << 20
#: Compression methods Python's zipfile reads (stored, deflate, bzip2, lzma).
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@dataclass(frozen=True)
class ReadLimits:
    """The largest files kerasrec reads from a MovieLens folder or archive.

    A zip of one megabyte can inflate to gigabytes; sizes are checked (for archives,
    the uncompressed size) before anything is read, and reading stops at them. The
    defaults are generous: MovieLens 32M's ``movies.csv`` is 4 MB, its ``ratings.csv``
    0.9 GB.

    Attributes:
        products_bytes: Largest movies file (``movies.csv``, ``u.item``, ...).
        ratings_bytes: Largest ratings file.

    Example:
        >>> load_movies("ml-huge.zip", limits=ReadLimits(ratings_bytes=32 << 30))  # doctest: +SKIP
    """

    products_bytes: int = 64 << 20
    ratings_bytes: int = 8 << 30

    def __post_init__(self) -> None:
        for name in ("products_bytes", "ratings_bytes"):
            value = getattr(self, name)
            whole_number(value, f"ReadLimits.{name}", unit="bytes")


_GENRES_100K = ("unknown|Action|Adventure|Animation|Children's|Comedy|Crime|Documentary|Drama|"
                "Fantasy|Film-Noir|Horror|Musical|Mystery|Romance|Sci-Fi|Thriller|War|Western"
                ).split("|")


def load_movies(path: PathLike, nrows: Optional[int] = None, *,
                rating_range: Tuple[float, float] = RATING_RANGE, duplicates: str = "error",
                timestamp_unit: str = "s", limits: ReadLimits = ReadLimits()) -> MovieData:
    """Load and validate MovieLens-style data from a workbook, folder, zip or Parquet folder.

    Args:
        path: A ``.xlsx`` workbook with sheets ``products`` and ``users``, or a MovieLens
            folder / ``.zip`` (latest, 25M, 32M, 1M, 10M or 100K layout), or a folder
            with ``movies.parquet`` and ``ratings.parquet``.
        nrows: Read only the first ``nrows`` ratings (all products are read).
        rating_range: The rating scale, ``(low, high)`` in stars, inclusive: MovieLens'
            half stars by default; e.g. ``(1, 10)`` for ratings out of ten. Ratings
            outside it are refused; the data carries it
            (:attr:`MovieData.rating_range`), so models fit to it and clip to it.
        duplicates: ``"error"`` (default) rejects repeated (userId, movieId) pairs;
            ``"last"`` keeps the latest by timestamp; ``"mean"`` averages them.
        timestamp_unit: ``"s"`` (unix seconds, as MovieLens), ``"ms"``, or ``"excel"``
            (day serials as Excel stores dates, read as UTC). Date cells (Excel dates,
            Parquet timestamps) are read as dates whatever the unit; naive ones as UTC.
        limits: Largest files read from a folder or archive (see :class:`ReadLimits`).

    Returns:
        The validated :class:`MovieData`.

    Raises:
        ArgumentError: If an argument is invalid (checked before any file is read).
        DataError: If the path is missing or unreadable, a sheet, file or column is
            missing, a file exceeds ``limits``, or a value violates the schema (the
            message names the file, sheet, column and rows).

    Example:
        >>> data = load_movies("data/sample_movies.xlsx")
        >>> data.ratings.columns.tolist()
        ['userId', 'movieId', 'rating', 'timestamp']
    """
    check_read_options(nrows, rating_range, duplicates, timestamp_unit)
    _check_limits(limits)
    path = as_path(path)
    options = dict(rating_range=rating_range, duplicates=duplicates,
                   timestamp_unit=timestamp_unit)
    if not path.exists():
        raise DataError("no such file or folder", file=str(path))
    if path.is_dir():
        products, ratings = _read_bundle(_FolderFiles(path), nrows, limits)
    elif path.suffix.lower() in EXCEL_SUFFIXES:
        products, (frame, source) = _read_workbook(path, nrows)
        ratings = _Table(source, lambda: frame)
    elif path.suffix.lower() == ".zip":
        products, ratings = _read_bundle(_ZipFiles(path), nrows, limits)
    elif path.suffix.lower() in (".csv", ".parquet", ".dat", ".data"):
        raise DataError("holds one table, but load_movies needs products and ratings",
                        file=str(path), hint="pass the folder holding both files, or read a "
                        "ratings file alone with kerasrec.load_ratings")
    else:
        raise DataError(f"unsupported file type '{path.suffix}'", file=str(path),
                        hint="use an .xlsx workbook, a MovieLens folder or .zip, or a folder "
                        "of Parquet files")
    product_frame, product_source = products
    clean_products = validate_products(product_frame, product_source)
    clean_ratings = ratings.validated(**options)
    check_references(clean_ratings, clean_products, ratings.source, product_source)
    return MovieData(clean_products, clean_ratings, str(path), rating_range)


def load_ratings(path: PathLike, nrows: Optional[int] = None, *,
                 rating_range: Tuple[float, float] = RATING_RANGE, duplicates: str = "error",
                 timestamp_unit: str = "s", limits: ReadLimits = ReadLimits()) -> pd.DataFrame:
    """Load and validate a ratings table alone (CSV, Parquet, or a workbook's ``users`` sheet).

    Useful for fixed train/test split files. Arguments as in :func:`load_movies`.

    Returns:
        A frame with columns userId, movieId, rating, timestamp.

    Raises:
        ArgumentError: If an argument is invalid (checked before the file is read).
        DataError: If the file is missing, unreadable, too large or violates the schema.
    """
    check_read_options(nrows, rating_range, duplicates, timestamp_unit)
    _check_limits(limits)
    path = as_path(path)
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".csv", ".parquet"):
        _check_size(path.stat().st_size, limits.ratings_bytes, Source(str(path)))
    if suffix in EXCEL_SUFFIXES:
        frame, source = _read_workbook(path, nrows, sheets=(RATINGS_SHEET,))[0]
        table = _Table(source, lambda: frame)
    elif suffix == ".parquet":
        table = _Table(Source(str(path), first_row=1), lambda: _read_parquet(path, nrows),
                       lambda: _parquet_chunks(path, nrows))
    elif suffix == ".csv":
        table = _Table(Source(str(path)), lambda: _read_csv_table(path, nrows, str(path)),
                       lambda: _csv_chunks(path, nrows),
                       lambda: _pandas_csv_chunks(path, nrows, str(path)))
    else:
        raise DataError(f"unsupported ratings file type '{path.suffix}'", file=str(path),
                        hint="use .csv, .parquet or .xlsx")
    return table.validated(rating_range=rating_range, duplicates=duplicates,
                           timestamp_unit=timestamp_unit)


# --- large ratings tables, a chunk at a time ---------------------------------------------

@dataclass(frozen=True)
class _Table:
    """A ratings table not yet read: whole (``read``) and, for CSV/Parquet, in chunks."""

    source: Source
    read: Callable[[], pd.DataFrame]
    chunks: Optional[Callable[[], Iterator[pd.DataFrame]]] = None
    #: Chunks as pandas infers them (any cell text), for when the typed fast path fails.
    loose_chunks: Optional[Callable[[], Iterator[pd.DataFrame]]] = None

    def validated(self, **options) -> pd.DataFrame:
        """The checked, typed table (see :func:`~kerasrec.data.validate.validate_ratings`).

        Chunks are read with pyarrow as int32/float32/int64 and checked one at a time, so
        a 25M-row file never exists as a table of Python objects or wide dtypes. A value
        pyarrow cannot type sends the read to the slower path that takes any cell text
        (still a chunk at a time where the format allows, so a huge damaged file costs
        bounded memory). A failed check goes on through the remaining chunks, so the
        error counts every offending row of the file.
        """
        duplicates = options.pop("duplicates")
        typed = None
        if self.chunks is not None:
            try:
                typed = self._typed_chunks(self.chunks, **options)
            except DataError:
                raise
            except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile):
                # pyarrow could not type a value or find a column; the loose path names it
                typed = None
        if typed is None and self.loose_chunks is not None:
            typed = self._typed_chunks(self.loose_chunks, **options)
        if typed is None:
            typed = typed_ratings(self.read(), self.source, **options)
        return resolve_duplicates(typed, self.source, duplicates)

    def _typed_chunks(self, chunks, **options) -> pd.DataFrame:
        parts, offset, first, error = [], 0, None, None
        for chunk in chunks():
            located = Source(self.source.file, self.source.sheet, self.source.first_row + offset)
            first = chunk if first is None else first
            offset += len(chunk)
            if not len(chunk):
                continue
            try:
                typed = typed_ratings(chunk, located, **options)
            except DataError as exc:
                if not exc.rows:
                    raise  # a whole-table problem (e.g. a missing column)
                error, parts = _merged(error, exc), []
                if error.n_rows >= STOP_COUNTING:  # a damaged file: no need to read it all
                    raise _counted_to(error, self.source.first_row + offset - 1) from None
                continue
            if error is None:
                parts.append(typed)
        if error is not None:
            raise error
        if not parts:  # header only: the whole-table checks say so
            typed_ratings(pd.DataFrame(columns=list(RATING_COLUMNS)) if first is None else first,
                          self.source, **options)
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


#: Bad rows are counted through the whole file up to this many; past it, the file is
#: damaged and the rest is not read (a 1 GB garbage file fails in a second).
STOP_COUNTING = 100_000


def _counted_to(error: DataError, last_row: int) -> DataError:
    note = f"counted up to row {last_row:,}; the rest of the file was not read"
    return DataError(error.problem, file=error.file, sheet=error.sheet, column=error.column,
                     rows=error.rows, n_rows=error.n_rows,
                     hint=f"{error.hint}; {note}" if error.hint else note)


def _merged(error: Optional[DataError], later: DataError) -> DataError:
    """The first chunk's error, counting the rows of a later chunk's error in the same column."""
    if error is None:
        return later
    if later.column != error.column:
        return error
    return DataError(error.problem, file=error.file, sheet=error.sheet, column=error.column,
                     rows=(error.rows + later.rows)[:MAX_LISTED],
                     n_rows=error.n_rows + later.n_rows, hint=error.hint)


#: A ratings line is a few dozen bytes; one this long is damage, refused before it is parsed.
MAX_LINE_BYTES = 1 << 20


def _pandas_csv_chunks(handle, nrows: Optional[int], file: Optional[str] = None,
                       member: Optional[str] = None) -> Iterator[pd.DataFrame]:
    opened = open(handle, "rb") if isinstance(handle, (str, Path)) else None
    source = Source(file or str(handle), member)
    try:
        limited = _LineLimited(opened or handle, source)
        with pd.read_csv(limited, nrows=nrows, chunksize=CHUNK_ROWS,
                         encoding_errors="replace") as reader:
            yield from reader
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot be parsed as CSV ({exc})".rstrip(), file=source.file,
                        sheet=member) from exc
    finally:
        if opened is not None:
            opened.close()


class _LineLimited(io.RawIOBase):
    """A binary stream that refuses lines longer than :data:`MAX_LINE_BYTES`.

    The pandas parser holds a whole line in memory, so one gigabyte line (a damaged or
    hostile file) would take gigabytes; this stops it after a megabyte, for one
    ``rfind`` per block read.
    """

    def __init__(self, raw, source: Source) -> None:
        super().__init__()
        self.raw, self.source, self.run, self.line = raw, source, 0, 1

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        first, last = data.find(b"\n"), data.rfind(b"\n")
        if last < 0:
            self.run += len(data)
        elif self.run + first > MAX_LINE_BYTES:  # a long line that ends in this block
            self.run += first
        else:
            self.line += data.count(b"\n")
            self.run = len(data) - last - 1
        if self.run > MAX_LINE_BYTES:
            raise self.source.error(f"line {self.line} is longer than {MAX_LINE_BYTES >> 20} "
                                    "MiB: the file is damaged or not a ratings table")
        buffer[: len(data)] = data
        return len(data)


def _check_limits(limits: ReadLimits) -> None:
    if not isinstance(limits, ReadLimits):
        raise ArgumentError(f"limits must be a kerasrec.data.ReadLimits, got {limits!r}")


def _check_size(size: int, limit: int, source: Source) -> None:
    if size > limit:
        raise DataError(f"is {size / 2**20:,.0f} MiB uncompressed, over the limit of "
                        f"{limit / 2**20:,.0f} MiB", file=source.file, sheet=source.sheet,
                        hint="if the file is genuine, raise the limit: load_movies(..., "
                        "limits=kerasrec.data.ReadLimits(...))")


def _csv_chunks(handle, nrows: Optional[int], file: Optional[str] = None,
                member: Optional[str] = None) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    types = {"userId": pa.int32(), "movieId": pa.int32(), "rating": pa.float32(),
             "timestamp": pa.int64()}
    reader = pcsv.open_csv(
        handle, read_options=pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        convert_options=pcsv.ConvertOptions(column_types=types,
                                            include_columns=list(RATING_COLUMNS)))
    yield from _batches(reader, nrows)


def _parquet_chunks(source, nrows: Optional[int], file: Optional[str] = None,
                    member: Optional[str] = None) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(source).iter_batches(batch_size=CHUNK_ROWS,
                                                       columns=list(RATING_COLUMNS))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise _not_parquet(exc, Source(file or str(source), member)) from exc
    yield from _batches(batches, nrows)


def _batches(batches, nrows: Optional[int]) -> Iterator[pd.DataFrame]:
    left = nrows
    for batch in batches:
        if left is not None:
            batch = batch.slice(0, left)
            left -= batch.num_rows
        yield batch.to_pandas()
        if left is not None and left <= 0:
            return


# --- workbooks -------------------------------------------------------------------------

def excel_engine() -> str:
    """The fastest installed Excel reader: python-calamine, else openpyxl."""
    return "calamine" if importlib.util.find_spec("python_calamine") else "openpyxl"


def _read_workbook(path: Path, nrows: Optional[int],
                   sheets: Tuple[str, ...] = (PRODUCTS_SHEET, RATINGS_SHEET)):
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        raise DataError("the file is empty", file=str(path))
    is_zip, is_ole = head.startswith(b"PK\x03\x04"), head.startswith(b"\xd0\xcf\x11\xe0")
    if not (is_zip or is_ole):
        hint = ("it looks like a text/CSV file renamed to .xlsx; rename it back and use "
                "load_ratings, or save it from Excel as a workbook")
        raise DataError("is not an Excel workbook", file=str(path), hint=hint)
    try:
        book = pd.ExcelFile(path, engine=excel_engine())
    except Exception as exc:  # readers raise many unrelated types for broken archives
        raise DataError(f"cannot be read as an Excel workbook ({type(exc).__name__}: {exc})",
                        file=str(path), hint="the file is corrupt or truncated; "
                        "re-export it from the source") from exc
    with book:
        out = []
        for sheet in sheets:
            if sheet not in book.sheet_names:
                near = [s for s in book.sheet_names if s.strip().lower() == sheet]
                hint = (f"sheet names are case-sensitive: rename '{near[0]}' to '{sheet}'"
                        if near else f"the workbook has sheets {book.sheet_names}")
                raise DataError(f"has no sheet '{sheet}'", file=str(path), hint=hint)
            try:
                # object cells keep their type (true/false, dates) for the checks; the
                # default inference would read TRUE as 1 and hide it.
                frame = pd.read_excel(book, sheet_name=sheet, dtype=object,
                                      nrows=nrows if sheet == RATINGS_SHEET else None)
            except Exception as exc:
                raise DataError(f"cannot read the sheet ({type(exc).__name__}: {exc})",
                                file=str(path), sheet=sheet) from exc
            if frame.shape[1] == 0:
                raise DataError("the sheet is empty", file=str(path), sheet=sheet,
                                hint=f"expected a header row with "
                                f"{list(PRODUCT_COLUMNS if sheet == PRODUCTS_SHEET else RATING_COLUMNS)}")
            out.append((frame, Source(str(path), sheet)))
    return out


# --- MovieLens folders and archives ----------------------------------------------------

class _FolderFiles:
    """File access for a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> List[str]:
        return sorted(p.relative_to(self.root).as_posix()
                      for p in self.root.rglob("*") if p.is_file())

    def open(self, name: str) -> IO[bytes]:
        return open(self.root / name, "rb")

    def path(self, name: str) -> Optional[Path]:
        return self.root / name

    def source(self, name: str, first_row: int = 2) -> Source:
        """Errors in a folder's file name that file, as if it had been passed alone."""
        return Source(str(self.root / name), None, first_row)

    def check(self, name: str, limit: int) -> None:
        _check_size((self.root / name).stat().st_size, limit, self.source(name))


class _ZipFiles:
    """File access for a zip archive, with archive errors turned into DataErrors."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            self.zip = zipfile.ZipFile(root)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"is not a readable zip archive ({exc})", file=str(root),
                            hint="the file is corrupt or truncated; download it again") from exc

    def names(self) -> List[str]:
        return sorted(n for n in self.zip.namelist() if not n.endswith("/"))

    def source(self, name: str, first_row: int = 2) -> Source:
        """Errors in an archive member name the archive and the member."""
        return Source(str(self.root), name, first_row)

    def check(self, name: str, limit: int) -> None:
        """Refuse a member that is encrypted, compressed in a way zipfile cannot read,
        or larger than ``limit`` once inflated, before reading any of it."""
        info = self.zip.getinfo(name)
        if info.flag_bits & 0x1:
            raise DataError("is encrypted (password-protected); kerasrec reads plain "
                            "archives only", file=str(self.root), sheet=name,
                            hint="extract it and pass the folder")
        if info.compress_type not in _ZIP_METHODS:
            method = zipfile.compressor_names.get(info.compress_type, str(info.compress_type))
            raise DataError(f"is compressed with '{method}', which Python's zipfile cannot "
                            "read", file=str(self.root), sheet=name,
                            hint="extract it and pass the folder, or re-zip it with standard "
                            "deflate")
        _check_size(info.file_size, limit, self.source(name))

    def open(self, name: str) -> IO[bytes]:
        try:
            return io.BytesIO(self.zip.read(name))
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError,
                NotImplementedError) as exc:
            raise DataError(f"cannot read archive member ({exc})", file=str(self.root),
                            sheet=name, hint="the archive is corrupt or truncated") from exc

    def stream(self, name: str) -> IO[bytes]:
        """The member as a stream, decompressed as it is read (errors surface on read)."""
        return self.zip.open(name)

    def path(self, name: str) -> Optional[Path]:
        return None


def _read_movies_csv(files, name: str, source: Source, nrows=None) -> pd.DataFrame:
    with files.open(name) as handle:
        text = _decode(handle.read(), source)
    return _read_csv_table(io.StringIO(text), nrows, source.file, member=source.sheet)


def _read_ratings_csv(files, name: str, source: Source, nrows=None) -> pd.DataFrame:
    with files.open(name) as handle:
        return _read_csv_table(handle, nrows, source.file, member=source.sheet)


def _read_csv_table(handle, nrows, file: str, member: Optional[str] = None) -> pd.DataFrame:
    try:
        return pd.read_csv(handle, nrows=nrows, encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot be parsed as CSV ({exc})".rstrip(), file=file,
                        sheet=member) from exc


def _decode(raw: bytes, source: Source, expected: Optional[str] = None) -> str:
    """Text of a file: UTF-8 if it is, else Windows-1252 (else Latin-1), with a warning.

    Args:
        expected: The encoding the format is documented to use besides UTF-8 (the 1M
            and 100K releases are Latin-1); decoding with it raises no warning.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
    if expected:
        return raw.decode(expected)
    try:
        text, encoding = raw.decode("cp1252"), "Windows-1252 (cp1252)"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "Latin-1"
    where = f"file '{source.file}'" + (f", member '{source.sheet}'" if source.sheet else "")
    warnings.warn(f"{where} is not UTF-8 (first at line {line}); read it as {encoding}. "
                  "Save it as UTF-8 to silence this warning.", DataWarning, stacklevel=2)
    return text


def _read_movies_dat(files, name: str, source: Source, nrows=None) -> pd.DataFrame:
    with files.open(name) as handle:
        lines = pd.Series(_decode(handle.read(), source, "latin-1").splitlines(), dtype=object)
    parts = lines[lines.str.len() > 0].str.split("::", n=2, expand=True, regex=False)
    if parts.shape[1] != 3:
        raise DataError("expected 'movieId::title::genres' lines", file=source.file,
                        sheet=source.sheet)
    frame = parts.set_axis(list(PRODUCT_COLUMNS), axis=1)
    frame["genres"] = frame["genres"].replace(_GENRE_ALIASES, regex=True)
    return frame


def _read_ratings_dat(files, name: str, source: Source, nrows=None) -> pd.DataFrame:
    # "::" read with sep=":" gives empty columns between the fields, and keeps the fast C parser.
    with files.open(name) as handle:
        try:
            frame = pd.read_csv(handle, sep=":", header=None, usecols=[0, 2, 4, 6],
                                nrows=nrows, engine="c")
        except (pd.errors.ParserError, ValueError) as exc:
            raise DataError(f"expected 'userId::movieId::rating::timestamp' lines ({exc})",
                            file=source.file, sheet=source.sheet) from exc
    return frame.set_axis(list(RATING_COLUMNS), axis=1)


def _read_u_item(files, name: str, source: Source, nrows=None) -> pd.DataFrame:
    genre_names = _GENRES_100K
    sibling = str(PurePosixPath(name).with_name("u.genre"))
    if sibling in files.names():
        with files.open(sibling) as handle:
            listed = [l.split("|")[0] for l in _decode(handle.read(), source, "latin-1")
                      .splitlines() if "|" in l]
        genre_names = listed or genre_names
    layout = (f"expected 'movieId|title|release date|video release date|IMDb URL|' and "
              f"{len(genre_names)} genre flags (0 or 1) on each line")
    with files.open(name) as handle:
        text = _decode(handle.read(), source, "latin-1")
    try:
        frame = pd.read_csv(io.StringIO(text), sep="|", header=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{layout} ({exc})", file=source.file, sheet=source.sheet) from exc
    flags = frame.reindex(columns=range(5, 5 + len(genre_names)))
    wrong = ~flags.isin([0, 1]).all(axis=1).to_numpy()
    if wrong.any():
        raise source.error(layout, mask=wrong)
    flags = flags.to_numpy(dtype=bool)
    names = [_GENRE_ALIASES.get(g, g) for g in genre_names]
    flags[:, [n == "unknown" for n in names]] = False  # 100K's "unknown" means no genres
    genres = decode_genres(flags, names)
    return pd.DataFrame({"movieId": frame[0], "title": frame[1], "genres": genres})


def _read_u_data(files, name: str, source: Source, nrows=None) -> pd.DataFrame:
    with files.open(name) as handle:
        try:
            return pd.read_csv(handle, sep="\t", header=None, names=list(RATING_COLUMNS),
                               nrows=nrows, encoding_errors="replace")
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"expected tab-separated 'userId movieId rating timestamp' "
                            f"lines ({exc})", file=source.file, sheet=source.sheet) from exc


def _read_parquet(source, nrows: Optional[int], where: Optional[Source] = None
                  ) -> pd.DataFrame:
    """A Parquet file (a path or an open file, located by ``where``) as a frame."""
    import pyarrow.parquet as pq

    where = where or Source(str(source))
    try:
        if nrows is None:
            return pd.read_parquet(source)
        batches = pq.ParquetFile(source).iter_batches(batch_size=nrows)
        return next(batches).to_pandas()
    except StopIteration:
        return pd.DataFrame(columns=list(RATING_COLUMNS))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise _not_parquet(exc, where) from exc


def _not_parquet(exc: Exception, where: Source) -> DataError:
    return DataError(f"cannot be read as Parquet ({type(exc).__name__}: {exc})",
                     file=where.file, sheet=where.sheet)


def _read_parquet_member(files, name: str, source: Source, nrows=None) -> pd.DataFrame:
    with files.open(name) as handle:
        return _read_parquet(handle, nrows, source)


def _member_chunks(read_chunks: Callable) -> Callable:
    """Chunked reading of a folder file or archive member, for :class:`_Table`."""
    def chunks(files, name: str, nrows: Optional[int]) -> Iterator[pd.DataFrame]:
        path = files.path(name)
        with (open(path, "rb") if path is not None else files.stream(name)) as handle:
            where = files.source(name)
            yield from read_chunks(handle, nrows, where.file, where.sheet)
    return chunks


@dataclass(frozen=True)
class _Layout:
    name: str
    products: str
    ratings: str
    read_products: Callable
    read_ratings: Callable
    first_row: int = 2  # header row = 1
    ratings_chunks: Optional[Callable] = None
    loose_chunks: Optional[Callable] = None


_LAYOUTS = (
    _Layout("MovieLens latest/25M/32M", "movies.csv", "ratings.csv", _read_movies_csv,
            _read_ratings_csv, ratings_chunks=_member_chunks(_csv_chunks),
            loose_chunks=_member_chunks(_pandas_csv_chunks)),
    _Layout("MovieLens 1M/10M", "movies.dat", "ratings.dat", _read_movies_dat,
            _read_ratings_dat, first_row=1),
    _Layout("MovieLens 100K", "u.item", "u.data", _read_u_item, _read_u_data, first_row=1),
    _Layout("Parquet", "movies.parquet", "ratings.parquet", _read_parquet_member,
            _read_parquet_member, first_row=1, ratings_chunks=_member_chunks(_parquet_chunks)),
    _Layout("Parquet", "products.parquet", "users.parquet", _read_parquet_member,
            _read_parquet_member, first_row=1, ratings_chunks=_member_chunks(_parquet_chunks)),
)


def _find(names: List[str], basename: str) -> Optional[str]:
    hits = [n for n in names if PurePosixPath(n).name == basename]
    # The shallowest match wins: archives nest one folder deep (ml-latest-small/...).
    return min(hits, key=lambda n: (n.count("/"), n)) if hits else None


def _read_bundle(files, nrows: Optional[int], limits: ReadLimits):
    names = files.names()
    root = str(files.root)
    for layout in _LAYOUTS:
        products, ratings = _find(names, layout.products), _find(names, layout.ratings)
        if products is None and ratings is None:
            continue
        if products is None or ratings is None:
            present, absent = ((products, layout.ratings) if products
                               else (ratings, layout.products))
            raise DataError(f"has '{present}' but not '{absent}' ({layout.name} layout)",
                            file=root)
        files.check(products, limits.products_bytes)
        files.check(ratings, limits.ratings_bytes)
        psrc = files.source(products, layout.first_row)
        rsrc = files.source(ratings, layout.first_row)
        chunks, loose = layout.ratings_chunks, layout.loose_chunks
        return ((layout.read_products(files, products, psrc), psrc),
                _Table(rsrc, lambda: layout.read_ratings(files, ratings, rsrc, nrows),
                       (lambda: chunks(files, ratings, nrows)) if chunks else None,
                       (lambda: loose(files, ratings, nrows)) if loose else None))
    expected = ", ".join(f"{l.products} + {l.ratings}" for l in _LAYOUTS)
    raise DataError("holds no MovieLens data", file=root, hint=f"expected one of: {expected}")
