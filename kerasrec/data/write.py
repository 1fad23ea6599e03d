"""Writers for MovieData: an xlsx workbook in the data_movies.xlsx layout, or Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Union

import pandas as pd

from kerasrec._io import atomic_path, write_marker
from kerasrec.data.load import PRODUCTS_SHEET, RATINGS_SHEET
from kerasrec.data.movie_data import MovieData, require_movie_data


def write_workbook(data: MovieData, path: Union[str, Path]) -> Path:
    """Write ``data`` as a workbook with sheets ``products`` and ``users``, atomically.

    Raises:
        ArtifactError: If the file cannot be written.
        ArgumentError: If ``data`` is not a MovieData (nothing is written).
    """
    require_movie_data(data, "write_workbook's data")
    with atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            data.products.to_excel(writer, sheet_name=PRODUCTS_SHEET, index=False)
            data.ratings.to_excel(writer, sheet_name=RATINGS_SHEET, index=False)
    return Path(path)


def write_parquet(data: MovieData, folder: Union[str, Path]) -> Path:
    """Write ``data`` as ``movies.parquet`` + ``ratings.parquet`` in ``folder``, atomically.

    The folder also gets ``kerasrec.json``, which marks it as kerasrec's: only such a
    folder (or an empty one) is ever replaced.

    Raises:
        ArtifactError: If the folder cannot be written or holds other files.
        ArgumentError: If ``data`` is not a MovieData (nothing is written).
    """
    require_movie_data(data, "write_parquet's data")
    with atomic_path(folder, directory=True, kind="data") as tmp:
        data.products.to_parquet(tmp / "movies.parquet", index=False)
        data.ratings.to_parquet(tmp / "ratings.parquet", index=False)
        write_marker(tmp, "data", source=str(data.source))
    return Path(folder)

