"""The hybrid under the model contract: training, exact explanations, item vectors and
the additive context/session terms, all read from the backbone's attributes."""

from __future__ import annotations

import dataclasses
from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np
import pandas as pd

from kerasrec.errors import CapabilityError
from kerasrec.models.base import Block, register
from kerasrec.models.hybrid.config import HybridConfig
from kerasrec.models.hybrid.recent import input_times
from kerasrec.models.keras_model import KerasRatingModel, history_in_stars, target_range
from kerasrec.schema import RATING_RANGE

#: Most movies the retrieval softmax scores in full (a batch x movies matrix of logits);
#: above it ``retrieval_negatives="auto"`` trains with in-batch negatives.
RETRIEVAL_SOFTMAX_LIMIT = 20_000
#: Weights of the predicted stars beside the retrieval score tried on validation, per
#: MovieLens star (:func:`star_unit`).
BLENDS = (0.0, 0.25, 0.5, 1.0)
#: Weights of the sequence branch in what lists rank by, tried on validation.
RECENT_WEIGHTS = (0.0, 0.5, 1.0)
#: Weights of the co-watch part tried on validation, in units of the spread of the
#: retrieval scores over the spread of the co-watch scores (so 1 weighs them alike).
CO_WATCH_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)
#: Movies per user whose stars are predicted to choose the stars' blend: the top of
#: the lists without them.
CANDIDATES = 200
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
    """What validation chose for ``recent_stars`` (:meth:`Hybrid._choose_star_steps`)."""

    weight: float = 0.0
    shrink: float = 1.0
    half_life: float = 0.0
    before: Optional[float] = None
    after: Optional[float] = None


class MovieBiasChoice(NamedTuple):
    """What validation chose for ``movie_bias_refit`` (:meth:`Hybrid._choose_star_steps`)."""

    weight: float = 0.0
    shrink: float = 1.0
    before: Optional[float] = None
    after: Optional[float] = None


def star_unit(rating_range: Tuple[float, float]) -> float:
    """A MovieLens star in stars of ``rating_range``, by the scales' spans (1.0 on
    MovieLens' 0.5-5, 0.5 on 1-10): star weights chosen on a grid (:data:`BLENDS`) are
    scaled by it, so the same ratings on another scale give the same lists."""
    low, high = rating_range
    return (RATING_RANGE[1] - RATING_RANGE[0]) / (high - low)


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


# Parts that use what the model learned about a user / a movie id. For a user (movie)
# the model never saw in training these carry no information and are dropped.
USER_PARTS = ("mf", "mlp", "item_neighbours", "user_neighbours", "user_bias", "session_bias",
              "recent_stars")
ITEM_PARTS = ("mlp", "item_neighbours", "user_neighbours", "item_bias")


