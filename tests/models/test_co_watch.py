"""The co-watch part: EASE^R weights read with recency (NumPy = TensorFlow, equal to
dense EASE when nothing is pruned), chosen on validation, and what it does to lists,
``recent=`` and explanations."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec.models.baselines import rated_matrix  # noqa: E402
from kerasrec.models.ease import ease_weights, strongest  # noqa: E402
from kerasrec.models.hybrid.co_watch import (co_watch_scores, co_watch_scores_tf,  # noqa: E402
                                             co_watch_weight_tf, co_watch_weights,
                                             fit_co_watch, recency_weights,
                                             recency_weights_ops, transition_weights)
from kerasrec.models.hybrid.recent import (sorted_history, whole_history,  # noqa: E402
                                           whole_history_ops)
from kerasrec.training import TrainConfig  # noqa: E402
from tests.conftest import drift_fits, watched_recall  # noqa: E402

FAST = TrainConfig(epochs=15, batch_size=64, learning_rate=5e-3, verbose=0,
                   validation_cut="temporal")


def _ratings(seed=0, n=600, n_users=40, n_items=60):
    rng = np.random.default_rng(seed)
    pairs = np.unique(np.stack([rng.integers(1, n_users, n), rng.integers(1, n_items, n)], 1),
                      axis=0)
    times = rng.integers(0, 40, len(pairs)) * 100
    return pairs[:, 0], pairs[:, 1], times


def test_recency_weights_in_tensorflow_equal_numpy():
    ages = np.arange(0, 200, 7)
    for half_life in (0.0, 1.0, 5.0, 20.0):
        expected = recency_weights(ages, half_life)
        # (TensorFlow flushes subnormal floats to zero: atol.)
        np.testing.assert_allclose(np.asarray(recency_weights_ops(ages, half_life)), expected,
                                   rtol=1e-6, atol=1e-30)
        assert expected[0] == 1.0
        if half_life:
            assert recency_weights([half_life], half_life)[0] == pytest.approx(0.5)
        else:
            assert (expected == 1.0).all()


def test_whole_history_in_tensorflow_equals_numpy_and_is_strictly_before():
    users, items, times = _ratings()
    keys, sorted_items, _ = sorted_history(users, items, times, np.zeros(len(users)))
    q_users = np.array([1, 5, 5, 7, 39, 0, 50])
    q_times = np.array([-1, -1, 1500, 0, 2000, -1, -1])
    rows, positions, ages = whole_history(keys, q_users, q_times)
    ops_rows, ops_positions, ops_ages = (np.asarray(a) for a in
                                         whole_history_ops(keys, q_users, q_times))
    np.testing.assert_array_equal(rows, ops_rows)
    np.testing.assert_array_equal(positions, ops_positions)
    np.testing.assert_array_equal(ages, ops_ages)
    for q, (user, moment) in enumerate(zip(q_users, q_times)):
        mine = (users == user) & ((times < moment) | (moment < 0))
        assert sorted(sorted_items[positions[rows == q]].tolist()) == sorted(items[mine].tolist())
        got = ages[rows == q]
        assert sorted(got.tolist()) == list(range(mine.sum()))  # 0 = the latest
        if mine.sum():  # the latest rating has age 0
            latest = sorted_items[positions[rows == q][got == 0]][0]
            assert times[mine][items[mine] == latest][0] == times[mine].max()


def test_co_watch_scores_in_tensorflow_equal_numpy():
    users, items, times = _ratings(1)
    weights = fit_co_watch(users, items, 60, l2=10.0, n_weights=400, max_items=1000)
    keys, sorted_items, _ = sorted_history(users, items, times, np.zeros(len(users)))
    q = np.arange(0, 42)
    rows, positions, ages = whole_history(keys, q, np.full(len(q), -1))
    for half_life in (0.0, 3.0):
        expected = co_watch_scores(rows, sorted_items[positions], ages, weights, half_life,
                                   len(q))
        got = np.asarray(co_watch_scores_tf(rows, sorted_items[positions], ages, *weights,
                                            half_life, len(q)))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert np.abs(expected).sum() > 0
    # Single weights, looked up in TensorFlow, are the CSR matrix's entries.
    offsets, columns, strengths = weights
    dense = np.zeros((60, 60), np.float32)
    for j in range(60):
        dense[j, columns[offsets[j]:offsets[j + 1]]] = strengths[offsets[j]:offsets[j + 1]]
    j, i = np.meshgrid(np.arange(60), np.arange(60))
    np.testing.assert_array_equal(np.asarray(co_watch_weight_tf(j.ravel(), i.ravel(), *weights)),
                                  dense[j.ravel(), i.ravel()])


def test_co_watch_keeping_every_weight_is_ease():
    users, items, _ = _ratings(2)
    n_items = 60
    weights = fit_co_watch(users, items, n_items, l2=20.0, n_weights=n_items ** 2,
                           max_items=10 ** 6)
    scores = co_watch_scores(users, items, np.zeros(len(users)), weights, 0.0,
                             users.max() + 1)
    covered = np.unique(items)
    column = np.full(n_items, -1)
    column[covered] = np.arange(len(covered))
    rated = rated_matrix(users, column[items], (users.max() + 1, len(covered)))
    expected = np.asarray(rated @ ease_weights(rated, 20.0))
    np.testing.assert_allclose(scores[:, covered], expected, rtol=1e-4, atol=1e-5)
    assert not scores[:, np.setdiff1d(np.arange(n_items), covered)].any()


def test_pruning_keeps_the_strongest_weights_and_max_items_the_most_rated():
    weights = np.array([[0.0, 0.5, -0.9, 0.1], [0.3, 0.0, 0.2, -0.25]], np.float32)
    kept = strongest(weights, 3).toarray()
    np.testing.assert_array_equal(kept, np.array([[0, 0.5, -0.9, 0], [0.3, 0, 0, 0]], np.float32))
    assert strongest(weights, 100).nnz == 6  # zeros are not kept
    # Only the 3 most rated movies get weights when max_items is 3.
    users = np.array([1, 2, 3, 1, 2, 1, 4, 4, 5])
    items = np.array([1, 1, 1, 2, 2, 3, 3, 4, 5])
    offsets, columns, strengths = fit_co_watch(users, items, 6, l2=1.0, n_weights=20,
                                               max_items=3)
    rows = np.repeat(np.arange(6), np.diff(offsets))
    assert set(rows.tolist()) <= {1, 2, 3} and len(rows) == offsets[-1] > 0
    assert set(columns[:offsets[-1]].tolist()) <= {1, 2, 3}
    assert not strengths[offsets[-1]:].any()


def test_after_weights_are_the_least_squares_fit_of_what_comes_next():
    """Built by hand, one user and one rating at a time: the input is the ``window``
    ratings before (the k-th before last weighted 0.5 ** (k / (window / 2))), the
    target the ``window`` ratings from this one on; uncovered movies keep their place."""
    users, items, times = _ratings(3, n=300, n_users=12, n_items=15)
    columns = np.where(items % 7 == 0, -1, items)  # some movies uncovered
    n, window, l2 = 15, 3, 2.0
    got = transition_weights(users, columns, times, n, l2, window)
    order = np.lexsort((np.arange(len(users)), times, users))
    before, upcoming = [], []
    for user in np.unique(users):
        seq = columns[order][users[order] == user]
        for p in range(1, len(seq)):
            s, t = np.zeros(n), np.zeros(n)
            for k in range(1, window + 1):
                if p - k >= 0 and seq[p - k] >= 0:
                    s[seq[p - k]] += 0.5 ** ((k - 1) / (window / 2))
            for k in range(window):
                if p + k < len(seq) and seq[p + k] >= 0:
                    t[seq[p + k]] += 1.0
            before.append(s)
            upcoming.append(t)
    S, T = np.array(before), np.array(upcoming)
    expected = np.linalg.solve(S.T @ S + l2 * np.eye(n), S.T @ T)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5)
    assert np.abs(got).sum() > 0


def test_after_weights_point_forward_in_time_and_ease_does_not():
    """Everyone rates movie 1 and, right after it, movie 2: what comes next after 1 is
    2, not the other way round; EASE^R's weights have no direction."""
    rng = np.random.default_rng(4)
    users, items, times = [], [], []
    for user in range(1, 81):
        others = rng.choice(np.arange(3, 30), 8, replace=False)
        at = rng.integers(0, 7)
        seq = np.insert(others, at, [1, 2])
        users += [user] * len(seq)
        items += seq.tolist()
        times += (np.arange(len(seq)) * 60).tolist()
    covered, together, after = co_watch_weights(
        np.array(users), np.array(items), 30, l2=5.0, max_items=1000,
        timestamps=np.array(times), window=3)
    one, two = np.searchsorted(covered, [1, 2])
    assert after[one, two] > 0.3 and after[one, two] > 5 * abs(after[two, one]), after[[one, two]]
    assert together[one, two] == pytest.approx(together[two, one], rel=0.2)
    # With min_ratings, movies rated fewer times are not covered.
    rare = np.bincount(items, minlength=30) < 30
    covered, *_ = co_watch_weights(np.array(users), np.array(items), 30, l2=5.0,
                                   max_items=1000, min_ratings=30)
    assert 1 in covered and not set(covered) & set(np.flatnonzero(rare))


