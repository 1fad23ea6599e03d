from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kerasrec.models import model_class


def build_baseline(name, **options):
    """The algorithm behind a registered baseline, used on raw ids."""
    return model_class(name).algorithm(**options)
from tests.conftest import rmse


@pytest.mark.parametrize("name", ["baseline", "content", "user_knn", "item_knn", "svd"])
def test_baseline_beats_global_mean(prepared, name):
    train, test = prepared["train"], prepared["test"]
    model = build_baseline(name).fit(train, prepared["data"].products)
    mean = build_baseline("global_mean").fit(train).predict(test)
    assert np.allclose(mean, train["rating"].mean())
    assert rmse(model.predict(test), test["rating"]) < rmse(mean, test["rating"]) - 0.05


@pytest.mark.parametrize("name", ["baseline", "content", "user_knn", "item_knn", "svd"])
def test_unknown_ids_fall_back_to_the_baseline(prepared, name):
    train = prepared["train"]
    model = build_baseline(name).fit(train, prepared["data"].products)
    pairs = pd.DataFrame({"userId": [10**6, train.userId.iloc[0], 10**6],
                          "movieId": [train.movieId.iloc[0], 10**6, 10**6]})
    pred = model.predict(pairs)
    assert np.isfinite(pred).all()
    assert pred[2] == pytest.approx(train["rating"].mean())


def test_item_knn_on_a_hand_made_matrix():
    # Items 1 and 2 are rated alike by everyone; user 3 loved 1, so 2 should score high.
    ratings = pd.DataFrame({
        "userId": [1, 1, 2, 2, 3, 3, 4, 4, 4],
        "movieId": [1, 2, 1, 2, 1, 3, 1, 2, 3],
        "rating": [5.0, 5.0, 1.0, 1.0, 5.0, 2.0, 4.0, 4.0, 2.0],
    })
    model = build_baseline("item_knn", k=5).fit(ratings)
    base = build_baseline("baseline").fit(ratings)
    pair = pd.DataFrame({"userId": [3], "movieId": [2]})
    assert model.predict(pair)[0] > base.predict(pair)[0]


def test_content_needs_products(prepared):
    with pytest.raises(ValueError, match="products"):
        build_baseline("content").fit(prepared["train"])
