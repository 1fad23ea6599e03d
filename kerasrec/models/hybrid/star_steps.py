"""The steps the hybrid's stars take after training, chosen on the validation cut: the
movie-bias refit (``movie_bias_refit``) and the recent residuals (``recent_stars``).

:func:`choose_star_steps` chooses both on the rows the fit held out, from a model
trained on the rest; :func:`take_star_steps` then takes them from every training rating
(after the catch-up pass), writing them into the backbone's weights, so explanations,
the score table, saved runs and exports read them with nothing new.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np

from kerasrec.models.hybrid.recent import input_times

#: Weights of the recent residuals in the stars (``recent_stars``), their shrinkage
#: (pseudo-count of zero residuals) and half-life in days (0: no fading), tried on
#: validation.
RECENT_STARS_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
RECENT_STARS_SHRINKS = (5.0, 10.0, 20.0, 40.0)
RECENT_STARS_HALF_LIVES = (0.0, 7.0, 30.0, 90.0, 365.0)
#: Weights and shrinkages of the movie-bias refit (``movie_bias_refit``) tried on
#: validation.
MOVIE_BIAS_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
MOVIE_BIAS_SHRINKS = (2.0, 5.0, 10.0, 20.0, 50.0)


class RecentStarsChoice(NamedTuple):
    """What validation chose for ``recent_stars`` (:func:`choose_star_steps`)."""

    weight: float = 0.0
    shrink: float = 1.0
    half_life: float = 0.0
    before: Optional[float] = None
    after: Optional[float] = None


class MovieBiasChoice(NamedTuple):
    """What validation chose for ``movie_bias_refit`` (:func:`choose_star_steps`)."""

    weight: float = 0.0
    shrink: float = 1.0
    before: Optional[float] = None
    after: Optional[float] = None


def movie_bias_steps(items: np.ndarray, residuals: np.ndarray, n_items: int, shrink: float
                     ) -> np.ndarray:
    """Each movie's shrunk mean residual, ``sum / (count + shrink)``: how far the stars
    were off on its training ratings, moved towards 0 for rarely rated movies.

    Args:
        items: Movie index of each rating.
        residuals: Its target minus the model's prediction.
        n_items: Movie index range.
        shrink: Pseudo-count of zero residuals.

    Returns:
        ``(n_items,)`` float64; 0 for movies without ratings.

    Example:
        >>> movie_bias_steps(np.array([1, 1, 2]), np.array([0.5, 0.3, -1.0]), 3, 2.0)
        array([ 0.        ,  0.2       , -0.33333333])
    """
    items = np.asarray(items, np.int64)
    total = np.bincount(items, weights=np.asarray(residuals, np.float64), minlength=n_items)
    denominator = np.bincount(items, minlength=n_items) + float(shrink)
    return np.divide(total, denominator, out=np.zeros(len(total)), where=denominator > 0)


def head_outputs(backbone, x) -> Tuple[np.ndarray, np.ndarray]:
    """The rating head's score (before a sigmoid) and output of every row of ``x``, in
    target units (Keras' batched predict: memory grows with the rows alone).

    Args:
        backbone: A trained :class:`~kerasrec.models.hybrid.backbone.HybridBackbone`.
        x: Its inputs by name.

    Returns:
        ``(score, output)``, float64 arrays; the same array twice without a sigmoid.
    """
    from kerasrec import training

    output = training.predict(backbone, x).astype(np.float64)
    if not backbone.sigmoid_output:
        return output, output
    lo, hi = backbone.target_range
    share = np.clip((output - lo) / (hi - lo), 1e-7, 1.0 - 1e-7)
    return np.log(share / (1.0 - share)), output


def outputs_of(backbone, score: np.ndarray) -> np.ndarray:
    """The rating head's output of a score (before a sigmoid), in target units."""
    if not backbone.sigmoid_output:
        return score
    return backbone.output_rescaling()(1.0 / (1.0 + np.exp(-score)))


def refits_movie_biases(backbone, config) -> bool:
    """Whether the movie-bias refit is on (``config.movie_bias_refit``) and has a
    movie bias to move that the stars read."""
    return (config.movie_bias_refit and backbone.item_bias is not None
            and abs(backbone.head_weight("item_bias")) >= 1e-6)


def choose_star_steps(backbone, config, x, train) -> Tuple[MovieBiasChoice, RecentStarsChoice]:
    """The steps the stars take after training, chosen on the validation cut from the
    rows the fit trained on: first the movie-bias refit's weight and shrinkage
    (:func:`movie_bias_steps`), then, on the stars it leaves, the weight, shrinkage and
    half-life of the recent residuals (the part still zero): each validation rating
    gets the faded, shrunk mean residual of the user's last ratings before it, as a
    rating after the training file gets from its last ratings
    (:func:`~kerasrec.models.hybrid.recent.recent_residual`).

    Args:
        backbone: The trained backbone.
        config: Its :class:`~kerasrec.models.hybrid.HybridConfig`.
        x: The training inputs by name (the rows the fit saw, held-out ones included).
        train: The :class:`~kerasrec.training.TrainConfig` of the fit (its validation
            cut).

    Returns:
        ``(movie bias choice, recent stars choice)``, each with the validation RMSE
        without and with its step in target units; weight 0 and no RMSE for a part
        switched off or without a validation cut.
    """
    from kerasrec import training
    from kerasrec.models.hybrid.recent import (latest_time, residual_window,
                                               shrunk_and_faded, sorted_history)

    layer = backbone.recent_residuals
    refit = refits_movie_biases(backbone, config)
    nothing = MovieBiasChoice(), RecentStarsChoice()
    if not (layer is not None or refit) or not train.validation_fraction:
        return nothing
    fit_idx, val_idx = training.validation_rows(x, train.validation_fraction, train.seed,
                                                train.validation_cut)
    if not len(val_idx) or not len(fit_idx):
        return nothing
    score, output = head_outputs(backbone, x)
    target = np.asarray(x["rating"], np.float64)

    def error(moved: np.ndarray) -> float:
        return float(np.sqrt(np.mean((outputs_of(backbone, moved) - target[val_idx]) ** 2)))

    bias = MovieBiasChoice()
    if refit:
        items, n_items = np.asarray(x["item_id"]), backbone.n_items
        residuals = target[fit_idx] - output[fit_idx]
        steps = {shrink: movie_bias_steps(items[fit_idx], residuals, n_items, shrink)
                 for shrink in MOVIE_BIAS_SHRINKS}
        tried = {(w, shrink): error(score[val_idx] + w * step[items[val_idx]])
                 for shrink, step in steps.items() for w in MOVIE_BIAS_WEIGHTS}
        best = min(tried, key=tried.get)
        bias = MovieBiasChoice(*best, before=tried[(0.0, best[1])], after=tried[best])
        score = score + bias.weight * steps[bias.shrink][items]
        output = outputs_of(backbone, score)
    if layer is None:
        return bias, RecentStarsChoice()
    u, t = x["user_id"], input_times(x)
    keys, _, residuals = sorted_history(u[fit_idx], np.zeros(len(fit_idx), np.int32),
                                        t[fit_idx], target[fit_idx] - output[fit_idx])
    window = residual_window(keys, residuals, u[val_idx], t[val_idx], layer.length,
                             latest_time(keys))
    half_lives = RECENT_STARS_HALF_LIVES if config.recent_stars_fade else (0.0,)
    tried = {}
    for shrink in RECENT_STARS_SHRINKS:
        for half_life in half_lives:
            drift = shrunk_and_faded(*window, shrink, half_life)
            tried.update({(w, shrink, half_life): error(score[val_idx] + w * drift)
                          for w in RECENT_STARS_WEIGHTS})
    best = min(tried, key=tried.get)
    return bias, RecentStarsChoice(*best, before=tried[(0.0,) + best[1:]], after=tried[best])


def take_star_steps(backbone, x, bias: MovieBiasChoice, drift: RecentStarsChoice) -> None:
    """Take the chosen steps from every training rating: move the movie biases by their
    shrunk mean residuals, then store the model's residual on every training rating in
    ``recent_residuals`` and give the part its chosen weight. A step of weight 0 is not
    taken: the residuals of a part the stars do not read would cost a prediction pass
    over every training rating, and their sorting, for nothing (the layer then stays
    empty, which reads as zero).

    Args:
        backbone: The trained backbone; its weights are changed in place.
        x: The training inputs by name, every rating.
        bias, drift: What :func:`choose_star_steps` chose.
    """
    store = backbone.recent_residuals is not None and drift.weight != 0
    if bias.weight or store:
        _move_stars(backbone, x, bias, drift if store else None)
    if backbone.recent_residuals is not None:
        # The head's entry for the part is still its initial value (the layer is zero
        # in training, so nothing trained it): the chosen weight, 0 or not.
        backbone.set_head_weight("recent_stars", drift.weight)


def _move_stars(backbone, x, bias: MovieBiasChoice, drift: Optional[RecentStarsChoice]
                ) -> None:
    """:func:`take_star_steps`' pass over the training ratings: the movie-bias step,
    then (``drift`` given) every rating's residual stored."""
    score, output = head_outputs(backbone, x)  # recent_stars is still zero here
    target = np.asarray(x["rating"], np.float64)
    if bias.weight:
        items = np.asarray(x["item_id"])
        step = bias.weight * movie_bias_steps(items, target - output, backbone.n_items,
                                              bias.shrink)
        backbone.shift_movie_biases(step)
        output = outputs_of(backbone, score + step[items])
    if drift is not None:
        backbone.recent_residuals.set_residuals(
            x["user_id"], input_times(x), (target - output).astype(np.float32),
            drift.shrink, drift.half_life)


def star_steps_chosen(backbone, config, bias: MovieBiasChoice, drift: RecentStarsChoice
                      ) -> dict:
    """What :func:`choose_star_steps` chose, for the model's ``chosen`` (nothing of a
    part that is off)."""
    chosen = {}
    if refits_movie_biases(backbone, config):
        chosen.update({"movie_bias_weight": bias.weight, "movie_bias_shrink": bias.shrink,
                       "val_scaled_rmse_without_movie_bias_refit": bias.before,
                       "val_scaled_rmse_with_movie_bias_refit": bias.after})
    if backbone.recent_residuals is not None:
        chosen.update({"recent_stars_weight": drift.weight,
                       "recent_stars_shrink": drift.shrink,
                       "recent_stars_half_life_days": drift.half_life,
                       "val_scaled_rmse_without_recent_stars": drift.before,
                       "val_scaled_rmse_with_recent_stars": drift.after})
    return chosen
