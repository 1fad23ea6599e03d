"""The contract check every registered model passes (like scikit-learn's
``parametrize_with_checks`` and keras-hub's ``TestCase`` model checks).

A new model gets all of it by registering::

    import pytest
    from kerasrec.models import model_names
    from kerasrec.testing import CHECKS, fitted_model

    @pytest.mark.parametrize("name", model_names())
    @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
    def test_contract(name, check, tmp_path):
        check(fitted_model(name), tmp_path)

Each check takes a :class:`Fitted` (a Recommender trained briefly on the bundled
sample, and the held-out ratings) and a scratch folder, and raises AssertionError
when the model breaks the contract. Models train with their ``quick_options`` and
``quick_train``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kerasrec.errors import CapabilityError

UNKNOWN_USER, UNKNOWN_MOVIE = 10 ** 9, 10 ** 9
CONTEXTS = (None, {"daytime": 1, "weekend": 1}, 1_500_000_000)


@dataclass
class Fitted:
    """A Recommender fitted on the sample's training part, with the held-out part."""

    rec: object
    train: pd.DataFrame
    test: pd.DataFrame


@functools.lru_cache(maxsize=None)
def fitted_model(name: str, seed: int = 0) -> Fitted:
    """Train model ``name`` briefly on 80% of the bundled sample (cached per process)."""
    import kerasrec as kr
    from kerasrec.models import model_class

    cls = model_class(name)
    data = kr.load_sample()
    train, test = kr.random_split(data.ratings, 0.2, seed=seed)
    rec = kr.Recommender(name, seed=seed, train=cls.train_config(seed=seed, **cls.quick_train),
                         **cls.quick_options).fit(data.with_ratings(train))
    return Fitted(rec, train, test)


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def _pairs(f: Fitted, n: int = 300) -> pd.DataFrame:
    """Test pairs plus every kind of cold pair, with timestamps."""
    test = f.test.head(n)
    known_user, known_movie = int(f.train["userId"].iloc[0]), int(f.train["movieId"].iloc[0])
    cold = pd.DataFrame({"userId": [UNKNOWN_USER, known_user, UNKNOWN_USER],
                         "movieId": [known_movie, UNKNOWN_MOVIE, UNKNOWN_MOVIE],
                         "timestamp": [1_500_000_000, -1, 1_600_000_000]})
    return pd.concat([test[["userId", "movieId", "timestamp"]], cold], ignore_index=True)


def check_beats_the_global_mean(f: Fitted, tmp_path: Path) -> None:
    """Trained briefly, the model predicts held-out ratings better than the mean."""
    mean = _rmse(np.full(len(f.test), f.train["rating"].mean()), f.test["rating"])
    rmse = f.rec.evaluate(f.test)["rmse"]
    if f.rec.model_.trivial:  # the reference itself: it is the mean
        assert abs(rmse - mean) < 1e-6, (rmse, mean)
        return
    assert rmse < mean - 0.02, f"{f.rec.model}: RMSE {rmse:.4f}, the mean {mean:.4f}"


def check_cold_start_never_raises(f: Fitted, tmp_path: Path) -> None:
    """Unknown users and movies get finite predictions in range, and recommendations."""
    rec = f.rec
    lo, hi = rec.pipeline_.config.rating_range
    stars = rec.predict(_pairs(f))
    assert np.isfinite(stars).all() and (stars >= lo).all() and (stars <= hi).all()
    assert abs(stars[-1] - np.clip(rec.global_mean_, lo, hi)) < 1e-5, "both unknown: the mean"
    top = rec.recommend(UNKNOWN_USER, k=5)
    assert len(top) == 5 and (top["movieId"].isin(rec.catalog_.movie_ids)).all()


def check_save_load_round_trip(f: Fitted, tmp_path: Path) -> None:
    """A saved and loaded model predicts and recommends exactly as before."""
    import kerasrec as kr

    pairs = _pairs(f)
    before = f.rec.predict(pairs)
    loaded = kr.Recommender.load(f.rec.save(tmp_path / "saved"))
    np.testing.assert_array_equal(loaded.predict(pairs), before)
    user = int(f.train["userId"].iloc[0])
    pd.testing.assert_frame_equal(loaded.recommend(user, k=5), f.rec.recommend(user, k=5))
    assert not list(tmp_path.rglob("*.pkl")), "nothing is pickled"


def check_table_equals_direct_scoring(f: Fitted, tmp_path: Path) -> None:
    """The score table gives what the model gives pair by pair, at every context."""
    from kerasrec import scoring

    rec = f.rec
    problem = scoring.table_problem(rec.model_, rec.pipeline_, rec.catalog_)
    if problem:
        return
    table = rec.score_table()
    for context in CONTEXTS:
        pairs = _pairs(f).drop(columns="timestamp")
        if isinstance(context, dict):
            pairs = pairs.assign(**context)
        elif context is not None:
            pairs = pairs.assign(timestamp=context)
        direct = scoring.predict_block(rec.model_, rec.catalog_, scoring.make_block(
            rec.pipeline_, rec.model_, pairs), clip=rec.pipeline_.config.rating_range)
        np.testing.assert_allclose(rec.predict(pairs), direct, atol=2e-5, err_msg=str(context))
    assert table.stars.shape == (len(rec.pipeline_.user_vocabulary_) + 1,
                                 len(rec.catalog_.movies) + 1)


