"""The hybrid under the model contract: training, exact explanations, item vectors and
the additive context/session terms, all read from the backbone's attributes. What a fit
chooses on validation after training lives beside it: the stars' steps in
:mod:`~kerasrec.models.hybrid.star_steps`, the list weights in
:mod:`~kerasrec.models.hybrid.list_weights`."""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

import numpy as np
import pandas as pd

from kerasrec.errors import CapabilityError
from kerasrec.models.base import Block, register
from kerasrec.models.hybrid import list_weights, star_steps
from kerasrec.models.hybrid.config import HybridConfig
from kerasrec.models.keras_model import KerasRatingModel, history_in_stars, target_range

#: Most movies the retrieval softmax scores in full (a batch x movies matrix of logits);
#: above it ``retrieval_negatives="auto"`` trains with in-batch negatives.
RETRIEVAL_SOFTMAX_LIMIT = 20_000


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
        rank by are chosen on the same validation cut
        (:func:`~kerasrec.models.hybrid.list_weights.choose_list_weights`), and
        the movie-bias refit and the weight of the recent residuals in the stars
        (:func:`~kerasrec.models.hybrid.star_steps.choose_star_steps`);
        a catch-up pass trains on that cut (``TrainConfig.catch_up``), the residuals of
        every training rating are stored
        (:func:`~kerasrec.models.hybrid.star_steps.take_star_steps`) and the co-watch
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
        tried = list_weights.choose_list_weights(self, x, config)
        steps = star_steps.choose_star_steps(backbone, self.config, x, config)
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
                       **star_steps.star_steps_chosen(backbone, self.config, *steps),
                       "validation_cut": config.validation_cut,
                       "val_recall@10_by_blend_recent_co_watch_half_life_after": {
                           ",".join(f"{v:g}" for v in key): r for key, r in tried.items()}}
        return self

    def _fit_rating_head(self, pipeline, ratings, products, train, seed: int) -> "Hybrid":
        """The fit without the retrieval tower: the rating head alone, then the stars'
        steps chosen on the validation cut before the catch-up pass
        (:func:`~kerasrec.models.hybrid.star_steps.choose_star_steps`)."""
        from kerasrec.models.keras_model import zero_unseen_rows

        if not (self.config.recent_stars or self.config.movie_bias_refit):
            return super().fit(pipeline, ratings, products, train, seed)
        config = train or self.train_config(seed=seed)
        x = self._train(pipeline, ratings, dataclasses.replace(config, catch_up=False), seed)
        steps = star_steps.choose_star_steps(self.backbone, self.config, x, config)
        if self._catch_up(self.backbone, x, x["rating"], config):
            zero_unseen_rows(self.backbone)
        self._take_star_steps(x, *steps)
        self.chosen = {**star_steps.star_steps_chosen(self.backbone, self.config, *steps),
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

    def _take_star_steps(self, x, *steps) -> None:
        """:func:`~kerasrec.models.hybrid.star_steps.take_star_steps`, then forget what
        was built from the weights it moves."""
        self._parts_call = self._retrieval_module = None
        star_steps.take_star_steps(self.backbone, x, *steps)

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
            share = merged[:, start:start + width] @ kernel[start:start + width]
            parts[name] = parts.get(name, 0.0) + share
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
