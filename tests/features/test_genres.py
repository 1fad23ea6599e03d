from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
from hypothesis import given, strategies as st

from kerasrec.features import encode_genres, genre_vocabulary

GENRES = pd.Series(["Comedy|Drama", "(no genres listed)", None, "", "Action", "Drama|Action"])


def test_vocabulary_is_sorted_without_marker():
    assert genre_vocabulary(GENRES) == ["Action", "Comedy", "Drama"]


def test_multi_hot_and_no_genres_rows():
    hot = encode_genres(GENRES, ["Action", "Comedy", "Drama"])
    assert hot.tolist() == [[0, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 0, 1]]


def test_unknown_genre_ignored_and_missing_column_zero():
    hot = encode_genres(pd.Series(["Western|Comedy"]), ["Comedy", "Horror"])
    assert hot.tolist() == [[1, 0]]


def test_order_is_identical_across_processes():
    code = ("import pandas as pd; from kerasrec.features import genre_vocabulary;"
            "print(genre_vocabulary(pd.Series(['Sci-Fi|War|Action', 'Crime|IMAX|Western|"
            "Animation|Drama|Horror|Musical'])))")
    outputs = set()
    for seed in ("1", "2", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outputs.add(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert len(outputs) == 1


@given(st.lists(st.sets(st.sampled_from(["A", "B", "C", "Sci-Fi"]), max_size=4), min_size=1,
                max_size=20))
def test_encoding_round_trips(rows):
    series = pd.Series(["|".join(sorted(r)) or "(no genres listed)" for r in rows])
    vocab = genre_vocabulary(series)
    hot = encode_genres(series, vocab)
    decoded = [{vocab[j] for j in range(len(vocab)) if row[j]} for row in hot]
    assert decoded == [set(r) for r in rows]


def test_decode_is_the_inverse_of_encode():
    from kerasrec.features.genres import decode_genres

    vocab = ["Action", "Comedy", "Drama"]
    decoded = decode_genres(encode_genres(GENRES, vocab), vocab)
    assert decoded.tolist() == ["Comedy|Drama", "(no genres listed)", "(no genres listed)",
                                "(no genres listed)", "Action", "Action|Drama"]


_NAME = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)),
                min_size=1, max_size=12).map(str.strip).filter(
                    lambda g: g and g != "(no genres listed)")


@given(st.lists(st.lists(_NAME, max_size=5), min_size=1, max_size=15))
def test_any_genre_names_round_trip(rows):
    """Arbitrary names (non-ASCII, repeated within a row, padded with spaces)."""
    series = pd.Series([" | ".join(r) if r else "(no genres listed)" for r in rows])
    vocab = genre_vocabulary(series)
    assert vocab == sorted({g for r in rows for g in r})
    hot = encode_genres(series, vocab)
    assert hot.dtype == "uint8" and set(hot.ravel().tolist()) <= {0, 1}
    assert [{vocab[j] for j in hot[i].nonzero()[0]} for i in range(len(rows))] == \
        [set(r) for r in rows]
