"""The custom layers against hand-computed values on tiny inputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasrec.models import HistoryFactors, Neighbourhood, neighbourhood_data
from kerasrec.models.hybrid.sessions import training_sessions
from kerasrec.models.layers import RecentResiduals, SessionBias, table_from_weights
from tests.conftest import largest_graph_constant


def _run(layer, *arrays):
    tensors = [keras.Input((), dtype=str(a.dtype)) for a in arrays]
    out = layer(tensors if len(tensors) > 1 else tensors[0])
    model = keras.Model(tensors if len(tensors) > 1 else tensors[0], out)
    return model, lambda *xs: np.asarray(model(list(xs) if len(xs) > 1 else xs[0]))


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
    _, call = _run(layer, np.zeros(1, "int32"), np.zeros(1, "int32"))
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


@pytest.mark.parametrize("n_users", [0, 5], ids=["all-keys", "own-keys"])
def test_session_bias_only_for_known_sessions(n_users):
    hour = 3600
    users = np.array([1, 1, 2])
    stamps = np.array([10 * hour, 11 * hour, 10 * hour])
    layer = SessionBias(n_sessions=2, session_hours=6, n_users=n_users)
    _, call = _run(layer, np.zeros(1, "int32"), np.zeros(1, "int64"))
    keys = training_sessions(np.append(users, 3), np.append(stamps, -1), 6)
    assert len(keys) == 2  # 10 h and 11 h share a window; no time, no session
    layer.set_sessions(keys)
    layer.session_bias.assign(np.array([[0.3], [-0.2]], "float32"))
    out = call(np.array([1, 1, 2, 2, 1, 3], "int32"),
               np.array([7 * hour, 40 * hour, 11 * hour, -1, 0, 10 * hour], "int64"))
    # same window as training, a later window, user 2's window, unknown time,
    # an earlier window, an unknown user
    np.testing.assert_allclose(out.ravel(), [0.3, 0, -0.2, 0, 0, 0])
    with pytest.raises(ValueError, match="expected 2 sessions"):
        layer.set_sessions(keys[:1])


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


def test_table_from_weights_is_filled_from_the_weights_also_in_a_saved_model(tmp_path):
    """The hashed neighbourhood's tables: filled from two weights, a selection of them,
    or left empty (TensorFlow's tables cannot be); a SavedModel fills them from its
    restored variables, with no copy of the pairs among its graph's constants."""
    import tensorflow as tf

    keys = keras.Variable(np.arange(1, 41, dtype="int64") * 3)
    values = keras.Variable(np.arange(40, dtype="float32") / 4)
    module = tf.Module()
    module.tables = [table_from_weights(keys, values, -9.0),
                     table_from_weights(keys, values, -9.0, lambda k: k % 2 == 0),
                     table_from_weights(keys, values, -9.0, lambda k: k > 1000),  # none
                     table_from_weights(keys, values, -9.0, filled=False)]
    module.look = tf.function(lambda asked: tf.stack([t.lookup(asked) for t in module.tables]),
                              input_signature=[tf.TensorSpec([None], tf.int64)])
    asked = np.array([3, 6, 120, 4, -1, 0], "int64")
    every = np.where(asked % 3 == 0, asked / 3 - 1, np.nan) / 4
    every[asked <= 0] = np.nan
    expected = np.stack([every, np.where(asked % 2 == 0, every, np.nan),
                         np.full(6, np.nan), np.full(6, np.nan)])
    expected = np.where(np.isnan(expected), -9.0, expected)
    np.testing.assert_array_equal(module.look(asked), expected)
    tf.saved_model.save(module, str(tmp_path))
    np.testing.assert_array_equal(tf.saved_model.load(str(tmp_path)).look(asked), expected)
    assert largest_graph_constant(tmp_path) < 20


def test_embedding_looks_up_like_keras_and_leaves_the_table_sparse(tmp_path):
    import tensorflow as tf

    from kerasrec.models.layers import Embedding

    ours, theirs = Embedding(7, 3, name="e"), keras.layers.Embedding(7, 3)
    ours.build((None,))
    theirs.build((None,))
    table = np.random.default_rng(0).normal(size=(7, 3)).astype("float32")
    ours.set_weights([table])
    theirs.set_weights([table])
    ids = np.array([[6, 0], [2, 2]], "int32")
    np.testing.assert_array_equal(ours(ids), theirs(ids))
    np.testing.assert_array_equal(ours(ids.astype("float32")), table[ids])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(ours(ids))
    gradient = tape.gradient(loss, ours.trainable_variables[0].value)
    # Sparse rows only: what lets LazyAdam/SGD update just those rows.
    assert isinstance(gradient, tf.IndexedSlices)
    assert sorted(gradient.indices.numpy().tolist()) == [0, 2, 2, 6]

    model = keras.Sequential([keras.Input((2,), dtype="int32"), ours])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0]) is Embedding
    np.testing.assert_array_equal(loaded(ids), table[ids])


