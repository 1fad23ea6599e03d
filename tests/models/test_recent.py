"""The sequence branch: the recent-history rule (NumPy = TensorFlow, no leakage), the
branch learning a taste that drifts, and ``recent=`` at recommendation time."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec.errors import ArgumentError, CapabilityError  # noqa: E402
from kerasrec.models.hybrid import list_weights  # noqa: E402
from kerasrec.models.hybrid.recent import (era_edges, era_of, era_of_ops,  # noqa: E402
                                           history_keys, latest_time, merge_recent,
                                           moment_keys, recent_arrays, recent_residual,
                                           recent_residual_ops, recent_window,
                                           recent_window_ops, sorted_history,
                                           whole_history, whole_history_ops)
from kerasrec.models.hybrid.sessions import user_offsets  # noqa: E402
from kerasrec.training import TrainConfig  # noqa: E402
from tests.conftest import drift_fits, fading_scale, rmse, watched_recall  # noqa: E402

# Judged on what users do next, so its settings are chosen on each user's latest ratings.
FAST = TrainConfig(epochs=15, batch_size=64, learning_rate=5e-3, verbose=0,
                   validation_cut="temporal")


def _history(seed=0, n=400):
    rng = np.random.default_rng(seed)
    users = rng.integers(1, 30, n)
    times = rng.integers(0, 50, n) * 1000  # many ties within a user
    times[rng.random(n) < 0.05] = -1  # unknown times sort last
    items = rng.integers(1, 100, n)
    return users, items, times


def test_recent_window_in_keras_ops_equals_numpy():
    users, items, times = _history()
    keys, _, _ = sorted_history(users, items, times, np.zeros(len(users)))
    rng = np.random.default_rng(1)
    q_users = np.append(rng.integers(0, 32, 300), [0, 31])
    q_times = np.append(rng.choice([-1, 0, 999, 25_000, 10 ** 12], 300), [-1, -1])
    offsets = user_offsets(keys, 32)
    own = (offsets[q_users], offsets[q_users + 1])  # each user's keys alone
    for length in (1, 5, 40):
        positions, valid = recent_window(keys, q_users, q_times, length)
        for bounds in (None, own):
            ops_positions, ops_valid = recent_window_ops(keys, q_users, q_times, length, bounds)
            np.testing.assert_array_equal(positions, np.asarray(ops_positions))
            np.testing.assert_array_equal(valid, np.asarray(ops_valid))
    expected = whole_history(keys, q_users, q_times)
    for bounds in (None, own):
        for a, b in zip(expected, whole_history_ops(keys, q_users, q_times, bounds)):
            np.testing.assert_array_equal(a, np.asarray(b))
    assert len(expected[0]) > 300  # the check can fail: users with many ratings


def test_recent_residual_in_tensorflow_equals_numpy_and_reads_only_the_past():
    users, items, times = _history()
    residuals = np.random.default_rng(2).normal(size=len(users)).astype(np.float32)
    keys, _, stored = sorted_history(users, items, times, residuals)
    rng = np.random.default_rng(3)
    q_users = np.append(rng.integers(0, 32, 300), [0, 31])
    q_times = np.append(rng.choice([-1, 0, 999, 25_000, 10 ** 12], 300), [-1, -1])
    offsets = user_offsets(keys, 32)
    latest = latest_time(keys)
    assert latest == times[times < 10 ** 9].max()
    for length, shrink, half_life in ((1, 0.5, 0.0), (10, 5.0, 0.0), (40, 20.0, 0.0),
                                      (10, 5.0, 0.05), (40, 20.0, 1.0)):
        expected = recent_residual(keys, stored, q_users, q_times, length, shrink, half_life,
                                   latest)
        for bounds in (None, (offsets[q_users], offsets[q_users + 1])):
            got = recent_residual_ops(keys, stored, q_users, q_times, length, shrink,
                                      half_life, latest, bounds)
            np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-7)
        if half_life:  # fading moves a mean when time has passed since the last rating
            flat = recent_residual(keys, stored, q_users, q_times, length, shrink)
            assert (np.abs(flat) > np.abs(expected) + 1e-4).sum() > 50
    # By hand: user 5's last three ratings strictly before 25,000, shrunk by 2.
    mine = (users == 5) & (times >= 0) & (times < 25_000)
    order = np.lexsort((np.arange(len(users))[mine], times[mine]))
    by_hand = residuals[mine][order][-3:].sum() / (min(mine.sum(), 3) + 2.0)
    np.testing.assert_allclose(recent_residual(keys, stored, [5], [25_000], 3, 2.0), [by_hand],
                               rtol=1e-5)
    # ... faded by the days since the last of them, half a day being a half-life.
    days = (25_000 - times[mine][order][-1]) / 86_400
    np.testing.assert_allclose(recent_residual(keys, stored, [5], [25_000], 3, 2.0, 0.5),
                               [by_hand * 0.5 ** (days / 0.5)], rtol=1e-5)
    # "Now" is the latest dated rating: at it, a user whose last rating it is does not fade.
    dated = keys[keys % 2 ** 32 < 10 ** 9]
    last_user = int(dated[np.argmax(dated % 2 ** 32)] // 2 ** 32)
    np.testing.assert_allclose(
        recent_residual(keys, stored, [last_user], [-1], 10, 5.0, 0.01, latest),
        recent_residual(keys, stored, [last_user], [-1], 10, 5.0))
    # No leakage: what is rated at or after a moment never moves its value.
    later = (keys % 2 ** 32) >= 25_000
    moved = np.where(later, stored + 100.0, stored)
    for half_life in (0.0, 0.1):
        np.testing.assert_array_equal(
            recent_residual(keys, moved, q_users, np.full(302, 25_000), 10, 5.0, half_life),
            recent_residual(keys, stored, q_users, np.full(302, 25_000), 10, 5.0, half_life))
    # A user without ratings before the moment gets 0.
    assert recent_residual(keys, stored, [0], [-1], 10, 5.0)[0] == 0.0


@pytest.mark.parametrize("n_users", [0, 32], ids=["all-keys", "own-keys"])
def test_the_layer_finds_the_same_windows_searching_all_keys_or_the_users_own(n_users):
    from kerasrec.models.hybrid.time_layers import RecentRatings

    users, items, times = _history()
    layer = RecentRatings(len(users), 6, n_users=n_users)
    layer.build(None)
    ratings = np.linspace(-1, 1, len(users))
    layer.set_history(users, items, times, ratings)
    keys, sorted_items, sorted_ratings = sorted_history(users, items, times, ratings)
    q_users = np.array([0, 3, 7, 12, 29, 31, 7])
    q_times = np.array([-1, 12_000, -1, 0, 30_000, -1, 10 ** 12])
    positions, valid = recent_window(keys, q_users, q_times, 6)
    got_items, got_ratings, got_valid = (np.asarray(a) for a in layer([q_users, q_times]))
    np.testing.assert_array_equal(got_valid, valid)
    np.testing.assert_array_equal(got_items, np.where(valid, sorted_items[positions], 0))
    np.testing.assert_allclose(got_ratings, np.where(valid, sorted_ratings[positions], 0))
    rows, whole_items, ages = (np.asarray(a) for a in layer.whole(q_users, q_times))
    owner, at, expected_ages = whole_history(keys, q_users, q_times)
    np.testing.assert_array_equal(rows, owner)
    np.testing.assert_array_equal(whole_items, sorted_items[at])
    np.testing.assert_array_equal(ages, expected_ages)


def test_the_window_holds_the_last_ratings_strictly_before_the_moment():
    users, items, times = _history()
    keys, sorted_items, _ = sorted_history(users, items, times, np.zeros(len(users)))
    length = 6
    for user in (3, 7, 12):
        for moment in (-1, 0, 12_000, 30_000):
            positions, valid = recent_window(keys, [user], [moment], length)
            got = sorted_items[positions[0][valid[0]]]
            mine = pd.DataFrame({"t": times, "i": items})[users == user]
            mine = mine.assign(t=np.where(mine["t"] < 0, np.iinfo(np.int64).max, mine["t"]))
            if moment >= 0:
                mine = mine[mine["t"] < moment]  # strictly before: never the same second
            expected = mine.sort_values("t", kind="stable")["i"].to_numpy()[-length:]
            assert sorted(got.tolist()) == sorted(expected.tolist()), (user, moment)
            assert valid[0].sum() == len(expected)
            assert valid[0][length - len(expected):].all()  # left-padded
    # Undated ratings sort after dated ones, and "now" after both.
    assert history_keys([1], [-1])[0] > history_keys([1], [10 ** 9])[0]
    assert moment_keys([1], [-1])[0] > history_keys([1], [-1])[0]


def test_merge_recent_appends_and_keeps_the_last_positions():
    items = np.array([[0, 0, 5, 6], [0, 0, 0, 0]], np.int32)
    ratings = np.array([[0, 0, 0.5, -0.5], [0, 0, 0, 0]], np.float32)
    valid = items > 0
    recent = np.array([[7, 0, 8], [0, 9, 0]], np.int64)
    new_items, new_ratings, new_valid = (np.asarray(a) for a in
                                         merge_recent((items, ratings, valid), recent, 4))
    np.testing.assert_array_equal(new_items, [[5, 6, 7, 8], [0, 0, 0, 9]])
    np.testing.assert_array_equal(new_ratings, [[0.5, -0.5, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(new_valid, new_items > 0)
    # With eras, the appended movies are rated now: the last era.
    eras = np.array([[0, 0, 2, 3], [0, 0, 0, 0]], np.int32)
    merged = merge_recent((items, ratings, valid, eras), recent, 4, last_era=5)
    assert len(merged) == 4
    np.testing.assert_array_equal(np.asarray(merged[0]), new_items)
    np.testing.assert_array_equal(np.asarray(merged[3]), [[2, 3, 5, 5], [0, 0, 0, 5]])


def test_eras_split_dated_times_evenly_and_the_tensorflow_rule_equals_numpy():
    from kerasrec.models.hybrid.recent import NOW

    rng = np.random.default_rng(3)
    # A busy late year and a quiet early decade: eras follow the ratings, not the calendar.
    times = np.concatenate([rng.integers(0, 10 ** 8, 200),
                            rng.integers(10 ** 9, 10 ** 9 + 10 ** 7, 800), [-1, NOW, 10 ** 12]])
    edges = era_edges(times, 8)
    assert len(edges) == 7 and np.all(np.diff(edges) > 0)
    # Eras are read from the stored keys, whatever user they belong to.
    keys = history_keys(rng.integers(0, 50, len(times)), times)
    counts = np.bincount(era_of(keys, edges), minlength=9)
    assert counts[0] == 3  # undated: -1, and times past "now"
    assert counts[1:].min() >= 100 and counts[1:].max() <= 150, counts
    assert np.sum(edges >= 10 ** 9) >= 5  # most eras inside the busy year
    at_edges = history_keys(np.arange(3 * len(edges)) % 7,
                            np.concatenate([edges, edges - 1, edges + 1]))
    queries = np.concatenate([keys, at_edges]).reshape(-1, 2)  # a batch of windows
    np.testing.assert_array_equal(np.asarray(era_of_ops(queries, edges)), era_of(queries, edges))
    assert era_of(history_keys([3, 3], [edges[0] - 1, edges[0]]), edges).tolist() == [1, 2]
    assert era_edges([-1, -1], 8).size == 0 and era_edges(times, 0).size == 0
    assert era_edges([5, 5, 5], 4).tolist() == [5]  # repeats collapse


def test_windows_carry_each_movies_era_and_the_layers_round_trip(tmp_path):
    import keras

    from kerasrec.models.hybrid.time_layers import HistoryAttention, RecentRatings

    users, items, times = _history()
    edges = era_edges(times, 4)
    layer = RecentRatings(len(users), 6, n_users=32, era_edges=edges)
    layer.build(None)
    stars = np.random.default_rng(2).normal(size=len(users))
    layer.set_history(users, items, times, stars)
    keys, sorted_items, sorted_stars = sorted_history(users, items, times, stars)
    q_users, q_times = np.array([3, 7, 12, 0]), np.array([30_000, -1, 10 ** 12, -1])
    window = [np.asarray(a) for a in layer([q_users, q_times])]
    assert len(window) == 4 and layer.last_era == len(edges) + 1 == layer.eras - 1
    # The layer's window is the NumPy rule's, eras included.
    expected = recent_arrays(keys, sorted_items, sorted_stars, q_users, q_times, 6, edges)
    for got, want in zip(window, expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    valid = expected[2]
    assert window[3][valid].max() <= len(edges) + 1  # never "now": that is recent's
    assert len(set(window[3][valid].tolist())) > 1  # the check can fail: several eras

    attention = HistoryAttention(100, 6, dim=8, heads=2, output_dim=4, eras=len(edges) + 2)
    items_in, ratings_in, valid_in, eras_in = (keras.Input((6,), dtype=d, name=n) for d, n in
                                               (("int32", "items"), ("float32", "ratings"),
                                                ("bool", "valid"), ("int32", "eras")))
    model = keras.Model([items_in, ratings_in, valid_in, eras_in],
                        attention(items_in, ratings_in, valid_in, eras_in))
    attention.era_embedding.embeddings.assign(
        np.random.default_rng(0).normal(size=(len(edges) + 2, 8)).astype("float32"))
    with_eras = np.asarray(model(window))
    # The era changes the encoding: the same movies rated in other eras read differently.
    moved = np.asarray(model(window[:3] + [np.where(window[2], 1, 0).astype("int32")]))
    assert np.abs(with_eras - moved)[window[2].any(axis=1)].max() > 1e-4
    model.save(tmp_path / "a.keras")
    loaded = keras.saving.load_model(tmp_path / "a.keras")
    np.testing.assert_allclose(np.asarray(loaded(window)), with_eras, rtol=1e-5, atol=1e-6)
    again = RecentRatings.from_config(layer.get_config())
    assert again.era_edges == [int(e) for e in edges] and again.last_era == layer.last_era


def test_history_eras_is_off_or_at_least_two():
    from kerasrec.models.hybrid import HybridConfig

    assert HybridConfig(history_eras=0).history_eras == 0
    for bad in (1, -2):
        with pytest.raises(ArgumentError, match="history_eras must be 0"):
            HybridConfig(history_eras=bad)


def _sequence_vector(backbone, users, times):
    return np.asarray(backbone.history_attention(
        *backbone.recent_ratings([np.asarray(users, np.int32), np.asarray(times, np.int64)]),
        training=False))


def test_later_ratings_never_change_an_earlier_window(prepared):
    """No leakage: a rating at time t is scored with what was known before t only."""
    from kerasrec.models.hybrid import HybridBackbone, HybridConfig

    pipeline, x = prepared["pipeline"], prepared["x"]
    config = HybridConfig(neighbours=(), history_length=10)
    # The same centre for the ratings in both (a training-wide mean is not the leak).
    first = HybridBackbone.from_training(pipeline, x, config, global_mean=0.5)
    user = np.bincount(x["user_id"]).argmax()
    mine = np.flatnonzero(x["user_id"] == user)
    moment = np.sort(x["timestamp"][mine])[len(mine) // 2]
    later = mine[x["timestamp"][mine] > moment]
    changed = {k: v.copy() for k, v in x.items()}
    rng = np.random.default_rng(0)
    changed["item_id"][later] = rng.integers(1, pipeline.n_items, len(later))
    changed["rating"][later] = rng.random(len(later))
    second = HybridBackbone.from_training(pipeline, changed, config, global_mean=0.5)
    for a, b in zip(first.training_model().trainable_weights,
                    second.training_model().trainable_weights):  # the branch's too
        b.assign(a)
    earlier = np.unique(x["timestamp"][mine][x["timestamp"][mine] <= moment])
    users = np.full(len(earlier), user)
    np.testing.assert_array_equal(_sequence_vector(first, users, earlier),
                                  _sequence_vector(second, users, earlier))
    # ... while a moment after the change sees it (the check can fail).
    assert not np.allclose(_sequence_vector(first, [user], [-1]),
                           _sequence_vector(second, [user], [-1]))


@pytest.fixture(scope="module")
def drift():
    # Without the co-watch part, which reads recency too (tests/models/test_co_watch.py).
    return drift_fits("history_attention", FAST, retrieval_weight=0.5, neighbours=(),
                      co_watch=False)


@pytest.fixture(scope="module")
def tower(drift):
    """The sequence branch as the whole user tower (no pooled history), trained on 16
    rows of each batch of 64."""
    data, train, _, _ = drift
    return kr.Recommender(train=FAST, retrieval_weight=0.5, neighbours=(), co_watch=False,
                          pooled_history=False, history_rows=16).fit(data.with_ratings(train))


def test_the_sequence_branch_alone_as_the_user_tower_learns_the_drift(drift, tower):
    _, train, test, fitted = drift
    recall, popular = watched_recall(train, test, {"tower": tower, "bag": fitted[False]})
    assert recall["tower"] > 1.3 * recall["bag"], recall
    assert recall["tower"] > 2 * popular, (recall, popular)
    b = tower.model_.backbone
    assert b.retrieval_history is None and b.query_model() is None
    assert "retrieval" not in dict(b.branch_layout)  # the rating head reads no window
    user = int(train["userId"].iloc[0])
    movie = int(tower.recommend(user, k=1)["movieId"].iloc[0])
    parts = tower.explain_relevance(user, movie)
    assert parts["history"] == 0 and parts["recent"] != 0


def test_the_tower_trains_on_the_first_history_rows_of_each_batch(tower):
    model = tower.model_
    training = model.backbone.training_model()
    assert training.get_layer("history_rows").rows == 16
    users = np.repeat(np.arange(1, 11), 4)
    block = list_weights.pairs_block(model, users,
                                     (users * 7) % (model.pipeline.n_items - 1) + 1)
    out = training({t.name: block[t.name] for t in training.inputs}, training=False)
    assert out["rating"].shape[0] == 40  # the stars of every row ...
    assert tuple(out["retrieval"].shape) == (16, model.pipeline.n_items)  # ... its rows
    short = {t.name: block[t.name][:5] for t in training.inputs}
    assert training(short, training=False)["retrieval"].shape[0] == 5


def test_the_tower_survives_save_and_load(tower, tmp_path):
    loaded = kr.Recommender.load(tower.save(tmp_path / "rec"))
    for user, recent in ((1, None), (2, [3, 9, 15]), (10 ** 6, [4, 10])):
        assert (loaded.recommend(user, k=10, recent=recent)["movieId"].tolist()
                == tower.recommend(user, k=10, recent=recent)["movieId"].tolist())


def test_the_sequence_branch_learns_a_drifting_taste_the_bag_of_movies_does_not(drift):
    _, train, test, fitted = drift
    recall, popular = watched_recall(train, test, fitted)
    assert recall[True] > 1.3 * recall[False], recall
    assert fitted[True].model_.backbone.recent_weight > 0  # chosen on the temporal cut
    assert recall[True] > 2 * popular, (recall, popular)


def test_recent_movies_move_the_list_towards_their_group(drift):
    data, train, _, fitted = drift
    rec = fitted[True]
    groups = 6
    user = int(train["userId"].iloc[0])
    seen = set(train.loc[train["userId"] == user, "movieId"])
    shares = {}
    for group in range(groups):
        recent = [m for m in range(1, 121) if (m - 1) % groups == group and m not in seen][:6]
        top = rec.recommend(user, k=10, recent=recent)
        assert not set(top["movieId"]) & (set(recent) | seen)
        shares[group] = np.mean((top["movieId"].to_numpy() - 1) % groups == group)
    before = rec.recommend(user, k=10)["movieId"].to_numpy()
    base = {g: np.mean((before - 1) % groups == g) for g in range(groups)}
    # Most groups gain share in the list when the user has just watched them.
    assert sum(shares[g] > base[g] for g in range(groups)) >= groups - 2, (shares, base)
    # A user unseen in training gets a list from the recent movies alone: on average
    # over the groups, at least twice the share chance gives.
    unseen = []
    for group in range(groups):
        recent = [m for m in range(1, 121) if (m - 1) % groups == group][:6]
        top = rec.recommend(10 ** 6, k=10, recent=recent)["movieId"].to_numpy()
        unseen.append(np.mean((top - 1) % groups == group))
    assert np.mean(unseen) >= 2 / groups, unseen
    # Unknown movies in the list are ignored.
    assert rec.recommend(user, k=10, recent=recent + [10 ** 7])["movieId"].tolist() == \
        rec.recommend(user, k=10, recent=recent)["movieId"].tolist()


def test_recent_needs_a_sequence_branch_and_relevance(drift):
    _, _, _, fitted = drift
    with pytest.raises(CapabilityError, match="no recent"):
        fitted[False].recommend(1, recent=[1, 2])
    with pytest.raises(ArgumentError, match="rank_by='rating' ignores it"):
        fitted[True].recommend(1, recent=[1, 2], rank_by="rating")
    with pytest.raises(ArgumentError, match="recent must hold whole-number ids, found 'Heat'"):
        fitted[True].recommend(1, recent=["Heat"])


def test_recent_survives_save_and_load(drift, tmp_path):
    _, _, _, fitted = drift
    rec = fitted[True]
    loaded = kr.Recommender.load(rec.save(tmp_path / "rec"))
    for user, recent in ((1, [3, 9, 15]), (10 ** 6, [4, 10])):
        assert (loaded.recommend(user, k=10, recent=recent)["movieId"].tolist()
                == rec.recommend(user, k=10, recent=recent)["movieId"].tolist())


def test_relevance_parts_and_because_you_watched_add_up(drift):
    data, train, _, fitted = drift
    rec = fitted[True]
    user = int(train["userId"].iloc[0])
    table = rec.score_table()
    for recent in (None, [5, 11, 17]):
        top = rec.recommend(user, k=3, recent=recent)
        for movie in top["movieId"]:
            parts = rec.explain_relevance(user, movie, recent=recent)
            assert set(parts.index) == {"popularity", "history", "recent", "co_watch", "stars"}
            because = rec.because(user, movie, recent=recent)
            assert because["share"].sum() == pytest.approx(parts["recent"], abs=1e-4)
            assert because["recent_share"].sum() == pytest.approx(parts["recent"], abs=1e-4)
            assert because["attention"].sum() == pytest.approx(1.0, abs=1e-5)
            assert because["share"].is_monotonic_decreasing
            if recent is None:
                column = table.columns([movie])[0]
                row = table.rows([user])[0]  # a two-stage table: first stage + stars
                assert parts.sum() == pytest.approx(
                    table.relevance[row, column] + table.stars_weight * table.stars[row, column],
                    abs=1e-4)
            else:
                assert set(recent) <= set(because["movieId"])
        if recent is not None:
            # The best-ranked movie has the highest relevance of the three.
            sums = [rec.explain_relevance(user, m, recent=recent).sum() for m in top["movieId"]]
            assert sums == sorted(sums, reverse=True)
    window = rec.because(user, int(top["movieId"].iloc[0]))
    mine = train[train["userId"] == user].sort_values("timestamp")
    assert set(window["movieId"]) == set(mine["movieId"].tail(rec.model_.config.history_length))


def test_recent_says_why_when_validation_gave_the_branch_no_weight(drift):
    _, _, _, fitted = drift
    model = fitted[True].model_
    weight = model.backbone.recent_weight
    try:
        model.backbone.recent_weight, model._recent_module = 0.0, None
        assert not model.supports("recent")
        with pytest.raises(CapabilityError, match="no weight .*validation_cut='temporal'"):
            fitted[True].recommend(1, recent=[1, 2])
    finally:
        model.backbone.recent_weight, model._recent_module = weight, None
    assert model.supports("recent")


# --- the stars' drift: the model's recent residuals (recent_stars) ---------------------


def test_recent_residuals_learn_a_scale_that_moved(scale_drift):
    _, train, test, fitted = scale_drift
    errors = {on: rmse(rec.predict(test), test["rating"]) for on, rec in fitted.items()}
    mean = rmse(np.full(len(test), train["rating"].mean()), test["rating"])
    chosen = fitted[True].model_.chosen
    assert chosen["recent_stars_weight"] > 0, chosen
    assert chosen["val_scaled_rmse_with_recent_stars"] < chosen[
        "val_scaled_rmse_without_recent_stars"]
    assert errors[True] < 0.9 * errors[False] < 0.9 * mean, (errors, mean)
    assert "recent_stars_weight" not in fitted[False].model_.chosen


def test_recent_residuals_read_only_ratings_before_the_moment(scale_drift):
    from kerasrec import scoring

    _, train, _, fitted = scale_drift
    rec = fitted[True]

    def stars(pairs):  # through the model itself, not the score table
        block = scoring.make_block(rec.pipeline_, rec.model_, pairs)
        return scoring.predict_block(rec.model_, rec.catalog_, block)

    user = int(train["userId"].iloc[0])
    mine = train[train["userId"] == user].sort_values("timestamp")
    early = mine.iloc[[5]][["userId", "movieId", "timestamp"]].reset_index(drop=True)
    late = early.assign(timestamp=int(mine["timestamp"].max()) + 60)
    before, late_before = stars(early), stars(late)
    layer = rec.model_.backbone.recent_residuals
    keys, residuals = layer.stored()["keys"], layer.stored()["residuals"]
    # The rating itself and every later one of the user (and of later users) move.
    later = keys >= history_keys(rec.pipeline_.user_index([user]), early["timestamp"])[0]
    layer.residuals.assign(np.where(later, residuals + 3.0, residuals))
    try:
        np.testing.assert_allclose(stars(early), before)
        assert abs(float(stars(late)[0] - late_before[0])) > 0.05  # a later moment reads them
    finally:
        layer.residuals.assign(residuals)


def test_recent_residuals_explain_save_and_serve_alike(scale_drift, tmp_path):
    from kerasrec import scoring

    _, train, test, fitted = scale_drift
    rec = fitted[True]
    pairs = pd.concat([test, train.sample(200, random_state=0)])[
        ["userId", "movieId", "timestamp"]].reset_index(drop=True)
    block = scoring.make_block(rec.pipeline_, rec.model_, pairs)
    parts = rec.model_.explain(block)
    assert parts["recent_stars"].abs().max() > 0.05
    direct = scoring.predict_block(rec.model_, rec.catalog_, block,
                                   clip=rec.pipeline_.config.rating_range)
    np.testing.assert_allclose(rec.predict(pairs), direct, atol=1e-5)  # the score table
    rec.save(tmp_path / "run")
    back = kr.Recommender.load(tmp_path / "run")
    np.testing.assert_allclose(back.predict(pairs), rec.predict(pairs), atol=1e-6)
    assert back.model_.chosen["recent_stars_weight"] == rec.model_.chosen["recent_stars_weight"]


def test_recent_residuals_given_no_weight_cost_nothing(scale_drift, monkeypatch):
    """A part the stars would not read is not paid for: without a validation cut nothing
    can choose its weight, so it is not built (at 25M ratings its table alone is 300 MB);
    where validation chooses 0, the residuals of every training rating are neither
    computed nor kept, and the head's entry is that 0, not its initial value."""
    from kerasrec.models.hybrid import star_steps

    data, train, test, fitted = scale_drift
    fast = dict(epochs=3, batch_size=64, learning_rate=5e-3, verbose=0)
    options = dict(retrieval=False, neighbours=(), mlp=False, seed=0)
    rec = kr.Recommender(train=TrainConfig(**fast, validation_fraction=0.0), **options).fit(
        data.with_ratings(train))
    assert rec.model_.backbone.recent_residuals is None
    assert not rec.model_.config.recent_stars and "recent_stars_weight" not in rec.model_.chosen
    monkeypatch.setattr(star_steps, "RECENT_STARS_WEIGHTS", (0.0,))
    rec = kr.Recommender(train=TrainConfig(**fast, validation_cut="temporal"), **options).fit(
        data.with_ratings(train))
    assert rec.model_.chosen["recent_stars_weight"] == 0.0
    assert rec.model_.backbone.head_weight("recent_stars") == 0.0
    stored = rec.model_.backbone.recent_residuals.stored()
    assert len(stored["keys"]) == len(train)  # the layer is there, empty
    assert not stored["keys"].any() and not stored["residuals"].any()
    assert rec.explain_many(test.head(20))["recent_stars"].eq(0).all()
    # where validation gives the part a weight, every training rating's residual is kept
    kept = fitted[True].model_.backbone.recent_residuals.stored()
    assert kept["keys"].all() and kept["residuals"].any()


