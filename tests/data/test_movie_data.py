"""``MovieData``: frames given in memory are checked as loaded files are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kerasrec as kr


def test_with_ratings_takes_a_split_part_as_it_is(tiny):
    before = tiny.ratings.copy()
    train, test = kr.random_split(tiny.ratings, 0.4, seed=0)
    part = tiny.with_ratings(train)
    pd.testing.assert_frame_equal(part.ratings, train)
    assert part.products is tiny.products and part.rating_range == tiny.rating_range
    pd.testing.assert_frame_equal(tiny.ratings, before)  # a new MovieData; this one kept


def test_with_ratings_types_what_it_is_given(tiny, ratings):
    # Ids as text and float ratings read as a loaded file's would; extra columns dropped.
    given = ratings.astype({"userId": str, "rating": np.float64}).assign(note="x")
    part = tiny.with_ratings(given)
    assert list(part.ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert part.ratings["userId"].tolist() == [1, 1, 2, 2, 3]
    assert part.ratings.dtypes.astype(str).tolist() == ["int32", "int32", "float32", "int64"]
    # The duplicate policies of the loaders.
    doubled = pd.concat([ratings, ratings.head(1).assign(rating=1.0, timestamp=1.5e9)])
    kept = tiny.with_ratings(doubled, duplicates="last").ratings
    assert len(kept) == 5 and kept.query("userId == 1 and movieId == 1")["rating"].item() == 1.0


@pytest.mark.parametrize("edit, words", [
    (lambda r: r.assign(movieId=[1, 2, 2, 3, 99]),
     "frame 'ratings', column 'movieId': 1 rated movieId(s) have no row in 'products': 99 "
     "(position 4)"),
    (lambda r: r.assign(rating=[4.0, np.nan, 5.0, 0.5, 3.0]),
     "frame 'ratings', column 'rating': missing rating"),
    (lambda r: r.assign(rating=[4.0, 3.5, 10.0, 0.5, 3.0]),
     "column 'rating'"),
    (lambda r: pd.concat([r, r.head(1)]), "pairs rated more than once"),
    (lambda r: r.drop(columns="timestamp"), "frame 'ratings': missing column 'timestamp'"),
    (lambda r: r.head(0), "frame 'ratings': the frame has no rows"),
])
def test_with_ratings_refuses_what_from_frames_refuses(tiny, ratings, edit, words):
    bad = edit(ratings)
    for make in (lambda: tiny.with_ratings(bad),
                 lambda: kr.MovieData.from_frames(tiny.products, bad)):
        with pytest.raises(kr.DataError) as caught:
            make()
        assert words in str(caught.value)


def test_with_ratings_keeps_the_data_scale(products, ratings):
    ten = kr.MovieData.from_frames(products, ratings.assign(rating=[8.0, 7, 10, 1, 6]),
                                   rating_range=(1, 10))
    assert ten.with_ratings(ten.ratings.head(2)).rating_range == (1.0, 10.0)
    with pytest.raises(kr.DataError, match=r"\[1, 10\] stars"):
        ten.with_ratings(ratings.assign(rating=0.5))


@pytest.mark.parametrize("call, words", [
    (lambda t, r: t.with_ratings("ratings.csv"),
     "ratings must be a pandas DataFrame with columns ['userId', 'movieId', 'rating', "
     "'timestamp'], got str"),
    (lambda t, r: t.with_ratings(r.to_numpy()), "got ndarray"),
    (lambda t, r: kr.MovieData.from_frames(t.products.to_dict("list"), r),
     "products must be a pandas DataFrame with columns ['movieId', 'title', 'genres'], "
     "got dict"),
    (lambda t, r: kr.MovieData.from_frames(t.products, [[1, 1, 4.0, 0]]), "got list"),
    (lambda t, r: t.with_ratings(r, duplicates="first"), "duplicates must be one of"),
])
def test_what_is_not_a_frame_is_an_argument_error(tiny, ratings, call, words):
    with pytest.raises(kr.ArgumentError) as caught:
        call(tiny, ratings)
    assert words in str(caught.value)


def test_a_recommender_never_trains_on_ratings_outside_the_catalog(tiny, ratings):
    """Before with_ratings checked its frame, these trained in silence (unknown movies,
    ids as text in the vocabulary) or failed inside Keras (NaN: "lower the learning
    rate"; no rows: KeyError 'loss')."""
    for bad in (ratings.assign(movieId=[1, 2, 2, 3, 99]), ratings.assign(rating=np.nan)):
        with pytest.raises(kr.DataError, match="frame 'ratings'"):
            kr.Recommender("baseline").fit(tiny.with_ratings(bad))
    as_text = kr.Recommender("baseline").fit(tiny.with_ratings(ratings.astype({"userId": str})))
    as_ints = kr.Recommender("baseline").fit(tiny.with_ratings(ratings))
    pairs = pd.DataFrame({"userId": [1, 2, 3], "movieId": [3, 1, 2]})
    np.testing.assert_array_equal(as_text.predict(pairs), as_ints.predict(pairs))
