"""Hybrid rules that exist in NumPy and in TensorFlow are held equal here."""

from __future__ import annotations

import numpy as np

from kerasrec.models.hybrid.sessions import (find_sessions, find_sessions_hashed,
                                             find_sessions_tf, session_keys, session_keys_ops,
                                             session_table, training_sessions, user_offsets)
from kerasrec.models.hybrid.terms import HybridTerms


def _random_pairs(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 50, n)
    stamps = rng.integers(-3, 2_000_000_000, n)
    stamps[::7] = -1  # unknown times belong to no session
    return users, stamps


def test_session_keys_in_keras_ops_equal_numpy():
    users, stamps = _random_pairs()
    for hours in (6.0, 1.5, 24.0):
        np.testing.assert_array_equal(np.asarray(session_keys_ops(users, stamps, hours)),
                                      session_keys(users, stamps, hours))
    assert (session_keys(users, stamps, 6.0)[stamps < 0] == -1).all()


def test_session_lookup_in_tensorflow_equals_numpy_by_search_and_by_hash_table():
    import tensorflow as tf

    users, stamps = _random_pairs()
    sorted_keys = training_sessions(users[:700], stamps[:700], 6.0)  # users 0..49, some absent
    queries = session_keys(users, stamps, 6.0)  # known, unknown and undated (-1) sessions
    position, found = find_sessions(sorted_keys, queries)
    assert found.any() and not found.all() and not found[queries < 0].any()
    np.testing.assert_array_equal(sorted_keys[position[found]], queries[found])
    offsets = user_offsets(sorted_keys, 60)
    lower, upper = offsets[users], offsets[users + 1]
    searches = [find_sessions_tf(tf.constant(sorted_keys), queries, *bounds)
                for bounds in ((), (lower, upper))]
    for got_position, got_found in searches + [
            find_sessions_hashed(session_table(sorted_keys), queries)]:
        np.testing.assert_array_equal(got_found.numpy(), found)
        np.testing.assert_array_equal(got_position.numpy()[found], position[found])
        undated = queries < 0  # position 0, as NumPy's search gives
        np.testing.assert_array_equal(got_position.numpy()[undated], position[undated])
    # A user's range holds exactly that user's keys.
    for user in (0, 7, 55):
        np.testing.assert_array_equal(sorted_keys[offsets[user]:offsets[user + 1]] // 2 ** 32,
                                      user)


