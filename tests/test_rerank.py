"""The two-stage ranking rule: NumPy and TensorFlow forms equal, ties by column."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kerasrec.rerank import (best_columns, rerank, rerank_tf, row_stars_weights,  # noqa: E402
                             row_stars_weights_tf)


def _case(seed: int, n: int = 7, m: int = 60):
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 6, (n, m)).astype(np.float64)  # many ties
    stars = rng.integers(1, 10, (n, m)).astype(np.float64) / 2
    allowed = rng.random((n, m)) < 0.7
    allowed[0, :3], allowed[0, 3:] = True, False  # a row with fewer allowed columns than k
    return first, stars, allowed


def test_best_columns_break_ties_by_the_smaller_column_and_put_forbidden_last():
    scores = np.array([[1.0, 3.0, 3.0, -np.inf, 3.0, 0.0]])
    assert best_columns(scores, 4).tolist() == [[1, 2, 4, 0]]
    assert best_columns(scores, 6).tolist() == [[1, 2, 4, 0, 5, 3]]
    rng = np.random.default_rng(0)
    many = rng.integers(0, 3, (50, 40)).astype(float)
    expected = np.lexsort((np.broadcast_to(np.arange(40), many.shape), -many), axis=1)[:, :7]
    np.testing.assert_array_equal(best_columns(many, 7), expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("stars_weight", [0.0, 0.5, "rows"])
def test_numpy_and_tensorflow_forms_are_equal(seed, stars_weight):
    import tensorflow as tf

    first, stars, allowed = _case(seed)
    weight = (np.linspace(0, 1, len(first))[:, None] if stars_weight == "rows"
              else stars_weight)
    columns, valid, listed = rerank(first, allowed, lambda c: np.take_along_axis(stars, c, 1),
                                    5, 1.0, weight, candidates=12)
    got_columns, got_valid, got_listed = rerank_tf(
        tf.constant(first), tf.constant(allowed),
        lambda c: tf.gather(tf.constant(stars, tf.float32), c, batch_dims=1),
        tf.constant(5), 1.0, tf.constant(weight, tf.float32) if stars_weight == "rows" else weight,
        candidates=12)
    np.testing.assert_array_equal(got_valid.numpy(), valid)
    np.testing.assert_array_equal(np.where(valid, got_columns.numpy(), -1),
                                  np.where(valid, columns, -1))
    # The stars returned are those of the listed movies, in both forms.
    np.testing.assert_allclose(listed[valid], np.take_along_axis(stars, columns, 1)[valid])
    np.testing.assert_allclose(got_listed.numpy()[valid], listed[valid])
    assert valid[0].sum() == 3 and valid[1:].all()
    assert np.take_along_axis(allowed, columns, 1)[valid].all()


def test_without_stars_the_list_is_the_exact_top_of_the_first_stage():
    first, stars, allowed = _case(3)
    asked = []

    def stars_of(columns):
        asked.append(columns)
        return np.take_along_axis(stars, columns, 1)

    columns, valid, listed = rerank(first, allowed, stars_of, 4, candidates=50)
    # Stars unweighted are predicted for the list alone, not the 50 candidates.
    assert len(asked) == 1 and asked[0] is columns and listed.shape == (len(first), 4)
    exact = best_columns(np.where(allowed, first, -np.inf), 4)
    np.testing.assert_array_equal(np.where(valid, columns, -1),
                                  np.where(np.take_along_axis(allowed, exact, 1), exact, -1))


def test_with_every_candidate_it_is_the_exhaustive_ranking_and_fewer_can_differ():
    first, stars, allowed = _case(4)
    ranking = np.where(allowed, first + 2.0 * stars, -np.inf)
    exhaustive = best_columns(ranking, 5)
    every, _, _ = rerank(first, allowed, lambda c: np.take_along_axis(stars, c, 1), 5,
                      stars_weight=2.0, candidates=first.shape[1])
    np.testing.assert_array_equal(every[1:], exhaustive[1:])
    few, _, _ = rerank(first, allowed, lambda c: np.take_along_axis(stars, c, 1), 5,
                    stars_weight=2.0, candidates=5)
    assert (few[1:] != exhaustive[1:]).any(), "the stars move movies from outside the top 5"


@pytest.mark.parametrize("first_weight,stars_weight", [(1.0, 0.0), (1.0, 0.5), (0.0, 1.0)])
def test_row_stars_weights_are_equal_in_both_forms(first_weight, stars_weight):
    import tensorflow as tf

    known = np.array([True, False, True, False])
    weights = row_stars_weights(known, first_weight, stars_weight)
    got = row_stars_weights_tf(tf.constant(known[:, None]), first_weight, stars_weight)
    np.testing.assert_array_equal(got.numpy(), weights)
    assert weights[0, 0] == stars_weight
    # Unseen users rank by the stars given as their first stage, whichever weighs.
    assert weights[1, 0] == (0.0 if first_weight else 1.0)


def test_a_stars_ranked_model_uses_the_first_stage_only_to_choose_candidates():
    first, stars, allowed = _case(5)
    known = np.arange(len(first)) != 2
    first[2] = stars[2]  # an unseen user: the stars are the first stage
    weight = row_stars_weights(known, 0.0, 1.0)
    columns, valid, listed = rerank(first, allowed, lambda c: np.take_along_axis(stars, c, 1),
                                    5, 0.0, weight, candidates=first.shape[1])
    exhaustive = best_columns(np.where(allowed, stars, -np.inf), 5)
    np.testing.assert_array_equal(np.where(valid, columns, -1),
                                  np.where(np.take_along_axis(allowed, exhaustive, 1),
                                           exhaustive, -1))
    np.testing.assert_allclose(listed[valid], np.take_along_axis(stars, columns, 1)[valid])
    # With fewer candidates, known users' lists hold only what the first stage chose.
    few, valid, _ = rerank(first, allowed, lambda c: np.take_along_axis(stars, c, 1), 5,
                           0.0, weight, candidates=6)
    pool = best_columns(np.where(allowed, first, -np.inf), 6)
    for row in np.flatnonzero(known):
        assert set(few[row][valid[row]]) <= set(pool[row])
