from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import kerasrec as kr
from kerasrec import PipelineError


def test_transform_outputs(tiny):
    pipeline = kr.FeaturePipeline().fit(tiny)
    out = pipeline.transform(tiny.ratings)
    assert set(out) == {"user_id", "item_id", "item_features", "context", "timestamp", "rating"}
    assert out["timestamp"].dtype == np.int64
    assert out["timestamp"].tolist() == tiny.ratings["timestamp"].astype("int64").tolist()
    assert out["user_id"].dtype == np.int32 and out["item_features"].dtype == np.float32
    assert out["user_id"].tolist() == [1, 1, 2, 2, 3]
    # features: Action Adventure Animation Children Crime Sci-Fi Thriller | old year_unknown
    assert pipeline.feature_names == ["Action", "Adventure", "Animation", "Children", "Crime",
                                      "Sci-Fi", "Thriller", "old", "year_unknown"]
    assert out["item_features"][0].tolist() == [0, 1, 1, 1, 0, 0, 0, 1, 0]  # Toy Story 1995
    assert out["item_features"][4].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1]  # Babylon 5
    np.testing.assert_allclose(pipeline.to_stars(out["rating"]), tiny.ratings["rating"])


def test_unknown_ids_go_to_the_oov_bucket(tiny):
    train = tiny.with_ratings(tiny.ratings[tiny.ratings.userId != 3])
    pipeline = kr.FeaturePipeline().fit(train)
    pairs = pd.DataFrame({"userId": [3, 1, 77], "movieId": [4, 1, 555]})
    out = pipeline.transform(pairs)
    assert out["user_id"].tolist() == [0, 1, 0]
    assert out["item_id"].tolist() == [0, 1, 0]
    # Movie 4 was never rated in train but its catalog features are still known.
    assert out["item_features"][0, -1] == 1 and out["item_features"][2, -1] == 1
    assert "rating" not in out and out["context"].tolist() == [[0, 0]] * 3
    assert out["timestamp"].tolist() == [-1, -1, -1]


def test_item_feature_table_lines_up_with_item_index(tiny):
    pipeline = kr.FeaturePipeline().fit(tiny)
    out = pipeline.transform(tiny.ratings)
    table = pipeline.item_feature_table()
    assert table.shape == (pipeline.n_items, len(pipeline.feature_names))
    np.testing.assert_array_equal(table[out["item_id"]], out["item_features"])


def test_context_from_flags_when_no_timestamp(tiny):
    pipeline = kr.FeaturePipeline().fit(tiny)
    pairs = pd.DataFrame({"userId": [1, 2], "movieId": [1, 2], "daytime": [1, False],
                          "weekend": [0, True]})
    context = pipeline.transform(pairs)["context"]
    assert context.dtype == np.uint8 and context.tolist() == [[1, 0], [0, 1]]
    # A flag is 0 or 1: a share of the day would silently truncate to 0.
    with pytest.raises(PipelineError, match="daytime and weekend columns must hold 0 or 1"):
        pipeline.transform(pairs.assign(daytime=[0.7, 1]))


def test_save_load_round_trip(tmp_path, tiny):
    pipeline = kr.FeaturePipeline(timezone="Asia/Tokyo", old_cutoff=1990,
                                  rating_scaling="standard").fit(tiny)
    path = pipeline.save(tmp_path / "pipeline.json")
    loaded = kr.FeaturePipeline.load(path)
    a, b = pipeline.transform(tiny.ratings), loaded.transform(tiny.ratings)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert loaded.config == pipeline.config
    assert not list(tmp_path.glob("*.tmp"))


def test_unfitted_pipeline(tiny):
    with pytest.raises(PipelineError, match="not fitted"):
        kr.FeaturePipeline().transform(tiny.ratings)


@pytest.mark.parametrize("edit, words", [
    (lambda s: s.update(format_version=99), "format version 99"),
    (lambda s: s.pop("genres"), "malformed"),
    (lambda s: s.update(users=[3, 1, 2]), "sorted"),
    (lambda s: s.update(format="other"), "not a kerasrec FeaturePipeline"),
    (lambda s: s["catalog"]["genres"].__setitem__(0, "Western"), "missing from the genre list"),
])
def test_edited_or_foreign_files_are_rejected(tmp_path, tiny, edit, words):
    path = kr.FeaturePipeline().fit(tiny).save(tmp_path / "p.json")
    state = json.loads(path.read_text())
    edit(state)
    path.write_text(json.dumps(state))
    with pytest.raises(PipelineError, match=words):
        kr.FeaturePipeline.load(path)


def test_load_missing_or_not_json(tmp_path):
    with pytest.raises(PipelineError, match="no pipeline file"):
        kr.FeaturePipeline.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(PipelineError, match="not valid JSON"):
        kr.FeaturePipeline.load(tmp_path / "bad.json")