def check_export_equals_predict(f: Fitted, tmp_path: Path) -> None:
    """The SavedModel's ``serving_default``, ``recommend`` and ``recommend_user`` (ids
    only) equal the Recommender."""
    from kerasrec import scoring

    rec = f.rec
    if scoring.table_problem(rec.model_, rec.pipeline_, rec.catalog_):
        try:
            from kerasrec.export import export_saved_model

            export_saved_model(rec, tmp_path / "served")
        except CapabilityError:
            return
        raise AssertionError("export without a score table should raise CapabilityError")
    import tensorflow as tf

    from kerasrec.export import export_saved_model

    served = tf.saved_model.load(str(export_saved_model(rec, tmp_path / "served")))
    pairs = _pairs(f)
    n = len(pairs)
    out = served.signatures["serving_default"](
        user_id=tf.constant(pairs["userId"].to_numpy(np.int64)),
        movie_id=tf.constant(pairs["movieId"].to_numpy(np.int64)),
        daytime=tf.zeros(n), weekend=tf.zeros(n),
        timestamp=tf.constant(pairs["timestamp"].to_numpy(np.int64)))
    np.testing.assert_allclose(out["rating"].numpy(), rec.predict(pairs), atol=1e-4)
    user = int(f.train["userId"].iloc[0])
    top = served.signatures["recommend"](
        user_id=tf.constant([user], tf.int64), daytime=tf.zeros(1), weekend=tf.zeros(1),
        timestamp=tf.constant([-1], tf.int64), k=tf.constant([5], tf.int64),
        exclude_seen=tf.constant([True]))
    assert top["movie_id"].numpy()[0].tolist() == rec.recommend(user, k=5)["movieId"].tolist()
    ids_only = served.signatures["recommend_user"](user_id=tf.constant([user], tf.int64),
                                                   k=tf.constant([5], tf.int64))
    assert ids_only["movie_id"].numpy()[0].tolist() == top["movie_id"].numpy()[0].tolist()


def check_unsupported_capabilities_raise(f: Fitted, tmp_path: Path) -> None:
    """What the model cannot do raises CapabilityError; what it can, works."""
    rec = f.rec
    user, movie = int(f.train["userId"].iloc[0]), int(f.train["movieId"].iloc[0])
    calls = {"explain": lambda: rec.explain(user, movie),
             "item_vectors": lambda: rec.similar_items(movie, k=3),
             "explain_relevance": lambda: rec.explain_relevance(user, movie),
             "recent": lambda: rec.recommend(user, k=3, recent=[movie])}
    for capability, call in calls.items():
        if rec.model_.supports(capability):
            assert len(call()) > 0
        else:
            try:
                call()
            except CapabilityError:
                continue
            raise AssertionError(f"{rec.model}: {capability} should raise CapabilityError")


def check_explanations_add_up(f: Fitted, tmp_path: Path) -> None:
    """Where a model explains, its parts sum to ``predict``, cold pairs included."""
    rec = f.rec
    if not rec.model_.supports("explain"):
        return
    pairs = _pairs(f, n=3)
    for row in pairs.itertuples():
        parts = rec.explain(row.userId, row.movieId, context=int(row.timestamp))
        expected = rec.predict(pd.DataFrame({"userId": [row.userId], "movieId": [row.movieId],
                                             "timestamp": [row.timestamp]}))[0]
        assert abs(parts.sum() - expected) < 1e-4, (row, parts.sum(), expected)
    if rec.model_.supports("explain_relevance"):
        # ... and the parts of relevance sum to what lists rank by.
        table = rec.score_table()
        for row in pairs.itertuples():
            parts = rec.explain_relevance(row.userId, row.movieId)
            user_row, column = table.rows([row.userId])[0], table.columns([row.movieId])[0]
            if column < table.n_movies:  # a two-stage table: first stage + stars
                expected = (table.relevance[user_row, column]
                            + (table.stars_weight or 0.0) * table.stars[user_row, column])
                assert abs(parts.sum() - expected) < 1e-4, (row, parts.sum(), expected)
    if rec.model_.supports("recent"):
        # With recent movies: the module's parts sum to its shift, the explained parts
        # to the shifted relevance, and "because" to the parts it explains.
        recent = [int(m) for m in f.train["movieId"].unique()[:2]]
        items = rec.pipeline_.item_index(np.asarray(recent)).astype(np.int64)[None, :]
        module = rec.model_.recent_module()
        for row in pairs.itertuples():
            rows = rec.pipeline_.user_index([row.userId]).astype(np.int64)
            shift = np.asarray(module(rows, items))[0]
            split = {k: np.asarray(v)[0] for k, v in module.parts(rows, items).items()}
            np.testing.assert_allclose(sum(split.values()), shift, atol=1e-4)
            column = rec.pipeline_.item_index([row.movieId])[0]
            before = rec.explain_relevance(row.userId, row.movieId)
            after = rec.explain_relevance(row.userId, row.movieId, recent=recent)
            assert abs(after.sum() - before.sum() - shift[column]) < 1e-3, (row, shift[column])
            because = rec.because(row.userId, row.movieId, recent=recent)
            explained = sum(after[name] for name in split)
            assert abs(because["share"].sum() - explained) < 1e-3, (row, explained)