def test_leave_one_out_history_leaves_out_only_the_pairs_own_movie():
    from kerasrec.models.layers import LeaveOneOutHistory

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


@pytest.mark.parametrize("normalize", [False, True])
def test_row_dot_equals_keras_dot_and_round_trips(normalize):
    from kerasrec.models.layers import RowDot

    rng = np.random.default_rng(4)
    left, right = (rng.normal(size=(6, 5)).astype("float32") for _ in "lr")
    expected = np.asarray(keras.layers.Dot(axes=1, normalize=normalize)([left, right]))
    layer = RowDot(normalize=normalize)
    got = np.asarray(layer([left, right]))
    assert got.shape == (6, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    again = RowDot.from_config(layer.get_config())
    np.testing.assert_allclose(np.asarray(again([left, right])), got)


def test_first_rows_keeps_the_first_rows_and_round_trips():
    from kerasrec.models.layers import FirstRows, FirstRowsSoftmax

    layer = FirstRows(3)
    a, b = np.arange(10).reshape(5, 2), np.arange(5)
    kept = [np.asarray(t) for t in layer([a, b])]
    np.testing.assert_array_equal(kept[0], a[:3])
    np.testing.assert_array_equal(kept[1], b[:3])
    assert [len(np.asarray(t)) for t in layer([a[:2], b[:2]])] == [2, 2]  # a short batch
    assert FirstRows.from_config(layer.get_config()).rows == 3
    # The loss of the first rows' logits against every row's item equals Keras's on them.
    logits = np.random.default_rng(0).normal(size=(3, 7)).astype("float32")
    items = np.array([4, 1, 6, 2, 2])
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(items[:3], logits)
    assert float(FirstRowsSoftmax()(items, logits)) == pytest.approx(float(expected), rel=1e-6)


def test_recent_residuals_are_zero_in_training_and_the_shrunk_mean_of_the_past_after(tmp_path):
    hour = 3600
    users = np.array([1, 1, 1, 2, 1])
    stamps = np.array([1, 2, 3, 1, 4]) * hour
    residuals = np.array([0.4, -0.2, 0.6, 1.0, 0.8], "float32")
    layer = RecentResiduals(n_pairs=5, length=2, n_users=4)
    u, t = keras.Input((), dtype="int32"), keras.Input((), dtype="int64")
    model = keras.Model([u, t], layer([u, t]))
    query = [np.array([1, 1, 1, 2, 3], "int32"),
             np.array([3 * hour, -1, hour, -1, -1], "int64")]
    assert not np.asarray(model(query)).any()  # empty until filled
    layer.set_residuals(users, stamps, residuals, shrink=1.0)
    out = np.asarray(model(query)).ravel()
    # before 3 h: 0.4, -0.2; now: 0.6, 0.8; before 1 h: none; user 2: 1.0; user 3: none
    np.testing.assert_allclose(out, [0.2 / 3, 1.4 / 3, 0.0, 0.5, 0.0], rtol=1e-6)
    assert not np.asarray(model(query, training=True)).any()  # fitted after training
    model.save(tmp_path / "r.keras")
    loaded = keras.saving.load_model(tmp_path / "r.keras")
    np.testing.assert_allclose(np.asarray(loaded(query)).ravel(), out)
    # Faded by the time since the window's last rating; "now" is the latest rating (4 h).
    layer.set_residuals(users, stamps, residuals, shrink=1.0, half_life=1 / 24)
    fade = 0.5 ** np.array([1, 0, 0, 3, 0])  # hours since: 3 h - 2 h; 4 h - 1 h for user 2
    np.testing.assert_allclose(np.asarray(model(query)).ravel(), out * fade, rtol=1e-6)
    with pytest.raises(ValueError, match="expected 5 ratings"):
        layer.set_residuals(users[:2], stamps[:2], residuals[:2])
