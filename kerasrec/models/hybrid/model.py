"""The hybrid under the model contract: training, exact explanations, item vectors and
the additive context/session terms, all read from the backbone's attributes."""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

import numpy as np
import pandas as pd

from kerasrec.errors import CapabilityError
from kerasrec.models.base import Block, register
from kerasrec.models.hybrid.config import HybridConfig
from kerasrec.models.keras_model import KerasRatingModel, history_in_stars, target_range

# Parts that use what the model learned about a user / a movie id. For a user (movie)
# the model never saw in training these carry no information and are dropped.
#: Most movies the retrieval softmax scores in full (a batch x movies matrix of logits).
RETRIEVAL_SOFTMAX_LIMIT = 20_000
#: Weights of the predicted stars beside the retrieval score tried on validation.
BLENDS = (0.0, 0.25, 0.5, 1.0, 2.0)
USER_PARTS = ("mf", "mlp", "item_neighbours", "user_neighbours", "user_bias", "session_bias")
ITEM_PARTS = ("mlp", "item_neighbours", "user_neighbours", "item_bias")


@register("hybrid")
class Hybrid(KerasRatingModel):
    """The article's four branches (MF, MLP, item features, context) plus biases,
    session bias, SVD++ history, genre factors and neighbourhoods.

    Options: the fields of :class:`~kerasrec.models.hybrid.HybridConfig` (e.g.
    ``mlp=False``, ``mf_dim=64``, ``ids_only=True``).

    Cold start, exact and explained: a user unseen in training is scored from the
    parts that describe the movie and the moment (item features, context, item bias);
    a movie never rated from its genres (item features, genre factors) and the
    user's parts.
    """

    summary = "four-branch hybrid: MF, MLP, item features, context (+ biases, sessions, neighbours)"
    scores_cold_pairs = True

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
        switched_on = {"relevance": c.retrieval, "item_vectors": c.retrieval or c.mf or c.mlp}
        return switched_on.get(capability, True) and super().supports(capability)

    def load_parts(self, folder, pipeline) -> None:
        super().load_parts(folder, pipeline)
        self._parts_call = self._query_model = None
        self.config = self.backbone.hybrid_config  # as trained (e.g. retrieval switched off)

    def needs_item_features_for_fit(self) -> bool:
        return self.config.needs_features and not self.config.ids_only

    def build(self, pipeline, train_inputs: Block, seed: int):
        from kerasrec.models.hybrid.backbone import HybridBackbone

        return HybridBackbone.from_training(pipeline, train_inputs, self.config,
                                            target_range=target_range(pipeline))

    @property
    def backbone(self):
        return self.keras_model

    def fit(self, pipeline, ratings, products, train=None, seed: int = 0) -> "Hybrid":
        """Train the rating head, and with ``retrieval`` the softmax over the catalog too
        (every rated movie a positive), on one loss: rating MSE + ``retrieval_weight``
        x cross-entropy; the best validation epoch of that loss is kept."""
        if self.config.retrieval and pipeline.n_items - 1 > RETRIEVAL_SOFTMAX_LIMIT:
            import warnings

            warnings.warn(f"retrieval switched off: {pipeline.n_items - 1:,} movies exceed the "
                          f"full-softmax limit of {RETRIEVAL_SOFTMAX_LIMIT:,} (batch x movies "
                          "logits); lists rank by predicted stars", stacklevel=2)
            self.config = dataclasses.replace(self.config, retrieval=False)
        if not self.config.retrieval:
            return super().fit(pipeline, ratings, products, train, seed)
        import keras

        from kerasrec import training
        from kerasrec.distribute import scope
        from kerasrec.models.keras_model import zero_unseen_rows
        from kerasrec.optimizers import get_optimizer

        config = train or self.train_config(seed=seed)
        x = pipeline.transform(ratings, item_features=self.needs_item_features_for_fit())
        with scope(config.strategy):
            keras.utils.set_random_seed(seed)
            backbone = self.build(pipeline, x, seed)
            model = backbone.training_model()
            model.compile(optimizer=get_optimizer(config.optimizer, config.learning_rate),
                          loss={"rating": "mse",
                                "retrieval": keras.losses.SparseCategoricalCrossentropy(
                                    from_logits=True)},
                          loss_weights={"rating": 1.0, "retrieval": self.config.retrieval_weight},
                          metrics={"rating": [keras.metrics.RootMeanSquaredError(name="rmse")]})
            history = training.fit(model, x, {"rating": x["rating"], "retrieval": x["item_id"]},
                                   config=config)
        # The backbone is what is saved and served: it records the optimizer used (its
        # configuration; the state belongs to the two-output training model).
        optimizer = model.optimizer
        backbone.compile(optimizer=type(optimizer).from_config(optimizer.get_config()),
                         loss="mse")
        zero_unseen_rows(backbone)
        scores = backbone.catalog_scores
        for weight in (scores.item_embeddings, scores.item_bias):  # row 0: unseen movies
            values = np.asarray(weight.numpy())
            values[0] = 0.0
            weight.assign(values)
        self.keras_model, self.pipeline = backbone, pipeline
        self.history = history_in_stars(history.history, pipeline)
        self._parts_call = self._query_model = None
        blends = self._choose_blend(x, config)
        backbone.relevance_blend = max(blends, key=blends.get)
        self.chosen = {"relevance_blend": backbone.relevance_blend,
                       "val_recall@10_by_blend": {f"{w:g}": r for w, r in blends.items()}}
        return self

    def _choose_blend(self, x, config, max_users: int = 300) -> Dict[float, float]:
        """Recall@10 on the validation cut ``training.fit`` held out, for each weight of
        the predicted stars beside the retrieval score (:data:`BLENDS`)."""
        from kerasrec import training

        fit_idx, val_idx = training.validation_cut(len(x["user_id"]),
                                                   config.validation_fraction or 0.1, config.seed)
        held = pd.DataFrame({"u": x["user_id"][val_idx], "i": x["item_id"][val_idx]})
        held = held[(held["i"] > 0) & np.isin(held["u"], x["user_id"][fit_idx])]
        users = np.unique(held["u"])
        users = np.random.default_rng(config.seed).permutation(users)[:max_users]
        n_items, k = self.pipeline.n_items, min(10, self.pipeline.n_items - 1)
        if not len(users) or k < 1:
            return {0.0: 0.0}
        fit_pairs = pd.DataFrame({"u": x["user_id"][fit_idx], "i": x["item_id"][fit_idx]})
        recalls = {weight: [] for weight in BLENDS}
        for lo in range(0, len(users), 50):  # bounded memory: 50 users x catalog at a time
            chunk = users[lo:lo + 50]
            block = self._catalog_block(chunk, n_items)
            retrieval = self._retrieval(block).reshape(len(chunk), n_items)
            stars = self.score(block).reshape(len(chunk), n_items)
            seen, truth = np.zeros((2, len(chunk), n_items), bool)
            for mask, pairs in ((seen, fit_pairs), (truth, held)):
                row = pd.Index(chunk).get_indexer(pairs["u"])
                mask[row[row >= 0], pairs["i"].to_numpy()[row >= 0]] = True
            seen[:, 0] = True
            for weight in BLENDS:
                ranking = np.where(seen, -np.inf, retrieval + weight * stars)
                top = np.argpartition(-ranking, k - 1, axis=1)[:, :k]
                hits = np.take_along_axis(truth, top, axis=1).sum(axis=1)
                recalls[weight].append(hits / np.maximum(np.minimum(truth.sum(axis=1), k), 1))
        return {weight: float(np.mean(np.concatenate(r))) for weight, r in recalls.items()}

    def _catalog_block(self, users: np.ndarray, n_items: int) -> dict:
        """Every (user, movie) pair of ``users`` x item indices, at the reference context."""
        items = np.tile(np.arange(n_items, dtype=np.int32), len(users))
        movies = np.append(-1, self.pipeline.item_vocabulary_)[items]
        block = {"user_id": np.repeat(users, n_items).astype(np.int32), "item_id": items,
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
        softmax over the catalog that learned which movies each user chooses) plus
        ``relevance_blend`` x the predicted stars, a weight chosen on validation data."""
        if self.backbone.catalog_scores is None:
            self.unsupported("relevance")
        blend = self.backbone.relevance_blend
        retrieval = self._retrieval(block)
        if not blend:
            return retrieval
        return retrieval + blend * (self.score(block) if stars is None else stars)

    def _retrieval(self, block: Block, chunk: int = 1024) -> np.ndarray:
        """``q_u . v_i + b_i`` per pair: a (users x catalog) product, ``chunk`` users at a
        time, then the pairs' entries (never a per-pair copy of the vectors)."""
        b = self.backbone
        users, inverse = np.unique(block["user_id"], return_inverse=True)
        items = np.asarray(block["item_id"])
        vectors = np.asarray(b.catalog_scores.item_vectors(), np.float32)
        bias = np.asarray(b.catalog_scores.item_bias.numpy(), np.float32)
        if getattr(self, "_query_model", None) is None:
            self._query_model = b.query_model()  # built once: a Model per call costs ms
        query_model = self._query_model
        out = np.empty(len(items), np.float64)
        for lo in range(0, len(users), chunk):
            queries = np.asarray(query_model(users[lo:lo + chunk].astype(np.int32)), np.float32)
            mine = (inverse >= lo) & (inverse < lo + chunk)
            scores = queries @ vectors.T + bias
            out[mine] = scores[inverse[mine] - lo, items[mine]]
        return out

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
        return terms