@register("hybrid")
class Hybrid(KerasRatingModel):
    """The article's four branches (MF, MLP, item features, context) plus biases,
    session bias, SVD++ history, genre factors, neighbourhoods, a retrieval tower that
    learns what each user watches and a sequence branch over their recent movies.

    Options: the fields of :class:`~kerasrec.models.hybrid.HybridConfig` (e.g.
    ``mlp=False``, ``mf_dim=64``, ``ids_only=True``).

    Cold start, exact and explained: a user unseen in training is scored from the
    parts that describe the movie and the moment (item features, context, item bias);
    a movie never rated from its genres (item features, genre factors) and the
    user's parts.
    """

    summary = ("four-branch hybrid: MF, MLP, item features, context (+ biases, sessions, "
               "neighbours, retrieval, recent-history attention, co-watch)")
    scores_cold_pairs = True
    #: Its best validation epoch comes early (the 2nd or 3rd on MovieLens latest-small,
    #: either cut) and the ones after it only get worse, so one epoch without
    #: improvement ends training; a catch-up pass over the validation rows then lowers
    #: validation RMSE (benchmarks/hybrid_ablation.py: stopping after one bad epoch
    #: rather than two gives 0.8428 against 0.8529 on the temporal cut, 0.8234 against
    #: 0.8257 on the random one, lists level, and saves an epoch of 18-20 s).
    train_defaults = {"patience": 1, "catch_up": True}
    keras_modules = ("kerasrec.models.hybrid.backbone",)

    def __init__(self, **options):
        super().__init__(**options)
        self.config = HybridConfig(**self.options)

    @classmethod
    def option_names(cls) -> Tuple[str, ...]:
        return HybridConfig.names()

    @classmethod
    def option_defaults(cls):
        return HybridConfig.defaults()

    def supports(self, capability: str) -> bool:
        c = self.config
        switched_on = {"relevance": c.retrieval, "explain_relevance": c.retrieval,
                       "retrieval": c.retrieval or c.mf,
                       "item_vectors": c.retrieval or c.mf or c.mlp,
                       "recent": self._reads_recent()}
        return switched_on.get(capability, True) and super().supports(capability)

    def load_parts(self, folder, pipeline) -> None:
        super().load_parts(folder, pipeline)
        self._parts_call = self._query_model = self._recent_module = None
        self._retrieval_module = None
        self.config = self.backbone.hybrid_config  # as trained ("auto" negatives resolved)

    def needs_item_features_for_fit(self) -> bool:
        return self.config.needs_features and not self.config.ids_only

    def build(self, pipeline, train_inputs: Block, seed: int):
        from kerasrec.models.hybrid.backbone import HybridBackbone

        self._fit_to_data(len(train_inputs["user_id"]))
        return HybridBackbone.from_training(pipeline, train_inputs, self.config,
                                            target_range=target_range(pipeline),
                                            verbose=getattr(self, "build_verbose", 0))

    def _fit_to_data(self, n_ratings: int) -> None:
        """Switch off, with a warning each, the parts too costly for ``n_ratings``
        (:func:`~kerasrec.models.hybrid.budget.within_budget`)."""
        import warnings

        from kerasrec.errors import ScaleWarning
        from kerasrec.models.hybrid.budget import within_budget

        self.config, messages = within_budget(self.config, n_ratings)
        for message in messages:
            warnings.warn(message, ScaleWarning, stacklevel=3)

    @property
    def backbone(self):
        return self.keras_model

    def fit(self, pipeline, ratings, products, train=None, seed: int = 0) -> "Hybrid":
        """Train the rating head, and with ``retrieval`` the softmax over the catalog too
        (every rated movie a positive; in-batch negatives for large catalogs) and the
        sequence branch's own softmax, on one loss: rating MSE + ``retrieval_weight`` x
        each cross-entropy; the best validation epoch of that loss is kept. Then the
        weights of the stars, the sequence branch and the co-watch part in what lists
        rank by are chosen on the same validation cut (:meth:`_choose_relevance`), and
        the movie-bias refit and the weight of the recent residuals in the stars
        (:meth:`_choose_star_steps`);
        a catch-up pass trains on that cut (``TrainConfig.catch_up``), the residuals of
        every training rating are stored (:meth:`_take_star_steps`) and the co-watch
        weights are refitted on every rating."""
        self._retrieval_module = None  # built from the weights this fit leaves
        self._fit_to_data(len(ratings))
        config = train or self.train_config(seed=seed)
        self.build_verbose = config.verbose
        if self.config.recent_stars and not config.validation_fraction:
            # Without a validation cut nothing chooses the part's weight, so it would be
            # 0: not built, its table (one row a rating: 300 MB at 25M) is not either.
            self.config = dataclasses.replace(self.config, recent_stars=False)
        if self.config.retrieval_negatives == "auto":
            large = pipeline.n_items - 1 > RETRIEVAL_SOFTMAX_LIMIT
            self.config = dataclasses.replace(
                self.config, retrieval_negatives="in_batch" if large else "catalog")
        if not self.config.retrieval:
            return self._fit_rating_head(pipeline, ratings, products, train, seed)
        import keras

        from kerasrec import training
        from kerasrec.distribute import scope
        from kerasrec.models.keras_model import zero_unseen_rows
        from kerasrec.models.hybrid.retrieval_layers import FirstRowsSoftmax, InBatchSoftmax
        from kerasrec.optimizers import get_optimizer

        x = pipeline.transform(ratings, item_features=self.needs_item_features_for_fit())
        with scope(config.strategy):
            keras.utils.set_random_seed(seed)
            backbone = self.build(pipeline, x, seed)
            model = backbone.training_model()
            softmax = (InBatchSoftmax if self.config.retrieval_negatives == "in_batch"
                       else FirstRowsSoftmax)
            heads = ["retrieval"] + ["recent"] * (backbone.recent_logits is not None)
            model.compile(optimizer=get_optimizer(config.optimizer, config.learning_rate),
                          loss={"rating": "mse", **{h: softmax() for h in heads}},
                          loss_weights={"rating": 1.0,
                                        **{h: self.config.retrieval_weight for h in heads}},
                          metrics={"rating": [keras.metrics.RootMeanSquaredError(name="rmse")]})
            targets = {"rating": x["rating"], **{h: x["item_id"] for h in heads}}
            # The catch-up pass comes after the list weights are chosen on the same rows.
            history = training.fit(model, x, targets,
                                   config=dataclasses.replace(config, catch_up=False))
        # The backbone is what is saved and served: it records the optimizer used (its
        # configuration; the state belongs to the two-output training model).
        optimizer = model.optimizer
        backbone.compile(optimizer=type(optimizer).from_config(optimizer.get_config()),
                         loss="mse")

        def zero_unseen():  # row 0 of every table: users and movies unseen in training
            zero_unseen_rows(backbone)
            scores = backbone.catalog_scores
            for weight in (scores.item_embeddings, scores.item_bias):
                values = np.asarray(weight.numpy())
                values[0] = 0.0
                weight.assign(values)
            self._parts_call = self._query_model = self._recent_module = None
            self._retrieval_module = None

        zero_unseen()
        self.keras_model, self.pipeline = backbone, pipeline
        self.history = history_in_stars(history.history, pipeline)
        tried = self._choose_relevance(x, config)
        steps = self._choose_star_steps(x, config)
        if self._catch_up(model, x, targets, config):
            zero_unseen()
        self._take_star_steps(x, *steps)
        (backbone.relevance_blend, backbone.recent_weight, backbone.co_watch_weight,
         backbone.co_watch_half_life, after) = max(tried, key=tried.get)
        if backbone.co_watch is not None:  # the choice made, the weights from every rating
            from kerasrec.models.hybrid.co_watch import fit_co_watch

            c = self.config
            backbone.co_watch.set_weights_from(*fit_co_watch(
                x["user_id"], x["item_id"], pipeline.n_items, c.co_watch_l2,
                backbone.co_watch.n_weights, c.co_watch_max_items,
                min_ratings=c.co_watch_min_ratings, timestamps=x.get("timestamp"),
                window=c.co_watch_window, after_weight=after))
        self.chosen = {"relevance_blend": backbone.relevance_blend,
                       "recent_weight": backbone.recent_weight,
                       "co_watch_weight": backbone.co_watch_weight,
                       "co_watch_half_life": backbone.co_watch_half_life,
                       "co_watch_after_weight": after,
                       **self._star_steps_chosen(*steps),
                       "validation_cut": config.validation_cut,
                       "val_recall@10_by_blend_recent_co_watch_half_life_after": {
                           ",".join(f"{v:g}" for v in key): r for key, r in tried.items()}}
        return self

    def _fit_rating_head(self, pipeline, ratings, products, train, seed: int) -> "Hybrid":
        """The fit without the retrieval tower: the rating head alone, then the stars'
        steps chosen on the validation cut before the catch-up pass
        (:meth:`_choose_star_steps`)."""
        from kerasrec.models.keras_model import zero_unseen_rows

        if not (self.config.recent_stars or self.config.movie_bias_refit):
            return super().fit(pipeline, ratings, products, train, seed)
        config = train or self.train_config(seed=seed)
        x = self._train(pipeline, ratings, dataclasses.replace(config, catch_up=False), seed)
        steps = self._choose_star_steps(x, config)
        if self._catch_up(self.backbone, x, x["rating"], config):
            zero_unseen_rows(self.backbone)
        self._take_star_steps(x, *steps)
        self.chosen = {**self._star_steps_chosen(*steps),
                       "validation_cut": config.validation_cut}
        return self

    @staticmethod
    def _catch_up(model, x, targets, config) -> bool:
        """:func:`kerasrec.training.catch_up` of ``model`` on the validation rows, when
        the config asks; whether it ran."""
        from kerasrec import training
        from kerasrec.distribute import scope

        if not (config.catch_up and config.validation_fraction):
            return False
        _, held = training.validation_rows(x, config.validation_fraction, config.seed,
                                           config.validation_cut)
        with scope(config.strategy):
            training.catch_up(model, x, targets, held, config)
        return True

    def _head_outputs(self, x) -> Tuple[np.ndarray, np.ndarray]:
        """The rating head's score (before a sigmoid) and output of every row of ``x``,
        in target units (Keras' batched predict: memory grows with the rows alone)."""
        from kerasrec import training

        output = training.predict(self.backbone, x).astype(np.float64)
        if not self.backbone.sigmoid_output:
            return output, output
        lo, hi = self.backbone.target_range
        share = np.clip((output - lo) / (hi - lo), 1e-7, 1.0 - 1e-7)
        return np.log(share / (1.0 - share)), output

    def _refits_movie_biases(self) -> bool:
        b = self.backbone
        return (self.config.movie_bias_refit and b.item_bias is not None
                and abs(b.head_weight("item_bias")) >= 1e-6)

    def _outputs_of(self, score: np.ndarray) -> np.ndarray:
        """The rating head's output of a score (before a sigmoid), in target units."""
        if not self.backbone.sigmoid_output:
            return score
        return self.backbone.output_rescaling()(1.0 / (1.0 + np.exp(-score)))

    def _choose_star_steps(self, x, config) -> Tuple[MovieBiasChoice, RecentStarsChoice]:
        """The steps the stars take after training, chosen on the validation cut from
        the rows the fit trained on: first the movie-bias refit's weight and shrinkage
        (``movie_bias_refit``: :func:`movie_bias_steps`), then, on the stars it leaves,
        the weight, shrinkage and half-life of the recent residuals (``recent_stars``,
        the part still zero): each validation rating gets the faded, shrunk mean residual
        of the user's last ratings before it, as a rating after the training file gets
        from its last ratings (:func:`~kerasrec.models.hybrid.recent.recent_residual`).

        Returns:
            ``(movie bias choice, recent stars choice)``, each with the validation RMSE
            without and with its step in target units; weight 0 and no RMSE for a part
            switched off or without a validation cut.
        """
        from kerasrec import training
        from kerasrec.models.hybrid.recent import (latest_time, residual_window,
                                                   shrunk_and_faded, sorted_history)

        layer = self.backbone.recent_residuals
        nothing = MovieBiasChoice(), RecentStarsChoice()
        if not (layer is not None or self._refits_movie_biases()) or not (
                config.validation_fraction):
            return nothing
        fit_idx, val_idx = training.validation_rows(x, config.validation_fraction,
                                                    config.seed, config.validation_cut)
        if not len(val_idx) or not len(fit_idx):
            return nothing
        score, output = self._head_outputs(x)
        target = np.asarray(x["rating"], np.float64)

        def error(moved: np.ndarray) -> float:
            return float(np.sqrt(np.mean((self._outputs_of(moved) - target[val_idx]) ** 2)))

        bias = MovieBiasChoice()
        if self._refits_movie_biases():
            items, n_items = np.asarray(x["item_id"]), self.pipeline.n_items
            residuals = target[fit_idx] - output[fit_idx]
            steps = {shrink: movie_bias_steps(items[fit_idx], residuals, n_items, shrink)
                     for shrink in MOVIE_BIAS_SHRINKS}
            tried = {(w, shrink): error(score[val_idx] + w * step[items[val_idx]])
                     for shrink, step in steps.items() for w in MOVIE_BIAS_WEIGHTS}
            best = min(tried, key=tried.get)
            bias = MovieBiasChoice(*best, before=tried[(0.0, best[1])], after=tried[best])
            score = score + bias.weight * steps[bias.shrink][items]
            output = self._outputs_of(score)
        if layer is None:
            return bias, RecentStarsChoice()
        u, t = x["user_id"], input_times(x)
        keys, _, residuals = sorted_history(u[fit_idx], np.zeros(len(fit_idx), np.int32),
                                            t[fit_idx], target[fit_idx] - output[fit_idx])
        window = residual_window(keys, residuals, u[val_idx], t[val_idx], layer.length,
                                 latest_time(keys))
        half_lives = RECENT_STARS_HALF_LIVES if self.config.recent_stars_fade else (0.0,)
        tried = {}
        for shrink in RECENT_STARS_SHRINKS:
            for half_life in half_lives:
                drift = shrunk_and_faded(*window, shrink, half_life)
                tried.update({(w, shrink, half_life): error(score[val_idx] + w * drift)
                              for w in RECENT_STARS_WEIGHTS})
        best = min(tried, key=tried.get)
        return bias, RecentStarsChoice(*best, before=tried[(0.0,) + best[1:]],
                                       after=tried[best])

    def _take_star_steps(self, x, bias: MovieBiasChoice, drift: RecentStarsChoice) -> None:
        """Take the chosen steps from every training rating: move the movie biases by
        their shrunk mean residuals, then store the model's residual on every training
        rating in ``recent_residuals`` and give the part its chosen weight. A step of
        weight 0 is not taken: the residuals of a part the stars do not read would cost a
        prediction pass over every training rating, and their sorting, for nothing (the
        layer then stays empty, which reads as zero)."""
        b = self.backbone
        store = b.recent_residuals is not None and drift.weight != 0
        self._parts_call = self._retrieval_module = None
        if bias.weight or store:
            self._move_stars(x, bias, drift if store else None)
        if b.recent_residuals is not None:
            # The head's entry for the part is still its initial value (the layer is
            # zero in training, so nothing trained it): the chosen weight, 0 or not.
            b.set_head_weight("recent_stars", drift.weight)

    def _move_stars(self, x, bias: MovieBiasChoice, drift: Optional[RecentStarsChoice]
                    ) -> None:
        """:meth:`_take_star_steps`' pass over the training ratings: the movie-bias step,
        then (``drift`` given) every rating's residual stored."""
        b = self.backbone
        score, output = self._head_outputs(x)  # recent_stars is still zero here
        target = np.asarray(x["rating"], np.float64)
        if bias.weight:
            items = np.asarray(x["item_id"])
            step = bias.weight * movie_bias_steps(items, target - output,
                                                  self.pipeline.n_items, bias.shrink)
            b.shift_movie_biases(step)
            output = self._outputs_of(score + step[items])
        if drift is not None:
            b.recent_residuals.set_residuals(
                x["user_id"], input_times(x), (target - output).astype(np.float32),
                drift.shrink, drift.half_life)

    def _star_steps_chosen(self, bias: MovieBiasChoice, drift: RecentStarsChoice) -> dict:
        """What :meth:`_choose_star_steps` chose, for ``chosen`` (nothing of a part that
        is off)."""
        chosen = {}
        if self._refits_movie_biases():
            chosen.update({"movie_bias_weight": bias.weight, "movie_bias_shrink": bias.shrink,
                           "val_scaled_rmse_without_movie_bias_refit": bias.before,
                           "val_scaled_rmse_with_movie_bias_refit": bias.after})
        if self.backbone.recent_residuals is not None:
            chosen.update({"recent_stars_weight": drift.weight,
                           "recent_stars_shrink": drift.shrink,
                           "recent_stars_half_life_days": drift.half_life,
                           "val_scaled_rmse_without_recent_stars": drift.before,
                           "val_scaled_rmse_with_recent_stars": drift.after})
        return chosen

    def _choose_relevance(self, x, config, max_users: int = 1000
                          ) -> Dict[Tuple[float, float, float, float, float], float]:
        """Recall@10 of the lists on the validation cut ``training.fit`` held out
        (``config.validation_cut``), for the weights of what lists rank by, chosen in
        three steps:

        1. the co-watch part's half-life
           (:data:`~kerasrec.models.hybrid.co_watch.HALF_LIVES`) and the weight of its
           "after" weights (:data:`~kerasrec.models.hybrid.co_watch.AFTER_WEIGHTS`):
           those whose co-watch lists alone recall most;
        2. the weights of the sequence branch (:data:`RECENT_WEIGHTS`) and of the
           co-watch part (:data:`CO_WATCH_WEIGHTS`), on lists without the stars;
        3. the weight of the predicted stars (:data:`BLENDS`), reranking each user's
           top :data:`CANDIDATES` of the best lists of step 2.

        The users' queries are rebuilt from the ratings the fit trained on alone, and
        the co-watch weights are fitted on those ratings, so no held-out movie is in
        what scores it.

        Returns:
            ``{(blend, recent_weight, co_watch_weight, half_life, after_weight):
            recall}``.
        """
        from kerasrec import training
        from kerasrec.models.hybrid.co_watch import HALF_LIVES

        fit_idx, val_idx = training.validation_rows(x, config.validation_fraction or 0.1,
                                                    config.seed, config.validation_cut)
        held = pd.DataFrame({"u": x["user_id"][val_idx], "i": x["item_id"][val_idx]})
        held = held[(held["i"] > 0) & np.isin(held["u"], x["user_id"][fit_idx])]
        users = np.unique(held["u"])
        n_items, k = self.pipeline.n_items, min(10, self.pipeline.n_items - 1)
        max_users = min(max_users, max(100, 2 ** 24 // n_items))  # bounded memory
        users = np.random.default_rng(config.seed).permutation(users)[:max_users]
        weights = RECENT_WEIGHTS if self.backbone.history_attention is not None else (0.0,)
        half_lives = (() if self.backbone.co_watch is None
                      else HALF_LIVES if self.config.co_watch_recency else (0.0,))
        if not len(users) or k < 1:
            return {(0.0, 1.0, 0.0, 0.0, 0.0): 0.0}
        history, recent, co_watch = self._fit_part_queries(users, x, fit_idx, half_lives)
        scores = self.backbone.catalog_scores
        vectors = np.asarray(scores.item_vectors(), np.float32)
        bias = np.asarray(scores.item_bias.numpy(), np.float32)
        fit_pairs = pd.DataFrame({"u": x["user_id"][fit_idx], "i": x["item_id"][fit_idx]})
        seen, truth = np.zeros((2, len(users), n_items), bool)
        for mask, pairs in ((seen, fit_pairs), (truth, held)):
            row = pd.Index(users).get_indexer(pairs["u"])
            mask[row[row >= 0], pairs["i"].to_numpy()[row >= 0]] = True
        seen[:, 0] = True
        wanted = np.maximum(np.minimum(truth.sum(axis=1), k), 1)

        def recall(ranking: np.ndarray, rows: slice) -> np.ndarray:
            top = np.argpartition(-np.where(seen[rows], -np.inf, ranking), k - 1,
                                  axis=1)[:, :k]
            return np.take_along_axis(truth[rows], top, axis=1).sum(axis=1) / wanted[rows]

        chunks = [slice(lo, lo + 50) for lo in range(0, len(users), 50)]
        parts = [(history[chunk] @ vectors.T + bias, recent[chunk] @ vectors.T)
                 for chunk in chunks]  # (base, sequence) per chunk of 50 users x catalog
        half_life, after, co = _choose_co_watch(co_watch, half_lives, chunks, recall)
        # One unit of co-watch weight spreads the scores as much as the retrieval's.
        unit = 0.0
        if half_lives:
            spread = np.std(np.concatenate([c.ravel() for c in co]))
            unit = float(np.std(np.concatenate([p[0].ravel() for p in parts])) / spread
                         ) if spread > 0 else 0.0
        # Then the weights of the sequence branch and the co-watch part, on lists
        # without the stars ...
        recalls = {}
        for g in weights:
            for c in (CO_WATCH_WEIGHTS if unit else (0.0,)):
                key = (0.0, g, unit * c, half_life if c else 0.0, after if c else 0.0)
                recalls[key] = [recall(base + g * sequence + unit * c * co_chunk, chunk)
                                for chunk, (base, sequence), co_chunk in zip(chunks, parts, co)]
        # ... then the stars' blend, reranking each user's top CANDIDATES of those lists:
        # stars for every catalog movie would cost more than the rest of the choice.
        _, g, c, h, a = max(recalls, key=lambda key: np.mean(np.concatenate(recalls[key])))
        blends = [w * star_unit(self.pipeline.config.rating_range) for w in BLENDS[1:]]
        for w in blends:
            recalls[(w, g, c, h, a)] = []
        for chunk, (base, sequence), co_chunk in zip(chunks, parts, co):
            ranking = np.where(seen[chunk], -np.inf, base + g * sequence + c * co_chunk)
            top = np.argpartition(-ranking, min(CANDIDATES, n_items) - 1,
                                  axis=1)[:, :CANDIDATES]
            block = self._pairs_block(np.repeat(users[chunk], top.shape[1]), top.ravel())
            stars = self.score(block).reshape(top.shape).astype(np.float32)
            for w in blends:
                reranked = np.full_like(ranking, -np.inf)
                np.put_along_axis(reranked, top, np.take_along_axis(ranking, top, axis=1)
                                  + w * stars, axis=1)
                recalls[(w, g, c, h, a)].append(recall(reranked, chunk))
        return {key: float(np.mean(np.concatenate(r))) for key, r in recalls.items()}

    def _fit_part_queries(self, users: np.ndarray, x, fit_idx: np.ndarray,
                          half_lives=()):
        """The pooled-history and sequence shares of ``users``' queries, and their
        co-watch scores, from the ratings in ``fit_idx`` only (as if those were all
        the model stored).

        Returns:
            ``(history, recent, co_watch)``: arrays ``(len(users), dim)`` and a function
            ``(half_life, rows) -> (together, after)``, each ``(rows' users, n_items)``
            scores from EASE^R's and the "after" weights (None without them; the
            function is None without the co-watch part).
        """
        from kerasrec.models.hybrid.co_watch import (co_watch_scores, co_watch_weights,
                                                     sparse_co_watch)
        from kerasrec.models.hybrid.recent import recent_arrays, sorted_history, whole_history

        b = self.backbone
        mine = np.isin(x["user_id"][fit_idx], users)
        rows = fit_idx[mine]
        u, i = x["user_id"][rows].astype(np.int64), x["item_id"][rows].astype(np.int64)
        history = np.zeros((len(users), b.catalog_scores.dim))
        if b.retrieval_history is not None:
            counts = np.bincount(u, minlength=b.n_users).astype(np.float64)
            factors = np.asarray(b.retrieval_history.item_factors.numpy(), np.float64)
            pooled = np.zeros((b.n_users, factors.shape[1]))
            np.add.at(pooled, u, factors[i] / np.sqrt(counts[u])[:, None])
            history = pooled[users]
        if b.retrieval_user_embedding is not None:
            history += np.asarray(b.retrieval_user_embedding.embeddings.numpy())[users]
        timestamps = input_times(x)[rows]
        keys, items, ratings = sorted_history(u, i, timestamps, x["rating"][rows] - b.global_mean)
        now = np.full(len(users), -1)
        recent = np.zeros_like(history, np.float32)
        if b.history_attention is not None:
            window = recent_arrays(keys, items, ratings, users, now, b.recent_ratings.length,
                                   b.recent_ratings.era_edges)
            recent = np.asarray(b.history_attention(*window, training=False), np.float32)
        if not len(half_lives):
            return history.astype(np.float32), recent, None
        c = self.config
        fit_u, fit_i = x["user_id"][fit_idx], x["item_id"][fit_idx]
        covered, together, after = co_watch_weights(
            fit_u, fit_i, b.n_items, c.co_watch_l2, c.co_watch_max_items,
            c.co_watch_min_ratings, x["timestamp"][fit_idx] if "timestamp" in x else None,
            c.co_watch_window)
        sparse = [None if w is None else sparse_co_watch(covered, w, b.n_items,
                                                         b.co_watch.n_weights)
                  for w in (together, after)]
        del together, after
        owner, positions, ages = whole_history(keys, users, now)

        def co_watch(half_life: float, chunk: slice):
            mine = (owner >= chunk.start) & (owner < chunk.start + len(users[chunk]))
            return tuple(None if w is None else co_watch_scores(
                owner[mine] - chunk.start, items[positions[mine]], ages[mine], w,
                half_life, len(users[chunk])) for w in sparse)
        return history.astype(np.float32), recent, co_watch

    def _pairs_block(self, users: np.ndarray, items: np.ndarray) -> dict:
        """The (user, item) index pairs as model inputs, at the reference context."""
        items = np.asarray(items, np.int32)
        movies = np.append(-1, self.pipeline.item_vocabulary_)[items]
        block = {"user_id": np.asarray(users, np.int32), "item_id": items,
                 "movie_id": movies, "context": np.zeros((len(items), 2), np.uint8),
                 "timestamp": np.full(len(items), -1, np.int64)}
        if self.needs_item_features:
            block["item_features"] = self.pipeline.item_feature_table()[items]
        return block

    # --- scoring and explanation ---------------------------------------------------------

    def _branch_scores(self, block: Block, batch_size: int = 16384):
        """Each part's share of the head's input, in score units, and the head's bias."""
        if getattr(self, "_parts_call", None) is None:
            import tensorflow as tf

            parts_model = self.backbone.parts_model()
            # One traced graph for every batch size: eager op-by-op calls cost 3x more.
            self._parts_call = tf.function(lambda x: parts_model(x, training=False),
                                           reduce_retracing=True)
            self._parts_inputs = [t.name for t in parts_model.inputs]
        kernel, bias = self.backbone.rating_head.get_weights()
        kernel = kernel[:, 0].astype(np.float64)
        x = {name: block[name] for name in self._parts_inputs}
        n = len(block["user_id"])
        merged = np.concatenate([np.asarray(self._parts_call(
            {k: v[i:i + batch_size] for k, v in x.items()})[0], np.float64)
            for i in range(0, n, batch_size)]) if n else np.zeros((0, len(kernel)))
        parts: Dict[str, np.ndarray] = {}
        start = 0
        for name, width in self.backbone.branch_layout:
            parts[name] = parts.get(name, 0.0) + merged[:, start:start + width] @ kernel[start:start + width]
            start += width
        return parts, float(bias[0])

    def explain(self, block: Block) -> pd.DataFrame:
        """Parts in stars: ``intercept``, one per branch, and ``output_activation`` for a
        sigmoid output; each row sums to :meth:`score` exactly."""
        parts, bias = self._branch_scores(block)
        movies = block["movie_id"]
        n = len(movies)
        zero = self.pipeline.to_stars(np.zeros(n), movies).astype(np.float64)
        slope = self.pipeline.to_stars(np.ones(n), movies) - zero
        user_unknown, item_unknown = block["user_id"] == 0, block["item_id"] == 0
        for name in parts:
            drop = ((name in USER_PARTS) & user_unknown) | ((name in ITEM_PARTS) & item_unknown)
            parts[name] = np.where(drop, 0.0, parts[name])
        out = pd.DataFrame(index=pd.RangeIndex(n))
        if self.backbone.sigmoid_output:
            rescale = self.backbone.output_rescaling()
            score = bias + sum(parts.values())
            raw = zero + slope * rescale(1.0 / (1.0 + np.exp(-score)))
            linear_slope = slope * (rescale(1.0) - rescale(0.0)) / 4.0  # sigmoid'(0) = 1/4
            out["intercept"] = zero + slope * rescale(1.0 / (1.0 + np.exp(-bias)))
            for name, values in parts.items():
                out[name] = linear_slope * values
            out["output_activation"] = raw - out.sum(axis=1)
        else:
            out["intercept"] = zero + slope * bias
            for name, values in parts.items():
                out[name] = slope * values
        return out

    def score(self, block: Block) -> np.ndarray:
        return self.explain(block).sum(axis=1).to_numpy()

    # --- capabilities -----------------------------------------------------------------

    def item_vectors(self, block: Block) -> np.ndarray:
        """The retrieval branch's movie vectors (``e_i + W f_i``), learned from which
        movies each user chooses, so similar movies share an audience: of the 10 most
        similar to each of the 200 most rated movies, 56% are co-rated by 20 users or
        more, against 17% with the rating factors, which mostly match genres
        (``benchmarks/similar_items.py``). Without retrieval: the MF item factors, genre
        projection included (the MLP's item embedding without MF). Movies never rated
        get a vector from their genres either way."""
        b = self.backbone
        if b.catalog_scores is not None:
            return np.asarray(b.catalog_scores.item_vectors())[block["item_id"]]
        layer = b.mf_item_embedding or b.mlp_item_embedding
        if layer is None:
            self.unsupported("item_vectors")
        vectors = layer.get_weights()[0][block["item_id"]]
        if b.item_feature_factors is not None:
            features = block.get("item_features")
            if features is None:
                features = self.pipeline.item_features(block["movie_id"])
            vectors = vectors + features @ b.item_feature_factors.get_weights()[0]
        return vectors

    def relevance(self, block: Block, stars=None) -> np.ndarray:
        """What lists rank by: the retrieval score ``q_u . v_i + b_i`` (the logit of the
        softmax over the catalog that learned which movies each user chooses), plus
        ``co_watch_weight`` x the co-watch score (closed-form item-item weights, EASE^R's
        and what people rate next, over the user's movies, recent ones weighing more)
        and ``relevance_blend`` x the predicted stars, weights chosen on validation
        data."""
        if self.backbone.catalog_scores is None:
            self.unsupported("relevance")
        blend = self.backbone.relevance_blend
        retrieval = self._retrieval(block)
        if not blend:
            return retrieval
        return retrieval + blend * (self.score(block) if stars is None else stars)

    def explain_relevance(self, block: Block, stars=None) -> pd.DataFrame:
        """Parts of :meth:`relevance`, summing to it: ``popularity`` (the movie's bias
        ``b_i``), ``history`` (the pooled movies the user rated, ``q . v_i``), ``recent``
        (the sequence branch, ``recent_weight`` x ``s . v_i``; 0 without it),
        ``co_watch`` (``co_watch_weight`` x the co-watch score; 0 without it) and
        ``stars`` (the blend weight x the predicted stars)."""
        b = self.backbone
        if b.catalog_scores is None:
            self.unsupported("explain_relevance")
        users, inverse = np.unique(block["user_id"], return_inverse=True)
        items = np.asarray(block["item_id"])
        vectors = np.asarray(b.catalog_scores.item_vectors(), np.float64)[items]
        history, recent = (a.astype(np.float64)[inverse] for a in self._query_parts(users))
        recent *= b.recent_weight
        blend = b.relevance_blend
        if blend and stars is None:
            stars = self.score(block)
        co_watch = np.zeros(len(items))
        if b.co_watch is not None and b.co_watch_weight:
            for lo in range(0, len(users), 64):
                mine = (inverse >= lo) & (inverse < lo + 64)
                table = b.co_watch_scores(users[lo:lo + 64])
                co_watch[mine] = b.co_watch_weight * table[inverse[mine] - lo, items[mine]]
        return pd.DataFrame({
            "popularity": np.asarray(b.catalog_scores.item_bias.numpy(), np.float64)[items],
            "history": np.sum(history * vectors, axis=1),
            "recent": np.sum(recent * vectors, axis=1),
            "co_watch": co_watch,
            "stars": blend * np.asarray(stars, np.float64) if blend else np.zeros(len(items))})

    def _retrieval(self, block: Block, chunk: int = 256) -> np.ndarray:
        """``q_u . v_i + b_i`` + the weighted co-watch score per pair: (users x catalog)
        tables, ``chunk`` users at a time, then the pairs' entries (never a per-pair
        copy of the vectors)."""
        b = self.backbone
        users, inverse = np.unique(block["user_id"], return_inverse=True)
        items = np.asarray(block["item_id"])
        vectors = np.asarray(b.catalog_scores.item_vectors(), np.float32)
        bias = np.asarray(b.catalog_scores.item_bias.numpy(), np.float32)
        co_watch = b.co_watch is not None and b.co_watch_weight
        out = np.empty(len(items), np.float64)
        for lo in range(0, len(users), chunk):
            queries = self._queries(users[lo:lo + chunk])
            mine = (inverse >= lo) & (inverse < lo + chunk)
            scores = queries @ vectors.T + bias
            if co_watch:  # 64 users at a time: a long history has many weights
                for sub in range(lo, min(lo + chunk, len(users)), 64):
                    scores[sub - lo:sub - lo + 64] += np.float32(b.co_watch_weight) * (
                        b.co_watch_scores(users[sub:min(sub + 64, lo + chunk)]))
            out[mine] = scores[inverse[mine] - lo, items[mine]]
        return out

    def _reads_recent(self) -> bool:
        """Whether lists read the latest movies (the sequence branch or the co-watch
        part with a weight; before a fit chose them, whether either is on)."""
        c, backbone = self.config, getattr(self, "keras_model", None)
        if backbone is None:
            return c.sequence_on or c.co_watch_on
        return bool((backbone.history_attention is not None and backbone.recent_weight)
                    or (backbone.co_watch is not None and backbone.co_watch_weight))

    def _query_parts(self, users: np.ndarray):
        """The retrieval user vectors of user indices now (whole history), as the pooled
        history's and the sequence branch's shares (zeros without it); what lists rank
        by adds the latter times ``recent_weight``."""
        b = self.backbone
        if getattr(self, "_query_model", None) is None:
            self._query_model = b.query_model()  # built once: ms per Model
        users = np.asarray(users, np.int32)
        history = (np.zeros((len(users), b.catalog_scores.dim), np.float32)
                   if self._query_model is None
                   else np.asarray(self._query_model(users), np.float32))
        if b.history_attention is None:
            return history, np.zeros_like(history)
        return history, b.recent_vectors(users)

    def _queries(self, users: np.ndarray) -> np.ndarray:
        """The query lists rank by: pooled history + ``recent_weight`` x sequence."""
        history, recent = self._query_parts(users)
        return history + np.float32(self.backbone.recent_weight) * recent

    def recent_module(self):
        """How the given movies, appended to each user's history, change what lists
        rank by: the sequence branch re-read with them in its window (the last
        ``history_length`` kept, ratings unknown: centred 0), ``recent_weight`` x
        ``(s_new - s_now) . v_i``, plus the co-watch part with them as the latest
        ratings. Built once; see :func:`kerasrec.models.hybrid.recent.recent_module`."""
        b = self.backbone
        if b.history_attention is None and b.co_watch is None:
            self.unsupported("recent")
        if not self._reads_recent():
            cut = self.chosen.get("validation_cut", "random")
            raise CapabilityError(
                "this hybrid's lists give its recent-history branch and its co-watch part "
                f"no weight (chosen on a {cut} validation cut), so recent movies would "
                "not change them; fit with TrainConfig(validation_cut='temporal') to "
                "choose the weights for what users do next")
        if getattr(self, "_recent_module", None) is None:
            from kerasrec.models.hybrid.recent import recent_module

            self._recent_module = recent_module(
                b.recent_ratings, b.history_attention if b.recent_weight else None,
                b.catalog_scores, b.recent_weight,
                co_watch=b.co_watch if b.co_watch_weight else None,
                co_watch_weight=b.co_watch_weight, half_life=b.co_watch_half_life)
        return self._recent_module

    def retrieval_module(self):
        """The two stages of what lists rank by, on the model's own layers (see
        :mod:`kerasrec.models.hybrid.retrieve`). With the retrieval tower: the
        retrieval score and co-watch part for the whole catalog, the weighted stars for
        the candidates (:meth:`relevance`). Without it (lists rank by stars): the
        rating head's factorized share chooses the candidates, whose stars rank them.
        Built once: the query of every training user is computed then."""
        b = self.backbone
        if b.catalog_scores is None and b.mf_dot is None:
            self.unsupported("retrieval")
        if getattr(self, "_retrieval_module", None) is None:
            from kerasrec.models.hybrid import retrieve

            users = np.arange(b.n_users)
            if b.catalog_scores is not None:
                stage = retrieve.retrieval_stage(b, retrieve.all_queries(users, self._queries))
            else:
                stage = retrieve.factor_stage(b, users, self.pipeline.item_feature_table())
            self._retrieval_module = retrieve.retrieval_module(b, stage, USER_PARTS,
                                                               ITEM_PARTS)
        return self._retrieval_module

    def additive_terms(self):
        from kerasrec.models.hybrid.terms import HybridTerms

        b = self.backbone
        if b.sigmoid_output:
            raise CapabilityError("a hybrid with a sigmoid output is not additive in context")
        kernel = b.rating_head.get_weights()[0][:, 0].astype(np.float64)
        offsets = np.cumsum([0] + [w for _, w in b.branch_layout])
        head = {name: kernel[lo:hi] for (name, _), lo, hi in
                zip(b.branch_layout, offsets[:-1], offsets[1:])}
        terms = HybridTerms()
        if b.context_dense is not None:
            k, c = b.context_dense.get_weights()
            terms.context_kernel, terms.context_bias = k.astype(np.float64), c.astype(np.float64)
            terms.context_head = head["context"]
        if b.session_bias is not None:
            layer = b.session_bias
            terms.session_keys = np.asarray(layer.session_keys.numpy(), np.int64)
            terms.session_values = (np.asarray(layer.session_bias.numpy(), np.float64)[:, 0]
                                    * head["session_bias"][0])
            terms.session_hours = layer.session_hours
        if b.recent_residuals is not None and head["recent_stars"][0]:
            layer = b.recent_residuals
            stored = layer.stored()
            terms.recent_keys, terms.recent_residuals = stored["keys"], stored["residuals"]
            terms.recent_values = np.array([stored["length"], stored["shrink"],
                                            head["recent_stars"][0], stored["half_life"],
                                            stored["latest"]], np.float64)
        return terms


def _choose_co_watch(co_watch, half_lives, chunks, recall):
    """Step 1 of :meth:`Hybrid._choose_relevance`: the co-watch half-life and weight of
    the "after" weights whose lists alone recall most on validation.

    Args:
        co_watch: ``(half_life, chunk) -> (together, after)`` scores (``after`` None
            without them), from :meth:`Hybrid._fit_part_queries`.
        half_lives: Half-lives to try (empty without the co-watch part).
        chunks: Row slices of the validation users.
        recall: ``(scores, chunk) -> per-user recall``.

    Returns:
        ``(half_life, after_weight, scores per chunk)``; without the part, zeros.
    """
    from kerasrec.models.hybrid.co_watch import AFTER_WEIGHTS

    def spread(arrays) -> float:
        return float(np.std(np.concatenate([a.ravel() for a in arrays])))

    best, chosen = -1.0, (0.0, 0.0, [0.0] * len(chunks))
    for h in half_lives:
        pairs = [co_watch(h, chunk) for chunk in chunks]
        together = [t for t, _ in pairs]
        after = [a for _, a in pairs]
        # One unit of after weight spreads their scores as much as EASE's.
        unit = (spread(together) / spread(after)
                if after[0] is not None and spread(after) > 0 else 0.0)
        for a in (AFTER_WEIGHTS if unit else (0.0,)):
            scores = [t + a * unit * n for t, n in zip(together, after)] if a else together
            found = np.mean(np.concatenate([recall(c, chunk) for c, chunk in zip(scores, chunks)]))
            if found > best:
                best, chosen = found, (h, a * unit, scores)
    return chosen
