"""The generator's planted structure is really there and learnable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kerasrec as kr
from kerasrec.data.sample import DEFAULT_SAMPLE
from tests.conftest import rmse


def test_bundled_file_is_the_default_sample(sample):
    generated = kr.make_sample(**DEFAULT_SAMPLE)
    pd.testing.assert_frame_equal(sample.ratings, generated.ratings)
    pd.testing.assert_frame_equal(sample.products, generated.products)


def test_same_seed_same_data():
    a, b = kr.make_sample(50, 60, 900, seed=5), kr.make_sample(50, 60, 900, seed=5)
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    assert not a.ratings.equals(kr.make_sample(50, 60, 900, seed=6).ratings)


def test_schema_and_size():
    data = kr.make_sample(40, 50, 700, seed=1)
    assert data.n_ratings == 700
    assert not data.ratings.duplicated(["userId", "movieId"]).any()
    kr.MovieData.from_frames(data.products, data.ratings)  # passes validation


@pytest.mark.parametrize("kwargs, words", [
    ({"n_users": -1}, "n_users must be a positive whole number, got -1"),
    ({"n_movies": "60"}, "n_movies must be a positive whole number, got '60'"),
    ({"n_ratings": 900.0}, "n_ratings must be a positive whole number, got 900.0"),
    ({"seed": None}, "seed must be a whole number, 0 or more, got None"),
    ({"n_ratings": 5000}, "more than half of all 3000 (user, movie) pairs"),
    ({"start": "the nineties"}, "start and end must be dates such as '2000-01-01'"),
    ({"start": "2019-01-01"}, "start must come before end"),
])
def test_bad_arguments_are_named(kwargs, words):
    with pytest.raises(kr.ArgumentError) as caught:
        kr.make_sample(**{"n_users": 50, "n_movies": 60, "n_ratings": 900, **kwargs})
    assert words in str(caught.value)


def test_weekend_and_daytime_effects(sample):
    features = kr.FeaturePipeline().fit(sample).transform(sample.ratings)
    stars = sample.ratings["rating"].to_numpy()
    daytime, weekend = features["context"][:, 0] == 1, features["context"][:, 1] == 1
    assert stars[weekend].mean() - stars[~weekend].mean() > 0.15
    assert stars[daytime].mean() - stars[~daytime].mean() < -0.1


def test_taste_and_quality_beat_the_global_mean(sample):
    """Per-movie and per-user-genre means fitted on train beat the global mean on test."""
    train, test = kr.random_split(sample.ratings, 0.2, seed=0)
    mean = train["rating"].mean()
    item_bias = (train.groupby("movieId")["rating"].mean() - mean)
    user_bias = (train["rating"] - mean - train["movieId"].map(item_bias)).groupby(
        train["userId"]).mean()
    predict = (mean + test["movieId"].map(item_bias).fillna(0)
               + test["userId"].map(user_bias).fillna(0))
    baseline = rmse(test["rating"], np.full(len(test), mean))
    assert rmse(test["rating"], predict) < baseline - 0.1


def test_streamed_parquet_is_exactly_make_sample(tmp_path):
    import pyarrow.parquet as pq

    from kerasrec.data import write_sample

    folder = write_sample(tmp_path / "big", 70, 90, 2_500, seed=4, chunk_size=600)
    assert pq.ParquetFile(folder / "ratings.parquet").metadata.num_row_groups == 5
    streamed = kr.load_movies(folder)
    made = kr.make_sample(70, 90, 2_500, seed=4)
    pd.testing.assert_frame_equal(streamed.ratings, made.ratings)
    pd.testing.assert_frame_equal(streamed.products, made.products)
    # Scoring chunks are not where ratings depend on chunk_size.
    pd.testing.assert_frame_equal(kr.make_sample(70, 90, 2_500, seed=4, chunk_size=333).ratings,
                                  made.ratings)


def test_streamed_sample_leaves_nothing_when_it_cannot_write(tmp_path):
    from kerasrec.data import write_sample

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(kr.ArtifactError, match="cannot write"):
        write_sample(blocker / "out", 10, 10, 20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
