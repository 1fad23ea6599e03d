"""The hybrid as a Keras model: four branches of the article, plus biases, sessions,
SVD++ history and neighbourhoods, each a named layer and an attribute.

In the style of keras-hub's backbones: the constructor creates the layers as
attributes, wires them with the Functional API and its arguments are the config, so
``keras.saving.load_model`` rebuilds it (in safe mode) from the ``.keras`` file alone.
What the model stores from the training data (history pairs, neighbour tables,
session keys, the item feature table) are non-trainable weights, set once by
:meth:`HybridBackbone.from_training`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import keras
import numpy as np
from keras import layers

from kerasrec.models.hybrid.config import HybridConfig
from kerasrec.models.hybrid.history_layers import (HistoryFactors, LeaveOneOutHistory,
                                                   Neighbourhood)
from kerasrec.models.hybrid.recent import era_edges as find_era_edges
from kerasrec.models.hybrid.recent import input_times
from kerasrec.models.hybrid.retrieval_layers import (CatalogScores, CoWatch, FirstRows,
                                                     InBatchCorrection)
from kerasrec.models.hybrid.sessions import training_sessions
from kerasrec.models.hybrid.time_layers import (HistoryAttention, RecentRatings,
                                                RecentResiduals, SessionBias)
from kerasrec.models.layers import RowDot, bias, embedding, id_input, l2_penalty, output_head

#: Hash tables a neighbourhood's residuals are split into (lookups run at once, one a
#: core; :class:`~kerasrec.models.hybrid.history_layers.Neighbourhood`).
LOOKUP_SHARDS = 2


@keras.saving.register_keras_serializable(package="kerasrec")
class HybridBackbone(keras.Model):
    """The hybrid rating model.

    Args:
        n_users: User embedding rows (``FeaturePipeline.n_users``, OOV bucket included).
        n_items: Item embedding rows (``FeaturePipeline.n_items``).
        n_item_features: Width of ``item_features``.
        n_context: Width of ``context``.
        config: A :class:`HybridConfig` or its dict.
        n_pairs: Training (user, item) pairs held by the history and neighbourhoods.
        n_sessions: Training sessions held by the session bias.
        neighbour_pools: Neighbours kept per movie / user, by side.
        global_mean: Initial output bias.
        target_range: Range of the targets, for the sigmoid output.
        relevance_blend: Weight of the predicted stars beside the retrieval score in
            what lists rank by (chosen on validation data after training).
        recent_weight: Weight of the sequence branch in what lists rank by (chosen on
            validation data after training; 1 in training).
        co_watch_weight: Weight of the co-watch part in what lists rank by (chosen on
            validation data after training).
        co_watch_half_life: Half-life, in ratings, of the co-watch part's recency
            weights (0: none; chosen on validation data).
        era_edges: Inner edges of the sequence branch's eras (``history_eras``; from the
            training times: :func:`~kerasrec.models.hybrid.recent.era_edges`).
        **kwargs: Model arguments (``name``, ``trainable``).

    Attributes:
        branch_layout: ``[(part name, width), ...]``: the columns of the ``branches``
            concatenation in order, which the linear ``rating`` head weighs.
        rating_head: The ``rating`` Dense unit.
        Each branch's layers as attributes (``mf_dot``, ``mlp_hidden``,
        ``item_features_dense``, ``context_dense``, ``neighbourhoods``, ``user_bias``,
        ``item_bias``, ``session_bias``, ``catalog_scores``, ``recent_ratings``,
        ``history_attention``, ``co_watch``, ``recent_residuals``); those switched off
        are None. The ``co_watch`` layer is not in the rating graph: it is closed-form,
        read where lists are ranked (with ``recent_ratings``, which it then always
        has). ``recent_residuals`` is zero until the fit fills it after training.

    Inputs: ``user_id``, ``item_id`` (int32 indices), ``item_features`` (unless
    ``ids_only``), ``context`` (if the context branch is on), ``timestamp`` (int64 Unix
    seconds, -1 if unknown or now; with the session bias or the sequence branch). Output:
    the scaled rating.
    """

    def __init__(self, n_users: int, n_items: int, n_item_features: int, n_context: int = 2,
                 config=None, n_pairs: int = 0, n_sessions: int = 0,
                 neighbour_pools: Optional[Mapping[str, int]] = None, global_mean: float = 0.0,
                 target_range: Tuple[float, float] = (0.0, 1.0), relevance_blend: float = 0.0,
                 recent_weight: float = 1.0, co_watch_weight: float = 0.0,
                 co_watch_half_life: float = 0.0, era_edges: Sequence[int] = (), **kwargs):
        c = config if isinstance(config, HybridConfig) else HybridConfig(**(config or {}))
        pools = dict(neighbour_pools or {})
        layout: List[Tuple[str, keras.KerasTensor]] = []
        user, item = id_input("user_id"), id_input("item_id")
        inputs = [user, item]
        features = None
        self.item_feature_table = None
        if c.needs_features:
            if c.ids_only:
                self.item_feature_table = layers.Embedding(n_items, n_item_features,
                                                           trainable=False,
                                                           name="item_feature_table")
                features = self.item_feature_table(item)
            else:
                features = keras.Input((n_item_features,), name="item_features")
                inputs.append(features)

        # (A) matrix factorization, with SVD++ history and genre factors.
        self.history_factors = self.item_feature_factors = self.mf_dot = None
        self.mf_user_embedding = self.mf_item_embedding = None
        if c.mf:
            self.mf_user_embedding = embedding(n_users, c.mf_dim, "user_embedding_mf", c.l2)
            user_factors = self.mf_user_embedding(user)
            self.mf_item_embedding = embedding(n_items, c.mf_dim, "item_embedding_mf", c.l2)
            item_factors = self.mf_item_embedding(item)
            if c.user_history:
                self.history_factors = HistoryFactors(
                    n_users, n_items, n_pairs, c.mf_dim, sorted_pairs=True,
                    activity_regularizer=l2_penalty(c.l2), name="user_history_factors")
                user_factors = layers.Add(name="user_factors")(
                    [user_factors, self.history_factors(user)])
            if c.feature_factors:
                self.item_feature_factors = layers.Dense(c.mf_dim, use_bias=False,
                                                         name="item_feature_factors")
                item_factors = layers.Add(name="item_factors")(
                    [item_factors, self.item_feature_factors(features)])
            self.mf_dot = RowDot(normalize=c.similarity == "cosine", name="mf_dot")
            layout.append(("mf", self.mf_dot([user_factors, item_factors])))
        # (B) an MLP over concatenated embeddings.
        self.mlp_hidden: List[layers.Layer] = []
        self.mlp_user_embedding = self.mlp_item_embedding = None
        if c.mlp:
            self.mlp_user_embedding = embedding(n_users, c.mlp_dim, "user_embedding_mlp", c.l2)
            user_vector = self.mlp_user_embedding(user)
            self.mlp_item_embedding = embedding(n_items, c.mlp_dim, "item_embedding_mlp", c.l2)
            x = layers.Concatenate(name="mlp_concat")([user_vector, self.mlp_item_embedding(item)])
            for k, units in enumerate(c.mlp_units, start=1):
                dense = layers.Dense(units, activation="relu", name=f"mlp_hidden_{k}")
                self.mlp_hidden.append(dense)
                x = dense(x)
                if c.dropout:
                    x = layers.Dropout(c.dropout, name=f"mlp_dropout_{k}")(x)
            layout.append(("mlp", x))
        # (C) item features: genres + old.
        self.item_features_dense = None
        if c.item_features:
            self.item_features_dense = layers.Dense(c.feature_units, activation="relu",
                                                    name="item_features_dense")
            layout.append(("item_features", self.item_features_dense(features)))
        # (D) context: daytime, weekend.
        self.context_dense = None
        if c.context:
            context = keras.Input((n_context,), name="context")
            inputs.append(context)
            self.context_dense = layers.Dense(c.context_units, activation="relu",
                                              name="context_dense")
            layout.append(("context", self.context_dense(context)))
        self.neighbourhoods: Dict[str, Neighbourhood] = {}
        for side in c.neighbours:
            layer = Neighbourhood(n_users, n_items, n_pairs, side=side, pool=pools[side],
                                  learn_weights=c.neighbour_weights,
                                  dense=n_users * n_items <= c.dense_residuals_limit,
                                  shards=LOOKUP_SHARDS,
                                  name=f"{side}_neighbourhood")
            self.neighbourhoods[side] = layer
            layout.append((f"{side}_neighbours", layer([user, item])))
        timestamp = None
        if c.needs_timestamp:
            timestamp = keras.Input(shape=(), dtype="int64", name="timestamp")
            inputs.append(timestamp)
        # (E) retrieval: what the user will watch, scored against the whole catalog.
        self.retrieval_user_embedding = self.retrieval_history = self.catalog_scores = None
        self.retrieval_logits = self.recent_logits = self.retrieval_query = None
        self.recent_ratings = self.history_attention = self.in_batch = self.co_watch = None
        if c.retrieval:
            self.catalog_scores = CatalogScores(n_items, c.retrieval_dim, n_item_features,
                                                name="catalog_scores")
            if c.retrieval_negatives == "in_batch":
                self.in_batch = InBatchCorrection(n_items, name="in_batch_correction")
            query = recent = None
            if c.pooled_history:
                # The pair's own movie is left out of the history it is scored with.
                self.retrieval_history = LeaveOneOutHistory(n_users, n_items, n_pairs,
                                                            c.retrieval_dim, sorted_pairs=True,
                                                            name="retrieval_history")
                query, whole = self.retrieval_history(user, item), self.retrieval_history(user)
                if c.retrieval_user_ids:
                    self.retrieval_user_embedding = embedding(n_users, c.retrieval_dim,
                                                              "retrieval_user_embedding", 0.0)
                    user_vector = self.retrieval_user_embedding(user)
                    query = layers.Add(name="retrieval_user")([user_vector, query])
                    whole = layers.Add(name="retrieval_user_whole")([user_vector, whole])
                layout.append(("retrieval", self.catalog_scores(query, item)))
                self.retrieval_query = whole  # for candidates the user has not rated
            if c.sequence_on:
                # (F) the user's recent movies, strictly before the moment scored: a
                # vector added to the retrieval query where lists are ranked, with a
                # weight chosen on validation (recent_weight). history_training says how
                # it learns beside the pooled history: "residual", by a softmax of its
                # own that cannot move the pooled-history scores (so they and the stars
                # learn as without it); "shared", that softmax may move the movie
                # vectors; "joint", in the one retrieval softmax. Without the pooled
                # history it is the user tower, trained on the first history_rows rows.
                self.recent_ratings = RecentRatings(n_pairs, c.history_length,
                                                    n_users=n_users, era_edges=era_edges,
                                                    name="recent_ratings")
                self.history_attention = HistoryAttention(
                    n_items, c.history_length, c.history_dim, c.history_heads,
                    output_dim=c.retrieval_dim, eras=self.recent_ratings.eras,
                    name="history_attention")
                rows = [user, timestamp, item]
                if query is None and c.history_rows:
                    rows = FirstRows(c.history_rows, name="history_rows")(rows)
                recent = self.history_attention(*self.recent_ratings(rows[:2]))
            if query is None:  # the sequence branch is the user tower
                self.retrieval_logits = self._softmax_logits(recent, rows[2])
            else:
                joint = recent is not None and c.history_training == "joint"
                trained = layers.Add(name="retrieval_query")([query, recent]) if joint else query
                self.retrieval_logits = self._softmax_logits(trained, item)
                if recent is not None and not joint:
                    self.recent_logits = self._softmax_logits(
                        query, item, frozen=c.history_training == "residual",
                        residual=recent)
            if c.co_watch:
                # (G) co-watch: closed-form item-item weights (EASE^R's and "after")
                # over the user's whole history, read where lists are ranked; outside
                # the trained graph.
                self.co_watch = CoWatch(n_items, c.co_watch_pool * min(
                    n_items, c.co_watch_max_items), name="co_watch")
                self.co_watch.build()
                if self.recent_ratings is None:
                    self.recent_ratings = RecentRatings(n_pairs, c.history_length,
                                                        n_users=n_users, name="recent_ratings")
                    self.recent_ratings.build(None)
        self.user_bias = self.item_bias = self.session_bias = None
        if c.biases:
            self.user_bias, self.item_bias = bias(n_users, "user_bias", c.l2), bias(
                n_items, "item_bias", c.l2)
            layout += [("user_bias", self.user_bias(user)), ("item_bias", self.item_bias(item))]
            if c.session_bias:
                self.session_bias = SessionBias(max(n_sessions, 1), c.session_hours,
                                                n_users=n_users,
                                                activity_regularizer=l2_penalty(c.l2),
                                                name="session_bias")
                layout.append(("session_bias", self.session_bias([user, timestamp])))
        # (H) the stars' drift: how far the model was off on the user's latest ratings,
        # filled in after training; the head's weight on it is chosen on validation.
        self.recent_residuals = None
        if c.recent_stars:
            self.recent_residuals = RecentResiduals(n_pairs, c.recent_stars_length,
                                                    n_users=n_users, name="recent_residuals")
            layout.append(("recent_stars", self.recent_residuals([user, timestamp])))
        if not layout:
            raise ValueError("switch on at least one branch of the hybrid")
        tensors = [t for _, t in layout]
        self.branches = layers.Concatenate(name="branches") if len(tensors) > 1 else None
        merged = self.branches(tensors) if self.branches else tensors[0]
        self.rating_head = layers.Dense(1, name="rating",
                                        bias_initializer=keras.initializers.Constant(global_mean))
        score = self.rating_head(merged)
        super().__init__(inputs, output_head(score, c.output, target_range), **kwargs)

        self.hybrid_config = c
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.n_item_features, self.n_context = int(n_item_features), int(n_context)
        self.n_pairs, self.n_sessions = int(n_pairs), int(n_sessions)
        self.neighbour_pools = {k: int(v) for k, v in pools.items()}
        self.global_mean = float(global_mean)
        self.target_range = tuple(float(v) for v in target_range)
        self.relevance_blend = float(relevance_blend)
        self.recent_weight = float(recent_weight)
        self.co_watch_weight = float(co_watch_weight)
        self.co_watch_half_life = float(co_watch_half_life)
        self.era_edges = [int(e) for e in era_edges]
        self.branch_layout = [(name, int(t.shape[-1])) for name, t in layout]
        self._merged = merged

    def _head_column(self, part: str) -> int:
        """The rating head's input column of a one-column part."""
        offset = 0
        for name, width in self.branch_layout:
            if name == part:
                if width != 1:
                    raise ValueError(f"part {part!r} has {width} columns, not 1")
                return offset
            offset += width
        raise ValueError(f"no part {part!r} in the rating head: {self.branch_layout}")

    def head_weight(self, part: str) -> float:
        """The rating head's weight on a one-column part (``item_bias``,
        ``recent_stars``)."""
        return float(self.rating_head.get_weights()[0][self._head_column(part), 0])

    def set_head_weight(self, part: str, weight: float) -> None:
        """Set the rating head's weight on a one-column part (``recent_stars``, whose
        weight is chosen on validation rather than trained)."""
        kernel, bias = self.rating_head.get_weights()
        kernel[self._head_column(part), 0] = weight
        self.rating_head.set_weights([kernel, bias])

    def shift_movie_biases(self, steps: np.ndarray) -> None:
        """Move each movie's score by ``steps[movie index]`` (score units) through its
        bias: the ``item_bias`` weights change by the steps over the head's weight on
        them, so explanations, the score table and exports need nothing new.

        Raises:
            ValueError: Without biases, or when the head's weight on them is zero.
        """
        if self.item_bias is None:
            raise ValueError("the hybrid has no movie biases (biases=False)")
        slope = self.head_weight("item_bias")
        if abs(slope) < 1e-6:
            raise ValueError("the rating head does not read the movie biases (weight 0)")
        values = np.asarray(self.item_bias.embeddings.numpy())
        values[:, 0] += np.asarray(steps, np.float32) / np.float32(slope)
        self.item_bias.embeddings.assign(values)

    def _softmax_logits(self, query, item, **kwargs):
        """The retrieval softmax's logits of the ``query`` rows (the batch's first, as
        many as ``item`` has): over the catalog, or over those rows' movies with the
        in-batch correction."""
        if self.in_batch is None:
            return self.catalog_scores(query, **kwargs)
        return self.in_batch(self.catalog_scores(query, candidates=item, **kwargs), item)

    def get_config(self):
        config = asdict(self.hybrid_config)
        config["neighbours"], config["mlp_units"] = (list(config["neighbours"]),
                                                     list(config["mlp_units"]))
        return {"name": self.name, "trainable": self.trainable, "n_users": self.n_users,
                "n_items": self.n_items, "n_item_features": self.n_item_features,
                "n_context": self.n_context, "config": config, "n_pairs": self.n_pairs,
                "n_sessions": self.n_sessions, "neighbour_pools": self.neighbour_pools,
                "global_mean": self.global_mean, "target_range": list(self.target_range),
                "relevance_blend": self.relevance_blend, "recent_weight": self.recent_weight,
                "co_watch_weight": self.co_watch_weight,
                "co_watch_half_life": self.co_watch_half_life,
                "era_edges": list(self.era_edges)}

    @property
    def sigmoid_output(self) -> bool:
        return self.hybrid_config.output == "sigmoid"

    def output_rescaling(self):
        """The map from the sigmoid's output to the target range (identity if linear)."""
        lo, hi = self.target_range if self.sigmoid_output else (0.0, 1.0)
        return lambda v: np.asarray(v) * (hi - lo) + lo

    @property
    def trainable_weights(self):
        """The trainable weights the rating output reads.

        The sequence branch feeds only :meth:`training_model`'s ``recent`` softmax, so
        the stars' loss gives it no gradient: trained as a model of its own (``model.fit``
        on the stars, the builder route), the backbone leaves it to the model that
        trains it instead of handing the optimizer variables without gradients (which
        Keras warns about, naming each one). :meth:`training_model` trains every layer.
        """
        graph = {id(v) for layer in self.layers for v in layer.weights}
        graph.update(id(v) for v in self._trainable_variables)
        return [v for v in super().trainable_weights if id(v) in graph]

    @property
    def trainable_variables(self):
        """:attr:`trainable_weights` (what the optimizer is built for)."""
        return self.trainable_weights

    def training_model(self) -> keras.Model:
        """The same layers with the outputs multi-task training needs: ``rating``,
        ``retrieval`` (logits over the catalog, or over the batch's movies with in-batch
        negatives) and, with the sequence branch, ``recent`` (the same logits plus the
        branch's residual); the backbone itself outputs the rating."""
        outputs = {"rating": self.output, "retrieval": self.retrieval_logits}
        if self.recent_logits is not None:
            outputs["recent"] = self.recent_logits
        return keras.Model(self.inputs, outputs)

    def query_model(self) -> keras.Model:
        """``user_id`` -> the pooled-history retrieval vector (the sequence branch's
        residual is added by the caller: :meth:`recent_vectors`); None when the sequence
        branch is the user tower (``pooled_history=False``)."""
        if self.retrieval_query is None:
            return None
        return keras.Model(self.inputs[0], self.retrieval_query)

    def recent_vectors(self, users: np.ndarray) -> np.ndarray:
        """The sequence branch's vector of user indices now (their last ratings)."""
        users = np.asarray(users, np.int32)
        now = np.full(len(users), -1, np.int64)
        return np.asarray(self.history_attention(*self.recent_ratings([users, now]),
                                                 training=False), np.float32)

    def co_watch_scores(self, users: np.ndarray, half_life: Optional[float] = None
                        ) -> np.ndarray:
        """The co-watch part's scores of user indices now (whole history) for every
        movie, before its weight: ``(len(users), n_items)``."""
        import tensorflow as tf

        users = tf.constant(np.asarray(users, np.int64))
        rows, items, ages = self.recent_ratings.whole(users, tf.fill(tf.shape(users), -1))
        half_life = self.co_watch_half_life if half_life is None else half_life
        return np.asarray(self.co_watch(rows, items, ages, n_rows=tf.size(users),
                                        half_life=float(half_life)))

    def parts_model(self) -> keras.Model:
        """A model with the same inputs returning ``[branches, output]``, for explanations."""
        return keras.Model(self.inputs, [self._merged, self.output])

    @classmethod
    def from_training(cls, pipeline, train_inputs: Mapping[str, np.ndarray],
                      config: Optional[HybridConfig] = None, global_mean: Optional[float] = None,
                      target_range: Tuple[float, float] = (0.0, 1.0),
                      name: str = "hybrid", verbose: int = 0) -> "HybridBackbone":
        """Build the hybrid for ``pipeline``'s vocabularies and store what it needs from
        the training ratings (history, neighbours, sessions, the item feature table).

        Args:
            pipeline: The fitted :class:`~kerasrec.FeaturePipeline`.
            train_inputs: ``pipeline.transform`` of the training ratings.
            config: Branch switches and sizes.
            global_mean: Initial output bias; defaults to the mean training target.
            target_range: Range of the targets, for the sigmoid output.
            name: Model name.
            verbose: Keras verbosity of the neighbour search's progress bar (1 in a
                terminal: a bar per side; 0 silent).
        """
        c = config or HybridConfig()
        users, items = train_inputs["user_id"], train_inputs["item_id"]
        n_users, n_items = pipeline.n_users, pipeline.n_items
        if global_mean is None:
            global_mean = float(np.mean(train_inputs["rating"]))
        times = input_times(train_inputs)
        sessions = (training_sessions(users, times, c.session_hours) if c.session_bias_on
                    else np.zeros(0))
        import time

        started = time.perf_counter()
        neighbours = {side: neighbourhood_data(users, items, train_inputs["rating"], n_users,
                                               n_items, side, c.neighbour_pool,
                                               progress=_progress(f"{side} neighbours", verbose))
                      for side in c.neighbours}
        searched = time.perf_counter() - started
        eras = (find_era_edges(train_inputs.get("timestamp", np.zeros(0)), c.history_eras)
                if c.sequence_on else ())
        model = cls(n_users, n_items, len(pipeline.feature_names), len(pipeline.context_names),
                    config=c, n_pairs=len(users), n_sessions=len(sessions), era_edges=eras,
                    neighbour_pools={s: d["neighbours"].shape[1] for s, d in neighbours.items()},
                    global_mean=global_mean, target_range=target_range, name=name)
        if model.item_feature_table is not None:
            model.item_feature_table.set_weights([pipeline.item_feature_table()])
        if model.history_factors is not None:
            model.history_factors.set_history(users, items)
        if model.retrieval_history is not None:
            model.retrieval_history.set_history(users, items)
        if model.catalog_scores is not None:
            model.catalog_scores.feature_table.assign(pipeline.item_feature_table())
        if model.in_batch is not None:
            model.in_batch.set_frequency(items)
        if model.recent_ratings is not None:
            model.recent_ratings.set_history(
                users, items, times,
                np.asarray(train_inputs["rating"], np.float32) - global_mean)
        for side, data in neighbours.items():
            model.neighbourhoods[side].set_neighbourhood(**data)
        if model.session_bias is not None and len(sessions):
            model.session_bias.set_sessions(sessions)
        model.build_timings = {"neighbours": searched}  # seconds; not saved
        return model