def test_recent_residuals_fade_when_the_scale_is_a_passing_mood():
    """A mood that passes between sittings: validation chooses a half-life, and the
    faded part predicts later sittings better than the part chosen without fading."""
    data = fading_scale()
    train, test = kr.temporal_split(data.ratings, 0.25)
    fast = TrainConfig(epochs=15, batch_size=64, learning_rate=5e-3, verbose=0,
                       validation_cut="temporal")
    fitted = {fade: kr.Recommender(train=fast, recent_stars_fade=fade, retrieval=False,
                                   neighbours=(), mlp=False, seed=0).fit(
        data.with_ratings(train)) for fade in (True, False)}
    chosen = {fade: rec.model_.chosen for fade, rec in fitted.items()}
    assert chosen[True]["recent_stars_half_life_days"] > 0, chosen[True]
    assert chosen[False]["recent_stars_half_life_days"] == 0.0
    assert chosen[True]["recent_stars_weight"] > 0, chosen[True]
    errors = {fade: rmse(rec.predict(test), test["rating"]) for fade, rec in fitted.items()}
    assert errors[True] < errors[False] - 0.01, errors  # 0.931 against 0.953 at seed 0
    # The score table (the fading in HybridTerms) gives the model's own stars.
    from kerasrec import scoring

    rec = fitted[True]
    pairs = test[["userId", "movieId", "timestamp"]].reset_index(drop=True)
    block = scoring.make_block(rec.pipeline_, rec.model_, pairs)
    np.testing.assert_allclose(rec.predict(pairs), scoring.predict_block(
        rec.model_, rec.catalog_, block, clip=rec.pipeline_.config.rating_range), atol=1e-5)


