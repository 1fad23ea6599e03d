"""The real MovieLens latest-small workbook (runs when ../shared is present)."""

from __future__ import annotations

import numpy as np

import kerasrec as kr


def test_shape_of_the_real_file(real_data):
    assert real_data.n_movies == 9742
    assert real_data.n_ratings == 100836
    assert real_data.n_users == 610


def test_features_of_the_real_file(real_data):
    pipeline = kr.FeaturePipeline()
    out = pipeline.fit_transform(real_data)
    assert len(pipeline.genres_) == 19
    assert pipeline.feature_names[-2:] == ["old", "year_unknown"]
    assert out["item_features"].shape == (100836, 21)
    np.testing.assert_allclose(pipeline.to_stars(out["rating"]), real_data.ratings["rating"])


def test_movie_with_empty_genres_cell(real_data):
    row = real_data.products.loc[real_data.products.movieId == 162982]
    assert row["genres"].item() == "(no genres listed)"
    n = int((real_data.ratings.movieId == 162982).sum())
    assert n >= 1  # its ratings are kept
    pipeline = kr.FeaturePipeline().fit(real_data)
    features = pipeline.item_features([162982])[0]
    assert features[:19].sum() == 0


def test_split_files_load(real_data):
    from tests.conftest import SPLITS

    train = kr.load_ratings(SPLITS / "movies_random80_train.csv")
    test = kr.load_ratings(SPLITS / "movies_random80_test.csv")
    assert len(train) + len(test) == real_data.n_ratings