@pytest.mark.parametrize("options, words", [
    ({"timezone": "Nowhere/City"}, "unknown time zone 'Nowhere/City'"),
    ({"daytime_hours": (20, 6)}, "daytime_hours must be two whole hours (start, end) with "
                                 "0 <= start < end <= 24, got (20, 6)"),
    ({"daytime_hours": "6-20"}, "got '6-20'"),
    ({"daytime_hours": (6.5, 20)}, "got (6.5, 20)"),  # was taken as 6
    ({"daytime_hours": (6, 20, 22)}, "two whole hours"),
    ({"old_cutoff": "2000"}, "old_cutoff must be a positive whole number, got '2000'"),
    ({"rating_range": (5, 1)}, "rating_range must be (low, high) with finite low < high"),
    ({"rating_range": ("1", "5")}, "rating_range must be (low, high)"),
    ({"rating_range": 5}, "rating_range must be a pair of numbers (low, high), got 5"),
])
def test_bad_config_is_named(options, words):
    with pytest.raises(PipelineError) as caught:
        kr.FeaturePipeline(**options)
    assert words in str(caught.value)


def test_config_numbers_are_kept_json_ready(tmp_path, tiny):
    pipeline = kr.FeaturePipeline(daytime_hours=(np.int64(7), 21.0), old_cutoff=np.int32(1990),
                                  rating_range=(np.float32(0.5), 5))
    assert pipeline.config.daytime_hours == (7, 21) and pipeline.config.old_cutoff == 1990
    path = pipeline.fit(tiny).save(tmp_path / "p.json")  # json.dump takes no NumPy numbers
    assert kr.FeaturePipeline.load(path).config.daytime_hours == (7, 21)


def test_fit_takes_movie_data(ratings):
    with pytest.raises(kr.ArgumentError, match="FeaturePipeline.fit's data must be a "
                                               r"kerasrec.MovieData .*got DataFrame"):
        kr.FeaturePipeline().fit(ratings)


def test_the_rating_scale_comes_with_the_data(tmp_path, products, ratings):
    ten = kr.MovieData.from_frames(products, ratings.assign(rating=ratings["rating"] * 2),
                                   rating_range=(1, 10))
    pipeline = kr.FeaturePipeline().fit(ten)
    assert pipeline.config.rating_range == (1.0, 10.0)
    np.testing.assert_allclose(pipeline.transform(ten.ratings)["rating"],
                               (ten.ratings["rating"] - 1) / 9, rtol=1e-6)
    loaded = kr.FeaturePipeline.load(pipeline.save(tmp_path / "p.json"))
    assert loaded.config.rating_range == (1.0, 10.0)
    # a pipeline given a scale keeps it, and refits take the data's again when not given
    assert kr.FeaturePipeline(rating_range=(0, 10)).fit(ten).config.rating_range == (0.0, 10.0)
    assert pipeline.fit(kr.MovieData.from_frames(products, ratings)).config.rating_range == (
        0.5, 5.0)
    assert ten.with_ratings(ten.ratings.head(2)).rating_range == (1.0, 10.0)


def test_ratings_outside_the_scale_are_refused_at_fit(products, ratings):
    # MovieData built directly is not validated: the pipeline does not clip in silence
    doubled = kr.MovieData(products, ratings.assign(rating=ratings["rating"] * 2),
                           source="mine.csv")
    with pytest.raises(kr.DataError) as caught:
        kr.FeaturePipeline().fit(doubled)
    message = str(caught.value)
    assert message.startswith("file 'mine.csv', frame 'ratings', column 'rating'")
    assert "(positions 0, 1, 2, 4)" in message  # all but the 0.5 star, once doubled
    assert "[0.5, 5] stars" in message and "rating_range=(low, high)" in message
    with pytest.raises(kr.DataError, match=r"\[1, 4\] stars"):
        kr.FeaturePipeline(rating_range=(1, 4)).fit(doubled.with_ratings(ratings))


def test_any_number_of_genres(tmp_path):
    """Seventy genres (more than one int64 of bits): every flag right, also after a reload."""
    names = [f"Genre{i:02d}" for i in range(70)]
    products = pd.DataFrame({"movieId": [1, 2, 3], "title": ["A (1990)", "B (2005)", "C (2010)"],
                             "genres": ["|".join(names[:40]), "|".join(names[35:]),
                                        "Genre69|Genre00"]})
    ratings = pd.DataFrame({"userId": [1, 2, 3], "movieId": [1, 2, 3], "rating": [4.0, 3.0, 5.0],
                            "timestamp": [964982703, 964981247, 1445714994]})
    pipeline = kr.FeaturePipeline().fit(kr.MovieData.from_frames(products, ratings))
    expected = np.zeros((3, 70), np.float32)
    expected[0, :40] = expected[1, 35:] = expected[2, [0, 69]] = 1
    np.testing.assert_array_equal(pipeline.item_features([1, 2, 3])[:, :70], expected)
    again = kr.FeaturePipeline.load(pipeline.save(tmp_path / "pipeline.json"))
    np.testing.assert_array_equal(again.item_features([1, 2, 3]), pipeline.item_features([1, 2, 3]))


def test_format_1_files_with_packed_genres_still_load(tmp_path, tiny):
    pipeline = kr.FeaturePipeline().fit(tiny)
    state = pipeline.get_config()
    vocabulary = state["genres"]
    bits = [sum(1 << vocabulary.index(g) for g in genres.split("|") if g in vocabulary)
            for genres in state["catalog"].pop("genres")]
    state.update(format_version=1)
    state["catalog"]["genre_bits"] = bits
    (tmp_path / "old.json").write_text(json.dumps(state))
    old = kr.FeaturePipeline.load(tmp_path / "old.json")
    ids = tiny.products["movieId"].to_numpy()
    np.testing.assert_array_equal(old.item_features(ids), pipeline.item_features(ids))
