from __future__ import annotations

import pandas as pd
import pytest

import kerasrec as kr


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return kr.make_sample(n_users=60, n_movies=80, n_ratings=1500, seed=3).ratings


def _pairs(frame):
    return set(map(tuple, frame[["userId", "movieId"]].to_numpy().tolist()))


SPLITS = [
    lambda r, s: kr.random_split(r, 0.2, seed=s),
    lambda r, s: kr.temporal_split(r, 0.2),
    lambda r, s: kr.leave_last_n(r, 2),
    lambda r, s: kr.article_split(r, 0.2, seed=s),
]


@pytest.mark.parametrize("make", SPLITS)
def test_no_leakage_and_complete(ratings, make):
    split = make(ratings, 7)
    assert not _pairs(split.train) & _pairs(split.test)
    assert len(split.train) + len(split.test) == len(ratings)
    train, test = split  # unpacks like a tuple
    assert split.cold_users == len(set(test.userId) - set(train.userId))
    assert split.cold_items == len(set(test.movieId) - set(train.movieId))


@pytest.mark.parametrize("make", SPLITS)
def test_same_seed_same_split(ratings, make):
    a, b = make(ratings, 11), make(ratings, 11)
    pd.testing.assert_frame_equal(a.test, b.test)


def test_random_split_size_and_seed(ratings):
    split = kr.random_split(ratings, 0.25, seed=1)
    assert len(split.test) == round(len(ratings) * 0.25)
    assert not kr.random_split(ratings, 0.25, seed=2).test.equals(split.test)


def test_temporal_split_holds_out_each_users_latest(ratings):
    split = kr.temporal_split(ratings, 0.2)
    last_train = split.train.groupby("userId")["timestamp"].max()
    first_test = split.test.groupby("userId")["timestamp"].min()
    assert (first_test >= last_train.reindex(first_test.index)).all()
    assert split.cold_users == 0


def test_leave_last_n(ratings):
    split = kr.leave_last_n(ratings, 1)
    counts = ratings.groupby("userId").size()
    assert split.test.groupby("userId").size().eq(1).all()
    assert set(split.test.userId) == set(counts[counts > 1].index)


def test_article_split_is_item_cold_start(ratings):
    split = kr.article_split(ratings, 0.2, seed=0)
    assert not set(split.test.movieId) & set(split.train.movieId)
    assert split.cold_items == split.test.movieId.nunique() > 0


def test_bad_fraction(ratings):
    with pytest.raises(ValueError):
        kr.random_split(ratings, 1.5)


SPLIT_FUNCTIONS = {"random": kr.random_split, "temporal": kr.temporal_split,
                   "leave_last_n": kr.leave_last_n, "article": kr.article_split}


@pytest.mark.parametrize("call, error, words", [
    (lambda r: kr.random_split(r, 0.2, seed="7"), kr.ArgumentError,
     "seed must be a whole number, 0 or more, got '7'"),
    (lambda r: kr.random_split(r, 0.2, seed=1.5), kr.ArgumentError, "seed must be a whole"),
    (lambda r: kr.article_split(r, 0.2, seed=-1), kr.ArgumentError, "seed must be a whole"),
    (lambda r: kr.article_split(r, 0.2, seed=None), kr.ArgumentError, "got None"),
    (lambda r: kr.random_split(r, "0.2"), kr.ArgumentError, "test_size must lie strictly"),
    (lambda r: kr.temporal_split(r, True), kr.ArgumentError, "test_fraction must lie"),
    (lambda r: kr.leave_last_n(r, 0), kr.ArgumentError, "n must be a positive whole number"),
    (lambda r: kr.leave_last_n(r, 1.5), kr.ArgumentError, "got 1.5"),
    (lambda r: kr.leave_last_n(r, "2"), kr.ArgumentError, "got '2'"),
    (lambda r: kr.temporal_split(r.to_numpy()), kr.ArgumentError,
     "ratings must be a pandas DataFrame with columns ['userId', 'movieId', 'timestamp'], "
     "got ndarray"),
    (lambda r: kr.random_split(r.to_dict("list")), kr.ArgumentError, "got dict"),
    (lambda r: kr.temporal_split(r.drop(columns="timestamp")), kr.DataError,
     "frame 'ratings': missing column 'timestamp'"),
    (lambda r: kr.leave_last_n(r.rename(columns={"timestamp": "Timestamp"})), kr.DataError,
     "rename 'Timestamp' -> 'timestamp'"),
    (lambda r: kr.random_split(r.rename(columns={"userId": "user_id"})), kr.DataError,
     "rename 'user_id' -> 'userId'"),
    (lambda r: kr.temporal_split(r.iloc[:0]), kr.DataError, "frame 'ratings': the frame has no"),
    (lambda r: kr.random_split(r.iloc[:1]), kr.DataError, "cannot split fewer than two"),
])
def test_bad_arguments_are_named_before_anything_is_split(ratings, call, error, words):
    with pytest.raises(error) as caught:
        call(ratings)
    assert words in str(caught.value)


@pytest.mark.parametrize("name", SPLIT_FUNCTIONS)
def test_other_columns_are_carried_along_and_only_the_read_ones_are_needed(ratings, name):
    extra = ratings.drop(columns="rating").assign(source="app")
    if name in ("random", "article"):
        extra = extra.drop(columns="timestamp")  # no order needed
    train, test = SPLIT_FUNCTIONS[name](extra)
    assert list(train.columns) == list(extra.columns) == list(test.columns)
    assert (train["source"] == "app").all() and len(train) + len(test) == len(extra)
