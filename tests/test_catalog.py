"""The catalog: candidates, the popular minimum and the cold-start rules, written once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kerasrec as kr
from kerasrec.catalog import (Catalog, Filters, global_mean_pairs, global_mean_pairs_tf,
                              popular_min)


@pytest.fixture
def fitted(tiny):
    pipeline = kr.FeaturePipeline().fit(tiny)
    return pipeline, Catalog.fit(tiny.products, tiny.ratings, pipeline)


def test_popular_min_is_the_median_count_at_least_ten():
    assert popular_min(np.array([0, 1, 2, 3])) == 10
    assert popular_min(np.array([0, 0, 30, 50, 70])) == 50
    assert popular_min(np.zeros(3, int)) == 10


def test_candidates_exclude_what_the_user_saw(fitted):
    pipeline, catalog = fitted
    assert catalog.movie_ids.tolist() == [1, 2, 3, 4]
    row = int(pipeline.user_index([1])[0])  # user 1 rated movies 1 and 2
    assert catalog.movie_ids[catalog.candidates(row)].tolist() == [3, 4]
    everything = catalog.candidates(row, Filters(exclude_seen=False))
    assert catalog.movie_ids[everything].tolist() == [1, 2, 3, 4]
    assert catalog.candidates(0).size == 0  # nothing here has popular_min (10) ratings
    assert catalog.movie_ids[catalog.candidates(0, Filters(min_ratings=2))].tolist() == [2]


def test_cold_start_rules(fitted):
    pipeline, catalog = fitted
    pairs = pd.DataFrame({"userId": [1, 99, 1, 99], "movieId": [2, 2, 99, 99]})
    block = pipeline.transform(pairs, item_features=False)
    model_stars = np.array([4.0, 4.0, 4.0, 4.0])
    by_model = catalog.apply_cold_start(block, model_stars, model_scores_cold=True)
    assert by_model[:3].tolist() == [4.0, 4.0, 4.0] and by_model[3] == catalog.global_mean
    by_baseline = catalog.apply_cold_start(block, model_stars, model_scores_cold=False)
    assert by_baseline[0] == 4.0 and by_baseline[3] == catalog.global_mean
    np.testing.assert_allclose(by_baseline[1:3], catalog.fallback(block)[1:3])
    assert by_baseline[1] != catalog.global_mean  # movie 2's shrunk bias is not zero


def test_global_mean_rule_in_tensorflow_equals_numpy():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    expected = global_mean_pairs(users, items)
    got = global_mean_pairs_tf(tf.constant(users), tf.constant(items > 0)).numpy()
    np.testing.assert_array_equal(got, expected)
    assert expected.any() and not expected.all()


def test_save_load_and_a_mismatched_file(fitted, tiny, tmp_path):
    pipeline, catalog = fitted
    catalog.save(tmp_path)
    back = Catalog.load(tmp_path, pipeline)
    pd.testing.assert_frame_equal(back.movies, catalog.movies)
    assert (back.seen_matrix() != catalog.seen_matrix()).nnz == 0
    other = kr.FeaturePipeline().fit(tiny.with_ratings(tiny.ratings.iloc[:3]))
    with pytest.raises(kr.ArtifactError, match="fallback.npz' does not match"):
        Catalog.load(tmp_path, other)


@pytest.mark.parametrize("filters, expected", [
    (Filters(genres=["action"]), [2, 3]),          # any case; any of the genres
    (Filters(genres="Animation"), [1]),            # one genre as a string
    (Filters(genres=["Animation", "Sci-Fi"]), [1, 3]),
    (Filters(years=(2000, None)), [3]),            # movies without a year are left out
    (Filters(years=(None, 1995)), [1, 2]),
    (Filters(movies=[4, 2, 99]), [2, 4]),          # an explicit candidate list
    (Filters(exclude=[1, 3]), [2, 4]),
    (Filters(genres=["Action"], years=(1990, 1999), exclude=[3]), [2]),
])
def test_filters_keep_what_they_say(fitted, filters, expected):
    _, catalog = fitted
    assert catalog.movie_ids[catalog.kept(filters)].tolist() == expected


@pytest.mark.parametrize("make, words", [
    (lambda: Filters(years=(2000, 1990)), "first <= last"),
    (lambda: Filters(years=1999), "years must be"),
    (lambda: Filters(min_ratings=-1), "min_ratings must be a whole number, 0 or more, got -1"),
    (lambda: Filters(min_ratings=2.5), "got 2.5"),
    (lambda: Filters(years=("1990", 1999)), r"each a year or None, got \('1990', 1999\)"),
    (lambda: Filters(exclude_seen="no"), "exclude_seen must be True or False, got 'no'"),
    (lambda: Filters(genres=[1, 2]), r"genres must be genre names, e.g. \['Comedy'\]"),
    (lambda: Filters(movies=["12a"]), "movies must hold whole-number ids, found '12a'"),
])
def test_bad_filters(make, words):
    with pytest.raises(kr.ArgumentError, match=words):
        make()


def test_an_unknown_genre_names_the_genres_there_are(fitted):
    _, catalog = fitted
    with pytest.raises(kr.ArgumentError, match="unknown genre.*'Western'.*Action, Adventure"):
        catalog.kept(Filters(genres=["Western"]))


def test_titles_are_shown_as_people_write_them_and_years_are_integers(tiny):
    products = tiny.products.assign(title=["Matrix, The (1999)", "Heat (1995)",
                                           "Fabuleux destin d'Amélie Poulain, Le (2001)",
                                           "Babylon 5"])
    data = kr.MovieData.from_frames(products, tiny.ratings)
    pipeline = kr.FeaturePipeline().fit(data)
    catalog = Catalog.fit(data.products, data.ratings, pipeline)
    shown = catalog.describe([1, 3, 4])
    assert shown["title"].tolist() == ["The Matrix (1999)",
                                       "Le Fabuleux destin d'Amélie Poulain (2001)", "Babylon 5"]
    assert str(shown["year"].dtype) == "Int64" and shown["year"].tolist()[:2] == [1999, 2001]
    assert shown["year"].isna().tolist() == [False, False, True]
    assert catalog.title(1) == "The Matrix (1999)" and catalog.title(99) is None
    assert catalog.movies.loc[1, "title"] == "Matrix, The (1999)"  # stored as given