def _progress(what: str, verbose: int):
    """``progress(done, total)`` drawing a Keras ``Progbar`` (None when silent)."""
    if not verbose:
        return None
    import keras

    bar = {}

    def progress(done: int, total: int) -> None:
        if "bar" not in bar:
            print(f"{what}: searching {total:,} rows", flush=True)
            bar["bar"] = keras.utils.Progbar(total, verbose=verbose, unit_name="row")
        bar["bar"].update(done)

    return progress


def neighbourhood_data(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_users: int,
                       n_items: int, side: str = "item", pool: int = 100,
                       support_shrinkage: float = 100.0, progress=None) -> dict:
    """What a :class:`Neighbourhood` layer needs, from the training ratings.

    Residuals are ratings minus the shrunk baseline ``mu + b_u + b_i``. Similarity is
    the cosine of *who rated what* (binary), shrunk by common support
    ``n_ij / (n_ij + support_shrinkage)``. It deliberately ignores the rating values:
    neighbours chosen by residual cosine are chosen partly by the very rating being
    predicted (for a movie with one rating, its "most similar" movies are those its
    rater liked alike), and such a feature is far stronger on training pairs than
    on new ones (on MovieLens latest-small, correlation 0.77 vs 0.16; by co-rating
    0.26 vs 0.22; ``benchmarks/neighbour_leak.py``).

    Args:
        users, items: Embedding indices of the training ratings.
        ratings: Their (scaled) ratings, in the model's target units.
        n_users, n_items: Index ranges.
        side: ``"item"`` or ``"user"`` neighbours.
        pool: Neighbours kept per movie (user).
        support_shrinkage: Common-user count at which similarity is halved.
        progress: ``progress(done, total)`` during the neighbour search.

    Returns:
        Keyword arguments of :meth:`Neighbourhood.set_neighbourhood`.
    """
    import scipy.sparse as sp

    from kerasrec.models.baselines import nearest_rows, shrunk_biases

    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    mean, user_bias, item_bias = shrunk_biases(users, items, ratings, n_users, n_items)
    residuals = np.asarray(ratings, np.float64) - mean - user_bias[users] - item_bias[items]
    anchors, others, n_anchors, n_others = ((items, users, n_items, n_users) if side == "item"
                                            else (users, items, n_users, n_items))
    rated = sp.csr_matrix((np.ones(len(users), np.float32), (anchors, others)),
                          shape=(n_anchors, n_others))
    rated.data[:] = 1.0  # duplicates would have summed
    neighbours, similarity = nearest_rows(rated, min(2 * pool, n_anchors - 1),
                                          progress=progress)
    # Who rated both, from the cosine of binary rows: n_ab / sqrt(n_a n_b).
    counts = np.diff(rated.indptr).astype(np.float64)
    support = np.rint(similarity * np.sqrt(counts[:, None] * counts[neighbours]))
    similarity = similarity * support / (support + support_shrinkage)
    best = np.argsort(-similarity, axis=1, kind="stable")[:, :pool]
    return {"neighbours": np.take_along_axis(neighbours, best, axis=1),
            "similarity": np.take_along_axis(similarity, best, axis=1), "users": users,
            "items": items, "residuals": residuals}
