"""The steps the hybrid's stars take after training
(:mod:`kerasrec.models.hybrid.star_steps`): the movie-bias refit here; the recent
residuals in ``test_recent.py``."""

from __future__ import annotations

import numpy as np
import pytest

import kerasrec as kr
from kerasrec.models.hybrid.star_steps import movie_bias_steps
from kerasrec.training import TrainConfig
from tests.conftest import movie_standing, rmse


@pytest.fixture(scope="module")
def standing():
    """:func:`movie_standing`, each user's latest quarter held out, and a small hybrid
    with a strong L2 penalty fitted with the refit on and off:
    ``(train, test, {on: Recommender})``."""
    data = movie_standing()
    train, test = kr.temporal_split(data.ratings, 0.25)
    fast = TrainConfig(epochs=15, batch_size=64, learning_rate=5e-3, verbose=0,
                       validation_cut="temporal")
    fitted = {on: kr.Recommender(train=fast, movie_bias_refit=on, l2=3.0, recent_stars=False,
                                 retrieval=False, neighbours=(), mlp=False, seed=0).fit(
        data.with_ratings(train)) for on in (True, False)}
    return train, test, fitted


def test_movie_bias_steps_are_shrunk_means_by_hand():
    items = np.array([2, 1, 2, 2, 4])
    residuals = np.array([0.3, -0.6, 0.6, 0.3, 1.0])
    steps = movie_bias_steps(items, residuals, 6, 1.0)
    np.testing.assert_allclose(steps, [0.0, -0.3, 1.2 / 4, 0.0, 0.5, 0.0])
    np.testing.assert_allclose(movie_bias_steps(items, residuals, 6, 0.0)[[1, 2, 4]],
                               [-0.6, 0.4, 1.0])


def test_the_refit_gives_back_what_the_penalty_took(standing):
    train, test, fitted = standing
    chosen = fitted[True].model_.chosen
    assert chosen["movie_bias_weight"] > 0, chosen
    assert chosen["val_scaled_rmse_with_movie_bias_refit"] < chosen[
        "val_scaled_rmse_without_movie_bias_refit"]
    assert "movie_bias_weight" not in fitted[False].model_.chosen
    errors = {on: rmse(rec.predict(test), test["rating"]) for on, rec in fitted.items()}
    mean = rmse(np.full(len(test), train["rating"].mean()), test["rating"])
    assert errors[True] < 0.95 * errors[False] < 0.95 * mean, (errors, mean)  # 0.531, 0.594


def test_the_step_is_in_the_movie_biases_so_every_reader_sees_it(standing, tmp_path):
    from kerasrec import scoring, training

    train, test, fitted = standing
    rec = fitted[True]
    pairs = test[["userId", "movieId", "timestamp"]].reset_index(drop=True)
    block = scoring.make_block(rec.pipeline_, rec.model_, pairs)
    backbone = rec.model_.backbone
    before = training.predict(backbone, block)
    steps = np.linspace(-0.2, 0.3, rec.pipeline_.n_items)
    saved = backbone.item_bias.get_weights()
    backbone.shift_movie_biases(steps)
    try:  # the network's output moves by each movie's step, in its own units
        np.testing.assert_allclose(training.predict(backbone, block) - before,
                                   steps[block["item_id"]], atol=1e-5)
    finally:
        backbone.item_bias.set_weights(saved)
    # Explained parts, the score table and a saved copy all give the refitted stars.
    parts = rec.model_.explain(block)
    network = rec.pipeline_.to_stars(before, block["movie_id"])
    np.testing.assert_allclose(parts.sum(axis=1), network, atol=1e-4)
    direct = scoring.predict_block(rec.model_, rec.catalog_, block,
                                   clip=rec.pipeline_.config.rating_range)
    np.testing.assert_allclose(rec.predict(pairs), direct, atol=1e-5)
    back = kr.Recommender.load(rec.save(tmp_path / "run"))
    np.testing.assert_allclose(back.predict(pairs), rec.predict(pairs), atol=1e-6)


def test_without_movie_biases_nothing_is_refitted():
    data = movie_standing(n_users=40, per_user=15)
    fast = TrainConfig(epochs=2, batch_size=64, verbose=0)
    rec = kr.Recommender(train=fast, biases=False, recent_stars=False, retrieval=False,
                         neighbours=(), mlp=False, seed=0).fit(data)
    assert "movie_bias_weight" not in rec.model_.chosen
    with pytest.raises(ValueError, match="no movie biases"):
        rec.model_.backbone.shift_movie_biases(np.zeros(rec.pipeline_.n_items))
