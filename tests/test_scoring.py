"""The score table equals the model, pair by pair, in every context and cold-start case."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import scoring  # noqa: E402
from kerasrec.training import TrainConfig  # noqa: E402

UNKNOWN_USER, UNKNOWN_MOVIE = 10 ** 6, 10 ** 8


def _pairs(rec, split) -> pd.DataFrame:
    """Test pairs plus every cold-start kind, with real timestamps."""
    train, test = split
    unrated = rec.catalog_.movies.index[rec.catalog_.movies["n_ratings"] == 0][:5].to_numpy()
    user = int(train.ratings["userId"].iloc[0])
    extra = pd.DataFrame({
        "userId": [UNKNOWN_USER] * 3 + [user] * 2 + [UNKNOWN_USER] * len(unrated),
        "movieId": [int(test["movieId"].iloc[0]), UNKNOWN_MOVIE, int(unrated[0]),
                    UNKNOWN_MOVIE, int(unrated[1]), *unrated],
        "timestamp": 1_500_000_000})
    return pd.concat([test[["userId", "movieId", "timestamp"]], extra], ignore_index=True)


def _direct(rec, pairs, clip=True):
    """Predictions through the model pair by pair, not the table."""
    block = scoring.make_block(rec.pipeline_, rec.model_, pairs)
    return scoring.predict_block(rec.model_, rec.catalog_, block,
                                 clip=rec.pipeline_.config.rating_range if clip else None)


@pytest.mark.parametrize("context", ["timestamp", "flags", "none", "training sessions"])
def test_table_equals_the_model(hybrid, sample_split, context):
    pairs = _pairs(hybrid, sample_split)
    if context == "flags":
        rng = np.random.default_rng(0)
        pairs = pairs.drop(columns="timestamp").assign(
            daytime=rng.integers(0, 2, len(pairs)), weekend=rng.integers(0, 2, len(pairs)))
    elif context == "none":
        pairs = pairs.drop(columns="timestamp")
    elif context == "training sessions":  # the session bias is non-zero here
        pairs = sample_split[0].ratings[["userId", "movieId", "timestamp"]].head(2000)
    table = hybrid.predict(pairs)
    direct = _direct(hybrid, pairs.reset_index(drop=True))
    np.testing.assert_allclose(table, direct, atol=1e-5)
    if context == "training sessions":
        without = hybrid.predict(pairs.drop(columns="timestamp"))
        assert np.abs(table - without).max() > 1e-3, "session and context parts matter"


def test_recommend_ranks_by_the_unclipped_score(hybrid, sample_split):
    user = int(sample_split[0].ratings["userId"].iloc[0])
    top = hybrid.recommend(user, k=10, context={"daytime": 1, "weekend": 0}, rank_by="rating")
    catalog = hybrid.catalog_.movies
    seen = set(sample_split[0].ratings.query("userId == @user")["movieId"])
    candidates = np.array(sorted(set(catalog.index[catalog["n_ratings"] > 0]) - seen))
    pairs = pd.DataFrame({"userId": user, "movieId": candidates, "daytime": 1, "weekend": 0})
    raw = _direct(hybrid, pairs, clip=False)
    expected = candidates[np.lexsort((candidates, -raw))[:10]]
    assert top["movieId"].tolist() == expected.tolist()
    np.testing.assert_allclose(top["predicted_rating"], np.clip(np.sort(raw)[::-1][:10], 0.5, 5),
                               atol=1e-5)


def test_table_round_trip(hybrid, tmp_path):
    table = hybrid.score_table()
    table.save(tmp_path / "t.npz")
    back = scoring.ScoreTable.load(tmp_path / "t.npz", terms=table.terms)
    for name in ("user_ids", "movie_ids", "stars", "slope", "item_known", "item_vectors"):
        np.testing.assert_array_equal(getattr(back, name), getattr(table, name), err_msg=name)
    assert back.rating_range == table.rating_range
    # the terms are not stored: they come from the model's weights
    assert set(np.load(tmp_path / "t.npz").files) == {
        "user_ids", "movie_ids", "stars", "slope", "item_known", "rating_range", "item_vectors",
        "relevance", "stars_weight"}
    np.testing.assert_array_equal(back.relevance, table.relevance)
    assert back.stars_weight == table.stars_weight is not None  # the hybrid: two stages
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(Exception):
        scoring.ScoreTable.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", stars=np.zeros((2, 2)))
    with pytest.raises(kr.ArtifactError, match="not a score table"):
        scoring.ScoreTable.load(tmp_path / "other.npz")


def test_no_table_beyond_the_limit(hybrid, sample_split, tmp_path, monkeypatch):
    hybrid.save(tmp_path / "rec")
    (tmp_path / "rec" / "scores.npz").unlink(missing_ok=True)
    monkeypatch.setattr(scoring, "SCORE_TABLE_LIMIT", 100)
    rec = kr.Recommender.load(tmp_path / "rec")
    with pytest.raises(kr.CapabilityError, match="exceed the score table limit"):
        rec.score_table()
    test = sample_split[1]
    # without a table the model scores every pair itself, to the same numbers
    np.testing.assert_allclose(rec.predict(test), hybrid.predict(test), atol=1e-5)
    assert len(rec.recommend(int(test["userId"].iloc[0]), k=3)) == 3


def test_mf_table_keeps_the_baseline_for_cold_pairs(sample_split):
    rec = kr.Recommender("mf", train=TrainConfig(epochs=2, verbose=0)).fit(sample_split[0])
    pairs = _pairs(rec, sample_split)
    np.testing.assert_allclose(rec.predict(pairs), _direct(rec, pairs), atol=1e-5)
    table = rec.score_table()
    assert table.terms is None  # MF ignores context: the table is exact everywhere
