"""The hybrid's history layers (:mod:`kerasrec.models.hybrid.history_layers`) against
hand-computed values on tiny inputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasrec.models.hybrid.backbone import neighbourhood_data
from kerasrec.models.hybrid.history_layers import (HistoryFactors, LeaveOneOutHistory,
                                                   Neighbourhood)
from tests.models.conftest import layer_model


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("sorted_pairs", [False, True], ids=["all-users", "own-pairs"])
def test_history_factors_pool_the_rated_items(sorted_pairs, training):
    users, items = np.array([2, 1, 1]), np.array([2, 1, 2])
    layer = HistoryFactors(n_users=3, n_items=3, n_pairs=3, dim=2, sorted_pairs=sorted_pairs)
    layer.build(None)
    layer.set_history(users, items)
    y = np.array([[0, 0], [1, 2], [3, 5]], "float32")
    layer.item_factors.assign(y)
    out = np.asarray(layer(np.array([0, 1, 2, 1], "int32"), training=training))
    both = (y[1] + y[2]) / np.sqrt(2)
    np.testing.assert_allclose(out, [[0, 0], both, y[2], both], rtol=1e-6)


def test_history_factors_sparse_product_equals_the_gather_and_sum(monkeypatch):
    # Under TensorFlow every user is pooled by a sparse product; other backends
    # gather each pair's factors and sum them by user. Values and gradients agree.
    import tensorflow as tf

    rng = np.random.default_rng(0)
    cells = rng.choice(5 * 7, size=12, replace=False)
    layer = HistoryFactors(n_users=5, n_items=7, n_pairs=12, dim=3)
    layer.build(None)
    layer.set_history(cells // 7, cells % 7)
    layer.item_factors.assign(rng.normal(size=(7, 3)).astype("float32"))
    user = np.array([0, 3, 3, 4, 1], "int32")
    weights = rng.normal(size=(5, 3)).astype("float32")

    def value_and_gradient():
        with tf.GradientTape() as tape:
            out = layer(user, training=True)
            loss = tf.reduce_sum(out * weights)
        return out.numpy(), tf.convert_to_tensor(tape.gradient(loss, layer.item_factors)).numpy()

    sparse = value_and_gradient()
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    gathered = value_and_gradient()
    assert np.abs(sparse[1]).max() > 0
    for a, b in zip(sparse, gathered):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# Users 1..3, items 1..3. Item 3 is the anchor; its neighbours are items 1 and 2.
USERS = np.array([1, 1, 1, 2, 2, 3])
ITEMS = np.array([1, 2, 3, 1, 3, 2])
RESID = np.array([0.5, -1.0, 0.25, 2.0, 0.0, 1.5])
NEIGHBOURS = np.array([[-1, -1], [2, 3], [1, 3], [1, 2]])
SIMILARITY = np.array([[0, 0], [0.5, 0.5], [0.5, 0.5], [0.6, 0.2]], "float32")


@pytest.fixture(params=[(True, 1), (False, 1), (False, 3)],
                ids=["dense", "hashed", "hashed-in-3-shards"])
def dense(request):
    return request.param


def _neighbourhood(dense, side="item", learn=True):
    dense, shards = dense
    layer = Neighbourhood(n_users=4, n_items=4, n_pairs=len(USERS), side=side, pool=2,
                          shrinkage=1.0, learn_weights=learn, dense=dense, shards=shards)
    _, call = layer_model(layer, np.zeros(1, "int32"), np.zeros(1, "int32"))
    layer.set_neighbourhood(NEIGHBOURS, SIMILARITY, USERS, ITEMS, RESID)
    return layer, call


def test_item_neighbourhood_is_the_knn_estimate_over_rated_neighbours(dense):
    layer, call = _neighbourhood(dense)
    layer.interpolation.assign(np.array([[0, 0], [0, 0], [0, 0], [2.0, -1.0]], "float32"))
    out = call(np.array([1, 2, 3], "int32"), np.array([3, 3, 3], "int32"))
    # user 1 rated both neighbours of item 3: residuals 0.5 (item 1) and -1.0 (item 2)
    knn_1 = (0.6 * 0.5 + 0.2 * -1.0) / (0.6 + 0.2 + 1.0)
    learned_1 = (2.0 * 0.5 - 1.0 * -1.0) / np.sqrt(2 + 1)
    # user 2 rated item 1 only; user 3 rated item 2 only
    knn_2, learned_2 = 0.6 * 2.0 / 1.6, 2.0 * 2.0 / np.sqrt(2)
    knn_3, learned_3 = 0.2 * 1.5 / 1.2, -1.0 * 1.5 / np.sqrt(2)
    np.testing.assert_allclose(out, [[knn_1, learned_1], [knn_2, learned_2], [knn_3, learned_3]],
                               rtol=1e-5)


def test_a_pair_never_sees_its_own_rating(dense):
    _, call = _neighbourhood(dense, learn=False)
    # (user 1, item 1): neighbours 2 and 3 only, so 0.5, its own residual, is unused.
    out = call(np.array([1], "int32"), np.array([1], "int32"))
    np.testing.assert_allclose(out, [[(0.5 * -1.0 + 0.5 * 0.25) / 2.0]], rtol=1e-6)
    # A user with no rated neighbour gets exactly 0; -1 pads are never matched.
    out = call(np.array([0, 2], "int32"), np.array([1, 0], "int32"))
    np.testing.assert_array_equal(out, [[0.0], [0.0]])


def test_pads_are_never_matched_even_where_their_key_names_a_rated_pair(dense):
    layer, call = _neighbourhood(dense)
    # Item 0's neighbours are pads. Give them weight: for user 2 a pad's key
    # (2 * n_items - 1) is user 1's rated (1, 3), which must still count for nothing.
    layer.similarity.assign(np.array([[0.7, 0.7], [0.5, 0.5], [0.5, 0.5], [0.6, 0.2]],
                                     "float32"))
    layer.interpolation.assign(np.array([[1.0, 1.0], [0, 0], [0, 0], [0, 0]], "float32"))
    out = call(np.array([2, 1], "int32"), np.array([0, 0], "int32"))
    np.testing.assert_array_equal(out, np.zeros((2, 2)))


def test_user_neighbourhood_looks_at_neighbouring_users_on_the_item(dense):
    layer, call = _neighbourhood(dense, side="user", learn=False)
    # user 3's neighbours are users 1 (0.6) and 2 (0.2); on item 1 they left 0.5 and 2.0
    out = call(np.array([3], "int32"), np.array([1], "int32"))
    np.testing.assert_allclose(out, [[(0.6 * 0.5 + 0.2 * 2.0) / 1.8]], rtol=1e-6)


def test_neighbourhood_data_uses_who_rated_not_the_rating():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(1, 41), 5)
    items = np.concatenate([rng.choice(np.arange(1, 21), 5, replace=False) for _ in range(40)])
    ratings = rng.uniform(0, 1, len(users))
    a = neighbourhood_data(users, items, ratings, 41, 21, "item", pool=5)
    b = neighbourhood_data(users, items, rng.uniform(0, 1, len(users)), 41, 21, "item", pool=5)
    np.testing.assert_array_equal(a["neighbours"], b["neighbours"])
    assert not (a["neighbours"] == np.arange(21)[:, None]).any()
    assert a["neighbours"].shape == (21, 5) and (a["similarity"] < 1).all()
    # residuals are centred by the shrunk baseline
    assert abs(a["residuals"].mean()) < 0.05


def test_neighbourhood_round_trips_through_a_keras_file(tmp_path, dense):
    layer, call = _neighbourhood(dense)
    layer.interpolation.assign(np.arange(8, dtype="float32").reshape(4, 2) / 10)
    users, items = np.array([1, 2, 3, 3], "int32"), np.array([3, 3, 1, 2], "int32")
    u, i = keras.Input((), dtype="int32"), keras.Input((), dtype="int32")
    model = keras.Model([u, i], layer([u, i]))
    model.save(tmp_path / "n.keras")
    # The residuals are stored as weights, never as a text vocabulary of every key.
    import zipfile
    assert not [n for n in zipfile.ZipFile(tmp_path / "n.keras").namelist()
                if n.startswith("assets")]
    loaded = keras.saving.load_model(tmp_path / "n.keras")
    np.testing.assert_allclose(np.asarray(loaded([users, items])), call(users, items))


def test_leave_one_out_history_leaves_out_only_the_pairs_own_movie():
    users, items = np.array([1, 1, 1, 2]), np.array([1, 2, 3, 2])
    layer = LeaveOneOutHistory(n_users=3, n_items=5, n_pairs=4, dim=2)
    layer(np.array([1]), np.array([1]))
    layer.set_history(users, items)
    factors = np.arange(10, dtype="float32").reshape(5, 2)
    layer.item_factors.assign(factors)
    whole_1 = factors[[1, 2, 3]].sum(axis=0) / np.sqrt(3)
    got = np.asarray(layer(np.array([1, 1, 2, 0]), np.array([2, 4, 2, 2])))
    np.testing.assert_allclose(got[0], whole_1 - factors[2] / np.sqrt(3), rtol=1e-6)  # rated
    np.testing.assert_allclose(got[1], whole_1, rtol=1e-6)  # a candidate: the whole history
    np.testing.assert_allclose(got[2], 0.0, atol=1e-6)  # user 2's only movie, left out
    np.testing.assert_allclose(got[3], 0.0, atol=1e-6)  # an unseen user has no history
    np.testing.assert_allclose(np.asarray(layer(np.array([1])))[0], whole_1, rtol=1e-6)