def test_terms_shift_in_tensorflow_equals_numpy():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    users, stamps = _random_pairs()
    sessions = training_sessions(users[:500], stamps[:500], 6.0)
    terms = HybridTerms(context_kernel=rng.normal(size=(2, 4)), context_bias=rng.normal(size=4),
                        context_head=rng.normal(size=4), session_keys=sessions,
                        session_values=rng.normal(size=len(sessions)), session_hours=6.0)
    # Users past the last one with sessions (and user 0, unknown) have none.
    users = np.append(users, [70, 0, 49])
    stamps = np.append(stamps, [stamps[0], stamps[1], stamps[2]])
    flags = rng.integers(0, 2, (len(users), 2)).astype(np.float32)
    expected = terms.shift(users, flags, stamps)
    got = terms.serving_module()(tf.constant(users, tf.int64), tf.constant(flags),
                                 tf.constant(stamps, tf.int64)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.count_nonzero(expected != terms.shift(users, np.zeros_like(flags), stamps))
    back = HybridTerms.from_arrays(terms.to_arrays())
    np.testing.assert_allclose(back.shift(users, flags, stamps), expected)


def test_terms_of_unknown_users_are_the_context_alone():
    """What the two-stage export keeps for its cold-start row: the same shift for
    user 0 as the whole terms, without the training users' session and recent keys."""
    from kerasrec.models.hybrid.recent import sorted_history

    rng = np.random.default_rng(3)
    users, stamps = _random_pairs()
    users = users + 1  # row 0 is the unknown user, as in the model
    sessions = training_sessions(users[:500], stamps[:500], 6.0)
    keys, _, stored = sorted_history(users[:700], users[:700], stamps[:700],
                                     rng.normal(size=700).astype(np.float32))
    terms = HybridTerms(context_kernel=rng.normal(size=(2, 4)), context_bias=rng.normal(size=4),
                        context_head=rng.normal(size=4), session_keys=sessions,
                        session_values=rng.normal(size=len(sessions)), recent_keys=keys,
                        recent_residuals=stored,
                        recent_values=np.array([5, 10.0, 0.8, 3650.0, stamps.max()]))
    cold = terms.unknown_users()
    assert not cold.has_sessions and not cold.has_recent and terms.has_recent
    flags = rng.integers(0, 2, (len(users), 2)).astype(np.float32)
    unknown = np.zeros(len(users), np.int64)
    np.testing.assert_allclose(cold.shift(unknown, flags, stamps),
                               terms.shift(unknown, flags, stamps))
    assert np.count_nonzero(cold.shift(unknown, flags, stamps))  # the context stays
    # Known users differ: their sessions and recent errors are gone.
    assert np.count_nonzero(np.abs(cold.shift(users, flags, stamps)
                                   - terms.shift(users, flags, stamps)) > 1e-6) > 100


def test_terms_shift_with_recent_residuals_in_tensorflow_equals_numpy():
    import tensorflow as tf

    from kerasrec.models.hybrid.recent import sorted_history

    users, stamps = _random_pairs()
    residuals = np.random.default_rng(2).normal(size=700).astype(np.float32)
    keys, _, stored = sorted_history(users[:700], users[:700], stamps[:700], residuals)
    latest = int(stamps[:700].max())  # "now" fades from the latest rating
    terms = HybridTerms(recent_keys=keys, recent_residuals=stored,
                        recent_values=np.array([5, 10.0, 0.8, 3650.0, latest], np.float64))
    users = np.append(users, [70, 0])  # past the last user with ratings; unknown
    stamps = np.append(stamps, [stamps[0], stamps[1]])
    flags = np.zeros((len(users), 2), np.float32)
    expected = terms.shift(users, flags, stamps)
    got = terms.serving_module()(tf.constant(users, tf.int64), tf.constant(flags),
                                 tf.constant(stamps, tf.int64)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.count_nonzero(np.abs(expected) > 1e-3) > 100  # a moment in the past moves it
    assert not expected[stamps == -1].any()  # now is the reference
    back = HybridTerms.from_arrays(terms.to_arrays())
    np.testing.assert_allclose(back.shift(users, flags, stamps), expected)


def _dense_reads(function, variable):
    """Ops of a traced ``function`` that read ``variable`` whole (anything but a gather
    or a loop passing it on)."""
    graph = function.graph
    handles = [inner for outer, inner in graph.captures if outer is variable.handle]
    return [op.type for inner in handles for op in inner.consumers()
            if op.type not in ("ResourceGather", "While", "StatelessWhile")]


def test_session_search_gathers_from_the_keys_and_never_reads_them_whole():
    # Once a variable is gathered from, TensorFlow copies it on every whole read: at
    # 25M sessions that copy made one served recommendation 8 ms slower.
    import tensorflow as tf

    from kerasrec.models.hybrid.time_layers import SessionBias

    users, stamps = _random_pairs()
    sessions = training_sessions(users, stamps, 6.0)
    terms = HybridTerms(session_keys=sessions, session_values=np.ones(len(sessions)))
    module = terms.serving_module()
    spec = tf.TensorSpec([None], tf.int64)
    traced = tf.function(module.__call__).get_concrete_function(
        spec, tf.TensorSpec([None, 2], tf.float32), spec)
    assert _dense_reads(traced, module.keys) == []
    layer = SessionBias(n_sessions=len(sessions), session_hours=6.0, n_users=50)
    layer.build([(None,), (None,)])
    layer.set_sessions(sessions)
    traced = tf.function(lambda u, t: layer([u, t])).get_concrete_function(spec, spec)
    assert _dense_reads(traced, layer.session_keys.value) == []


def test_training_finds_sessions_in_a_hash_table_and_fits_as_the_search_does(
        sample_split, monkeypatch):
    """The training step's hash table is a shortcut (at 25M ratings the step took 73.0 ms
    with the search, 64.3 ms with the table): the fit is the one the search gives, and
    inference, saving and export read the searched keys alone."""
    import tensorflow as tf

    import kerasrec as kr
    from kerasrec.models.hybrid import time_layers
    from kerasrec.training import TrainConfig

    fast = TrainConfig(epochs=2, batch_size=256, learning_rate=5e-3, verbose=0,
                       validation_fraction=0.0)
    options = dict(retrieval=False, neighbours=(), mlp=False, seed=0)
    hashed = kr.Recommender(train=fast, **options).fit(sample_split[0])
    layer = hashed.model_.backbone.session_bias
    spec = tf.TensorSpec([None], tf.int64)
    for training, expected in ((True, True), (False, False)):
        traced = tf.function(lambda u, t: layer([u, t], training=training)
                             ).get_concrete_function(spec, spec)
        ops_used = {op.type for op in traced.graph.get_operations()}
        assert ("LookupTableFindV2" in ops_used) is expected, (training, ops_used)
    assert not any(
        isinstance(child, tf.lookup.StaticHashTable)
        for child in layer._trackable_children("savedmodel").values())
    monkeypatch.setattr(time_layers, "session_table", lambda keys: None)  # search in training
    searched = kr.Recommender(train=fast, **options).fit(sample_split[0])
    assert searched.model_.backbone.session_bias._training_lookup.value is None
    assert np.abs(layer.session_bias.numpy()).max() > 1e-3  # the sessions learned
    for mine, theirs in zip(hashed.model_.backbone.get_weights(),
                            searched.model_.backbone.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