def test_recent_residuals_under_a_sigmoid_output_are_chosen_and_explained(scale_drift):
    """With ``output="sigmoid"`` the part enters before the sigmoid; its weight is still
    chosen on validation, and the explained parts still sum to the stars."""
    from kerasrec import scoring
    from kerasrec.models.hybrid import star_steps

    data, train, test, _ = scale_drift
    fast = TrainConfig(epochs=15, batch_size=64, learning_rate=5e-3, verbose=0,
                       validation_cut="temporal")
    rec = kr.Recommender(train=fast, output="sigmoid", retrieval=False, neighbours=(),
                         mlp=False, seed=0).fit(data.with_ratings(train))
    chosen = rec.model_.chosen
    assert chosen["recent_stars_weight"] > 0, chosen
    assert chosen["val_scaled_rmse_with_recent_stars"] < chosen[
        "val_scaled_rmse_without_recent_stars"]
    block = scoring.make_block(rec.pipeline_, rec.model_, test.reset_index(drop=True))
    parts = rec.model_.explain(block)
    assert parts["recent_stars"].abs().max() > 0.01
    from kerasrec import training  # the network's own output, in stars

    network = rec.pipeline_.to_stars(training.predict(rec.model_.backbone, block),
                                     block["movie_id"])
    np.testing.assert_allclose(parts.sum(axis=1), network, atol=1e-4)
    # The choice reads the score before the sigmoid, recovered from the output.
    head_parts, bias = rec.model_._branch_scores(block)
    score, _ = star_steps.head_outputs(rec.model_.backbone, block)
    np.testing.assert_allclose(score, bias + sum(head_parts.values()), atol=1e-3)
    # The chosen weight beats none on the held-out ratings by a clear margin.
    backbone, weight = rec.model_.backbone, chosen["recent_stars_weight"]
    backbone.set_head_weight("recent_stars", 0.0)
    without = rec.pipeline_.to_stars(training.predict(backbone, block), block["movie_id"])
    backbone.set_head_weight("recent_stars", weight)
    assert rmse(network, test["rating"]) < 0.95 * rmse(without, test["rating"])
