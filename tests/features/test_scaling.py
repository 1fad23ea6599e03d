from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from kerasrec import PipelineError
from kerasrec.features import RatingScaler

RATINGS = pd.DataFrame({"movieId": [1, 1, 2, 3, 3], "rating": [1.0, 5.0, 4.0, 2.0, 3.0]})


@pytest.mark.parametrize("method", ["minmax", "standard", "none"])
def test_round_trip_is_exact(method):
    scaler = RatingScaler(method).fit(RATINGS)
    stars = RATINGS["rating"].to_numpy()
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(stars)), stars,
                               atol=1e-6)


def test_minmax_uses_declared_range_not_data():
    scaler = RatingScaler("minmax", (0.5, 5.0)).fit(RATINGS)
    np.testing.assert_allclose(scaler.transform([0.5, 5.0, 2.75]), [0.0, 1.0, 0.5])


def test_article_scaling_flattens_single_rating_movies():
    scaler = RatingScaler("article").fit(RATINGS)
    scaled = scaler.transform(RATINGS["rating"], RATINGS["movieId"])
    assert scaled.tolist() == [0.0, 1.0, 0.5, 0.0, 1.0]  # movie 2's 4 stars became 0.5


def test_unknown_method():
    with pytest.raises(PipelineError):
        RatingScaler("log")


@given(st.lists(st.sampled_from(np.arange(0.5, 5.01, 0.5).tolist()), min_size=2, max_size=50),
       st.sampled_from(["minmax", "standard", "none"]))
def test_round_trip_property(stars, method):
    frame = pd.DataFrame({"movieId": np.arange(len(stars)), "rating": stars})
    scaler = RatingScaler(method).fit(frame)
    back = RatingScaler.from_config(scaler.get_config()).inverse_transform(
        scaler.transform(np.array(stars)))
    np.testing.assert_allclose(back, stars, atol=1e-5)