def check_two_stages_rank_as_relevance(f: Fitted, tmp_path: Path) -> None:
    """A two-stage model's stages add up to what its lists rank by, and its lists are
    the same from the score table, without it, and from a SavedModel without it.

    A model ranked by relevance stores its first stage in the table, so the lists
    agree at any candidate count; one ranked by stars keeps the stars whole in the
    table (exact), so the lists are compared with every movie a candidate, and its
    second stage must be its stars."""
    from kerasrec import scoring

    rec = f.rec
    if not rec.model_.supports("retrieval"):
        return
    module = rec.model_.retrieval_module()
    pairs = _pairs(f, n=40)
    block = scoring.make_block(rec.pipeline_, rec.model_, pairs)
    known = block["user_id"] > 0
    stars = rec.model_.score(block)
    first = np.asarray(module(block["user_id"].astype(np.int64)))[
        np.arange(len(stars)), block["item_id"]]
    if module.rank_by == "relevance":
        ranked = rec.model_.relevance(block, stars)
    else:
        assert module.rank_by == "rating" and module.first_weight == 0, module.rank_by
        ranked = stars
    np.testing.assert_allclose((module.first_weight * first + module.stars_weight * stars)[known],
                               ranked[known], atol=1e-4)
    users = [int(u) for u in f.train["userId"].unique()[:5]] + [UNKNOWN_USER]
    saved_candidates = rec.candidates
    if module.rank_by == "rating":
        rec.candidates = len(rec.catalog_.movie_ids)
    try:
        with_table = rec.recommend_many(users, k=5)
        table, rec._table = rec._table, None
        original = scoring.table_problem
        try:
            scoring.table_problem = lambda *args: "a table is not allowed in this check"
            without = rec.recommend_many(users, k=5)
            single = rec.recommend(users[0], k=5)
        finally:
            scoring.table_problem, rec._table = original, table
        assert with_table["movieId"].tolist() == without["movieId"].tolist()
        assert single["movieId"].tolist() == without["movieId"].tolist()[:5]
        np.testing.assert_allclose(without["predicted_rating"], with_table["predicted_rating"],
                                   atol=1e-4)

        import tensorflow as tf

        from kerasrec.export import export_saved_model

        served = tf.saved_model.load(str(export_saved_model(rec, tmp_path / "two_stages",
                                                            score_table=False)))
    finally:
        rec.candidates = saved_candidates
    n = len(users)
    top = served.signatures["recommend"](
        user_id=tf.constant(users, tf.int64), daytime=tf.zeros(n), weekend=tf.zeros(n),
        timestamp=tf.constant([-1] * n, tf.int64), k=tf.constant([5] * n, tf.int64),
        exclude_seen=tf.constant([True] * n))
    assert top["movie_id"].numpy().ravel().tolist() == with_table["movieId"].tolist()


def check_rating_scale_is_a_unit(f: Fitted, tmp_path: Path) -> None:
    """The same ratings out of ten (``rating_range=(1, 10)``, every rating doubled) give
    exactly twice the stars and the same lists: no setting of the model is tied to
    MovieLens' 0.5-5 stars."""
    import kerasrec as kr

    products = kr.load_sample().products
    doubled = f.train.assign(rating=f.train["rating"] * 2)
    ten = kr.Recommender(**f.rec.get_params()).fit(
        kr.MovieData(products, doubled, rating_range=(1, 10)))
    assert ten.pipeline_.config.rating_range == (1.0, 10.0)
    pairs = _pairs(f)
    np.testing.assert_allclose(ten.predict(pairs), 2 * f.rec.predict(pairs), rtol=1e-5,
                               atol=1e-5, err_msg=f"{f.rec.model}: stars out of ten")
    for user in f.test["userId"].unique()[:3].tolist():
        assert (ten.recommend(user, k=10)["movieId"].tolist()
                == f.rec.recommend(user, k=10)["movieId"].tolist()), (f.rec.model, user)


CHECKS = (check_beats_the_global_mean, check_cold_start_never_raises,
          check_save_load_round_trip, check_table_equals_direct_scoring,
          check_export_equals_predict, check_unsupported_capabilities_raise,
          check_explanations_add_up, check_two_stages_rank_as_relevance,
          check_rating_scale_is_a_unit)