def test_fit_co_watch_adds_the_after_weights_at_their_weight():
    users, items, times = _ratings(5, n=500, n_users=30, n_items=25)
    dense = {}
    for after_weight in (0.0, 0.7):
        offsets, columns, strengths = fit_co_watch(
            users, items, 25, 3.0, 25 ** 2, 1000, timestamps=times, window=4,
            after_weight=after_weight)
        dense[after_weight] = np.zeros((25, 25), np.float32)
        for j in range(25):
            dense[after_weight][j, columns[offsets[j]:offsets[j + 1]]] = \
                strengths[offsets[j]:offsets[j + 1]]
    covered, together, after = co_watch_weights(users, items, 25, 3.0, 1000,
                                                timestamps=times, window=4)
    grid = np.ix_(covered, covered)
    np.testing.assert_allclose(dense[0.0][grid], together, atol=1e-6)
    np.testing.assert_allclose(dense[0.7][grid], together + 0.7 * after, atol=1e-6)


# The co-watch part alone beside the pooled history: no sequence branch, no neighbours.
DRIFT_OPTIONS = dict(history_attention=False, retrieval_weight=0.5, neighbours=())


@pytest.fixture(scope="module")
def drift():
    return drift_fits("co_watch", FAST, **DRIFT_OPTIONS)


