"""The hybrid learns what each user watches: its lists beat the most popular movies."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import metrics  # noqa: E402
from kerasrec.models.hybrid.list_weights import fit_part_queries  # noqa: E402
from kerasrec.training import TrainConfig  # noqa: E402
from tests.conftest import popular_lists, taste_groups  # noqa: E402

FAST = TrainConfig(epochs=15, batch_size=64, learning_rate=5e-3, verbose=0)


def test_retrieval_learns_who_watches_what():
    data = taste_groups()
    train, test = kr.temporal_split(data.ratings, 0.25)
    users = np.intersect1d(test["userId"], train["userId"])
    reference = metrics.topn_score(popular_lists(train, users), test, train, ks=(10,))
    scores = {}
    for retrieval in (True, False):
        rec = kr.Recommender(train=FAST, retrieval=retrieval, retrieval_weight=0.5)
        rec.fit(data.with_ratings(train))
        lists = rec.recommend_many(users, k=10)
        scores[retrieval] = metrics.topn_score(lists, test, train, ks=(10,))["watched_recall@10"]
    assert scores[True] > 1.5 * reference["watched_recall@10"], (scores, reference)
    assert scores[True] > 1.5 * scores[False], scores
    assert rec.model_.supports("relevance") is False  # switched off: ranks by rating


def test_the_blend_weights_are_chosen_on_validation_not_test(sample_split):
    rec = kr.Recommender(train=TrainConfig(epochs=2, verbose=0)).fit(sample_split[0])
    chosen = rec.model_.chosen
    tried = chosen["val_recall@10_by_blend_recent_co_watch_half_life_after"]
    assert len(tried) >= 9 and not any(k.startswith("val_recall") for k in rec.history_)
    best = [float(v) for v in max(tried, key=tried.get).split(",")]
    backbone = rec.model_.backbone
    assert [backbone.relevance_blend, backbone.recent_weight, backbone.co_watch_weight,
            backbone.co_watch_half_life, chosen["co_watch_after_weight"]
            ] == pytest.approx(best, rel=1e-5)
    assert rec.model_.chosen["validation_cut"] == "random"


def test_the_validation_queries_never_hold_a_held_out_movie(sample_split):
    """The queries that choose the weights are rebuilt from the fit part alone: equal to
    the model's own queries for a user none of whose ratings were held out, and free of
    the held-out movies otherwise."""
    from kerasrec import training

    train = sample_split[0]
    # co_watch_pool above the catalog's size: nothing pruned, so the EASE and "after"
    # halves add up to what the model keeps.
    rec = kr.Recommender(train=TrainConfig(epochs=1, verbose=0), co_watch_pool=1000).fit(train)
    model, x = rec.model_, rec.pipeline_.transform(train.ratings)
    fit_idx, val_idx = training.validation_rows(x, 0.1, 0, "temporal")
    users = np.unique(x["user_id"])[:20]
    history, recent, co_watch = fit_part_queries(model.backbone, model.config, users, x,
                                                 fit_idx, (0.0, 5.0))
    all_history, all_recent, all_co_watch = fit_part_queries(
        model.backbone, model.config, users, x, np.arange(len(x["user_id"])), (0.0, 5.0))
    np.testing.assert_allclose(all_history, model._query_parts(users)[0], atol=1e-5)
    np.testing.assert_allclose(all_recent, model._query_parts(users)[1], atol=1e-5)
    rows = slice(0, len(users))
    after_weight = model.chosen["co_watch_after_weight"]
    for half_life in (0.0, 5.0):  # refitted on every rating, they are what the model keeps
        together, after = all_co_watch(half_life, rows)
        np.testing.assert_allclose(together + after_weight * after,
                                   model.backbone.co_watch_scores(users, half_life),
                                   rtol=1e-4, atol=1e-5)
    held_users = np.isin(users, x["user_id"][val_idx])
    assert held_users.any()
    assert not np.allclose(history[held_users], all_history[held_users])
    for fit_part, every in zip(co_watch(0.0, rows), all_co_watch(0.0, rows)):
        assert not np.allclose(fit_part[held_users], every[held_users])


def test_a_temporal_validation_cut_holds_out_each_users_latest_ratings():
    from kerasrec import training

    users = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3])
    times = np.array([5, 1, 9, 3, 7, 2, 8, 4, 6, 10, 2, 1, 1])
    fit, val = training.validation_rows({"user_id": users, "timestamp": times}, 0.2, 0,
                                        "temporal")
    assert sorted(times[val[users[val] == 1]]) == [9, 10]
    assert not (users[val] == 2).any()  # 20% of two ratings rounds to none
    assert 12 in fit  # a user with one rating keeps it
    assert sorted(np.concatenate([fit, val])) == list(range(len(users)))
    fit2, val2 = training.validation_rows({"user_id": users, "timestamp": times}, 0.2, 0,
                                          "random")
    assert sorted(np.concatenate([fit2, val2])) == list(range(len(users)))


def test_large_catalogs_train_retrieval_with_in_batch_negatives(monkeypatch, tmp_path):
    """Above the full-softmax limit the retrieval loss uses the batch's other movies as
    negatives (keras-rs logQ correction, accidental hits removed): lists still learn who
    watches what, and the model saves, reloads and serves the same lists."""
    from kerasrec.models.hybrid import model as hybrid_model

    monkeypatch.setattr(hybrid_model, "RETRIEVAL_SOFTMAX_LIMIT", 10)
    data = taste_groups()
    train, test = kr.temporal_split(data.ratings, 0.25)
    users = np.intersect1d(test["userId"], train["userId"])
    reference = metrics.topn_score(popular_lists(train, users), test, train, ks=(10,))
    rec = kr.Recommender(train=FAST, retrieval_weight=0.5).fit(data.with_ratings(train))
    assert rec.model_.config.retrieval_negatives == "in_batch"
    assert rec.model_.backbone.in_batch is not None and rec.model_.supports("relevance")
    recall = metrics.topn_score(rec.recommend_many(users, k=10), test, train,
                                ks=(10,))["watched_recall@10"]
    assert recall > 1.5 * reference["watched_recall@10"], (recall, reference)
    loaded = kr.Recommender.load(rec.save(tmp_path / "rec"))
    assert loaded.recommend(1, k=5)["movieId"].tolist() == rec.recommend(1, k=5)["movieId"].tolist()


def test_in_batch_correction_subtracts_log_q_and_masks_accidental_hits():
    from kerasrec.models.hybrid.retrieval_layers import InBatchCorrection, InBatchSoftmax

    layer = InBatchCorrection(5)
    items = np.array([1, 2, 1, 4], np.int32)
    layer.build((4, 4))
    layer.set_frequency(np.array([1, 1, 1, 2, 4, 4, 4, 4]))  # shares 3/8, 1/8, 4/8 of items 1, 2, 4
    logits = np.zeros((4, 4), np.float32)
    out = np.asarray(layer(logits, items))
    share = np.array([3, 1, 3, 4]) / 8
    np.testing.assert_allclose(np.diag(out), -np.log(share), rtol=1e-5)
    assert out[0, 2] < -1e6 and out[2, 0] < -1e6  # row 0's movie is item 1, at column 2 too
    np.testing.assert_allclose(out[0, 1], -np.log(1 / 8), rtol=1e-5)
    loss = float(InBatchSoftmax()(np.zeros(4), np.eye(4, dtype=np.float32) * 10))
    assert loss < 1e-3 < float(InBatchSoftmax()(np.zeros(4), np.zeros((4, 4), np.float32)))


def test_similar_items_use_the_retrieval_vectors(hybrid):
    """Neighbours by who watches what, not by genre (benchmarks/similar_items.py measures
    the difference on MovieLens: 56% of neighbours co-rated by 20+ users against 17%)."""
    movies = hybrid.catalog_.movie_ids
    rows = hybrid.pipeline_.item_index(movies)
    expected = np.asarray(hybrid.model_.backbone.catalog_scores.item_vectors())[rows]
    np.testing.assert_allclose(hybrid.item_vectors(), expected, rtol=1e-6)
    top = hybrid.similar_items(int(movies[0]), k=5)
    unit = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    cosine = unit[hybrid.catalog_.position(top["movieId"])] @ unit[0]
    np.testing.assert_allclose(top["similarity"], cosine, rtol=1e-5)


def test_the_retrieval_tower_holds_the_genre_table_with_or_without_the_sequence(prepared):
    from kerasrec.models.hybrid import HybridBackbone, HybridConfig

    table = prepared["pipeline"].item_feature_table()
    for on in (True, False):
        backbone = HybridBackbone.from_training(
            prepared["pipeline"], prepared["x"], HybridConfig(neighbours=(), history_attention=on))
        np.testing.assert_array_equal(backbone.catalog_scores.feature_table.numpy(), table)
        assert (backbone.history_attention is not None) is on


def test_catch_up_comes_after_the_list_weights_are_chosen(sample_split):
    """The catch-up pass learns from the rows the weights were chosen on, so it must
    come after the choice: the same weights are chosen with it, and the model moves."""
    train, test = sample_split
    # without the neighbourhood, which no list weight reads (a third of the time)
    fitted = {on: kr.Recommender(train=TrainConfig(epochs=2, verbose=0, catch_up=on),
                                 neighbours=()).fit(train)
              for on in (False, True)}
    keys = ("relevance_blend", "recent_weight", "co_watch_weight", "co_watch_half_life")
    assert ([fitted[True].model_.chosen[k] for k in keys]
            == [fitted[False].model_.chosen[k] for k in keys])
    assert not np.allclose(fitted[True].predict(test), fitted[False].predict(test))


def test_without_the_tower_the_factorized_part_chooses_candidates_ranked_by_stars(
        sample, tmp_path):
    """retrieval=False: lists rank by stars, and two stages still need no table: the
    MF share of the rating head chooses the candidates (the contract check holds the
    lists equal with every movie a candidate; here a few hundred keep most of them)."""
    from kerasrec import scoring
    from kerasrec.rerank import best_columns
    from kerasrec.testing import Fitted, check_two_stages_rank_as_relevance

    train, test = kr.random_split(sample.ratings, 0.2, seed=0)
    rec = kr.Recommender(train=TrainConfig(epochs=3, batch_size=256, learning_rate=3e-3,
                                           verbose=0), retrieval=False, seed=0)
    rec.fit(sample.with_ratings(train))
    module = rec.model_.retrieval_module()
    assert (module.rank_by, module.first_weight, module.stars_weight) == ("rating", 0.0, 1.0)
    check_two_stages_rank_as_relevance(Fitted(rec, train, test), tmp_path)

    rows = np.arange(1, rec.pipeline_.n_users, dtype=np.int64)
    table = rec.score_table()
    columns = rec.pipeline_.item_index(rec.catalog_.movie_ids)
    allowed = rec.catalog_.allowed(rows)
    stars = np.where(allowed, table.stars[rows][:, :-1], -np.inf)
    first = np.where(allowed, np.asarray(module(rows))[:, columns], -np.inf)
    exact = best_columns(stars, 10)
    pool = best_columns(first, 100)
    found = np.mean([np.isin(e, p).mean() for e, p in zip(exact, pool)])
    shuffled = np.mean([np.isin(e, p).mean() for e, p in zip(exact, pool[::-1])])
    # The first stage finds the best movies by stars far more often than another
    # user's candidates do (the catalog's popular movies are in everyone's pool).
    assert found > 0.95 and found > shuffled + 0.3, (found, shuffled)
    import pandas as pd

    live = scoring.live_lists(rec.model_, rec.pipeline_, rec.catalog_, rows, 10,
                              pd.DataFrame({"userId": [0], "movieId": [0]}),
                              rank_by="rating", candidates=100)
    listed = rec.catalog_.movie_ids[exact]
    overlap = np.mean([np.isin(group["movieId"], listed[position]).mean()
                       for position, group in live.groupby("row_position")])
    assert overlap > 0.95, overlap


def test_stars_alone_train_all_but_the_sequence_branch_the_training_model_trains_all(
        prepared):
    """What the guide says of the builder route: on the rating loss alone every variable
    of the training model gets a gradient but the sequence branch's, and those are
    exactly what the backbone leaves out of its own trainable variables (so Keras has
    none without a gradient to warn about); the training model's losses, which
    ``Hybrid.fit`` trains on, reach every one."""
    import keras
    import tensorflow as tf

    from kerasrec import training
    from kerasrec.models import build_model

    model = build_model("hybrid", prepared["pipeline"], prepared["x"], seed=0)
    x = {k: v[:256] for k, v in prepared["x"].items()}
    inputs = training.model_inputs(model, x)

    heads = model.training_model()

    def missing(loss_of) -> set:
        with tf.GradientTape() as tape:
            loss = loss_of()
        grads = tape.gradient(loss, heads.trainable_variables)
        return {v.path for v, g in zip(heads.trainable_variables, grads) if g is None}

    def stars_loss():
        return tf.reduce_mean(tf.square(model(inputs, training=True)[:, 0] - x["rating"]))

    assert set(heads.output) == {"rating", "retrieval", "recent"}

    def all_losses():
        out = heads(inputs, training=True)
        softmaxes = [keras.losses.sparse_categorical_crossentropy(
            x["item_id"][:out[h].shape[0]], out[h], from_logits=True)
            for h in ("retrieval", "recent")]
        return (tf.reduce_mean(tf.square(out["rating"][:, 0] - x["rating"]))
                + sum(tf.reduce_mean(s) for s in softmaxes))

    branch = {v.path for v in model.history_attention.trainable_variables}
    assert branch and missing(stars_loss) == branch
    assert missing(all_losses) == set()
    left_out = {v.path for v in heads.trainable_variables} - {
        v.path for v in model.trainable_variables}
    assert left_out == branch
