"""Pipe-separated genres -> multi-hot vectors in a stored, deterministic order."""

from __future__ import annotations

from typing import List, Sequence

import numpy as np
import pandas as pd

from kerasrec.schema import NO_GENRES, decode_genres


def genre_vocabulary(genres: pd.Series) -> List[str]:
    """All genres named in ``genres``, sorted, without ``"(no genres listed)"``.

    The order is the column order of :func:`encode_genres`; it is sorted so that
    it never depends on hashing or process state.
    """
    names = genres.dropna().astype(str).str.split("|").explode().str.strip()
    return sorted(set(names) - {NO_GENRES, ""})


def encode_genres(genres: pd.Series, vocabulary: Sequence[str]) -> np.ndarray:
    """Multi-hot encode pipe-separated genres over ``vocabulary``.

    ``"(no genres listed)"``, empty and missing cells give all zeros; genres outside
    the vocabulary are ignored.

    Returns:
        A (len(genres), len(vocabulary)) uint8 array.
    """
    dummies = genres.fillna("").astype(str).str.get_dummies(sep="|")
    dummies.columns = dummies.columns.str.strip()
    dummies = dummies.T.groupby(level=0).max().T if dummies.columns.duplicated().any() else dummies
    return dummies.reindex(columns=list(vocabulary), fill_value=0).to_numpy(dtype=np.uint8)


__all__ = ["decode_genres", "encode_genres", "genre_vocabulary"]