def test_co_watch_with_recency_learns_a_drifting_taste(drift):
    _, train, test, fitted = drift
    recall, popular = watched_recall(train, test, fitted)
    chosen = fitted[True].model_.chosen
    assert chosen["co_watch_weight"] > 0 and chosen["co_watch_half_life"] > 0, chosen
    assert recall[True] > 1.3 * recall[False], recall
    assert recall[True] > 2 * popular, (recall, popular)


def test_co_watch_without_recency_counts_every_movie_alike(drift):
    data, train, test, fitted = drift
    bag = kr.Recommender(train=FAST, co_watch_recency=False, **DRIFT_OPTIONS).fit(
        data.with_ratings(train))
    chosen = bag.model_.chosen
    assert chosen["co_watch_half_life"] == 0.0 and chosen["co_watch_weight"] > 0, chosen
    recall, _ = watched_recall(train, test, {"recency": fitted[True], "bag": bag})
    # Tastes drift: without recency the part reads a user's old genre as much as the new.
    assert recall["recency"] > 2 * recall["bag"], recall


def test_recent_movies_move_the_list_through_co_watch(drift):
    data, train, _, fitted = drift
    rec = fitted[True]
    assert rec.model_.supports("recent") and not fitted[False].model_.supports("recent")
    groups = 6
    user = int(train["userId"].iloc[0])
    seen = set(train.loc[train["userId"] == user, "movieId"])
    gained = 0
    before = rec.recommend(user, k=10)["movieId"].to_numpy()
    for group in range(groups):
        recent = [m for m in range(1, 121) if (m - 1) % groups == group and m not in seen][:6]
        top = rec.recommend(user, k=10, recent=recent)["movieId"].to_numpy()
        assert not set(top) & (set(recent) | seen)
        gained += np.mean((top - 1) % groups == group) > np.mean((before - 1) % groups == group)
    assert gained >= groups - 2
    # The shift is exactly the co-watch part recomputed with the movies appended.
    recent = [2, 8, 14]
    parts = rec.explain_relevance(user, 20, recent=recent)
    assert parts["co_watch"] != pytest.approx(rec.explain_relevance(user, 20)["co_watch"])


def test_relevance_parts_with_co_watch_add_up_to_the_ranking(drift):
    _, train, _, fitted = drift
    rec = fitted[True]
    table = rec.score_table()
    for user in train["userId"].unique()[:3]:
        for movie in rec.recommend(user, k=3)["movieId"]:
            parts = rec.explain_relevance(user, movie)
            assert {"co_watch", "history", "popularity", "stars"} <= set(parts.index)
            assert parts["co_watch"] != 0
            row, column = table.rows([user])[0], table.columns([movie])[0]
            # A two-stage table: the first stage, plus the weighted stars.
            relevance = table.relevance[row, column] + table.stars_weight * table.stars[row, column]
            assert parts.sum() == pytest.approx(relevance, rel=1e-4, abs=1e-4)
            # "Because you watched": each rated movie's share, summing to the part.
            for recent in (None, [5, 11]):
                because = rec.because(user, movie, recent=recent)
                parts = rec.explain_relevance(user, movie, recent=recent)
                assert because["co_watch_share"].sum() == pytest.approx(
                    parts["co_watch"], rel=1e-4, abs=1e-4)
                assert because["share"].is_monotonic_decreasing
                rated = set(train.loc[train["userId"] == user, "movieId"]) | set(recent or [])
                assert set(because["movieId"]) <= rated


def test_co_watch_survives_save_and_load(drift, tmp_path):
    _, train, _, fitted = drift
    rec = fitted[True]
    loaded = kr.Recommender.load(rec.save(tmp_path / "rec"))
    users = train["userId"].unique()[:20]
    pd.testing.assert_frame_equal(loaded.recommend_many(users, k=10),
                                  rec.recommend_many(users, k=10))
    for user, recent in ((int(users[0]), [3, 9, 15]), (10 ** 6, [4, 10])):
        assert (loaded.recommend(user, k=10, recent=recent)["movieId"].tolist()
                == rec.recommend(user, k=10, recent=recent)["movieId"].tolist())
