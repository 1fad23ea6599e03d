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
