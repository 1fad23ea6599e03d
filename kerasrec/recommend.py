"""``Recommender``: fit, predict, recommend, explain and evaluate in a few lines.

A scikit-learn style front end over the feature pipeline, the model builders and the
training helper, for analysts: it takes MovieLens frames and returns DataFrames with
titles. Importing this module does not import TensorFlow.

Cold start, as implemented and documented:

* a user unseen in training is scored from the item features, context and item
  bias (the parts that describe the movie and the moment, not the user);
* a movie unseen in training but in the catalog is scored from its genres: the
  item-feature branch, the genre part of its MF factors, context and user bias;
* both unseen (or a movie outside the catalog with an unseen user): the global mean.

None of these raise. For models without named branches (``mf``, ``neumf``,
``embedding_mlp``, ``autorec``) pairs with an unseen user or movie get the shrunk
baseline ``mu + b_u + b_i`` instead.

Speed: for the Keras models and AutoRec, ``predict`` and ``recommend`` read a
:class:`~kerasrec.scoring.ScoreTable` of every known user x catalog movie, computed
with the model on first use (a few seconds on MovieLens latest-small) and exact:
context and session parts are added from the model's own weights.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kerasrec._io import atomic_path
from kerasrec.data.movie_data import MovieData
from kerasrec.errors import (ArgumentError, ArtifactError, CapabilityError, KerasRecError,
                             NotFittedError, UnknownMovieError)
from kerasrec.features.pipeline import FeaturePipeline
from kerasrec.features.titles import parse_titles
from kerasrec import scoring

FORMAT = "kerasrec.Recommender"
FORMAT_VERSION = 1
AUTOREC = "autorec"


def _keras_models():
    from kerasrec.models.registry import KERAS_MODELS

    return KERAS_MODELS


class Recommender:
    """A movie recommender with the scikit-learn shape.

    Args:
        model: ``"hybrid"`` (default), ``"mf"``, ``"neumf"``, ``"embedding_mlp"``,
            ``"autorec"`` (item-based AutoRec, trained on ratings in stars), or a
            baseline: ``"baseline"``, ``"global_mean"``, ``"content"``, ``"user_knn"``,
            ``"item_knn"``, ``"svd"``.
        seed: Seeds weight initialisation, the validation cut and shuffling.
        timezone: Time zone of the ``daytime``/``weekend`` context features.
        rating_scaling: How ratings are scaled for training (see ``FeaturePipeline``).
        train: A :class:`~kerasrec.training.TrainConfig`; by default a silent one with
            the library defaults and ``seed``.
        **config: Builder options, e.g. ``mlp=False`` or ``mf_dim=64`` for the hybrid,
            ``k=20`` for ``item_knn``.

    Attributes (after ``fit``):
        pipeline_: The fitted :class:`~kerasrec.FeaturePipeline`.
        model_: The trained Keras model or baseline object.
        history_: Training history (``{"loss": [...], "val_loss": [...], ...}``).
        catalog_: movieId, title, name, year, genres, n_ratings, mean_rating.
        global_mean_: Mean training rating in stars.
    """

    def __init__(self, model: str = "hybrid", *, seed: int = 0, timezone: str = "UTC",
                 rating_scaling: str = "minmax", train=None, **config: Any) -> None:
        self.model = model
        self.seed = seed
        self.timezone = timezone
        self.rating_scaling = rating_scaling
        self.train = train
        self.config = config

    def __repr__(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.config.items())
        fitted = "" if hasattr(self, "model_") else ", unfitted"
        return f"Recommender(model={self.model!r}{options}{fitted})"

    # --- fitting -------------------------------------------------------------------------

    def fit(self, data: Union[MovieData, pd.DataFrame],
            products: Optional[pd.DataFrame] = None) -> "Recommender":
        """Learn from ratings.

        Args:
            data: A :class:`~kerasrec.MovieData` (e.g. from :func:`~kerasrec.load_movies`),
                or a ratings frame (userId, movieId, rating, timestamp).
            products: The products frame (movieId, title, genres), when ``data`` is a
                ratings frame.

        Returns:
            self.

        Raises:
            DataError: If the frames are invalid.
            ValueError: For an unknown model name or option.
        """
        from kerasrec.models.baselines import BaselineRecommender
        from kerasrec.models.registry import BASELINE_MODELS

        if not isinstance(data, MovieData):
            if products is None:
                raise ArgumentError("pass a MovieData, or a ratings frame and products=")
            data = MovieData.from_frames(products, data, source="<frames>")
        names = (*_keras_models(), AUTOREC, *BASELINE_MODELS)
        if self.model not in names:
            raise ArgumentError(f"unknown model {self.model!r}; choose from {names}")
        ratings = data.ratings
        self.pipeline_ = FeaturePipeline(timezone=self.timezone,
                                         rating_scaling=self.rating_scaling).fit(data)
        self.catalog_ = _catalog(data.products, ratings)
        self.global_mean_ = float(ratings["rating"].mean())
        self.baseline_ = BaselineRecommender().fit(ratings)
        self.seen_ = ratings.groupby("userId")["movieId"].agg(np.unique)
        self.history_: Dict[str, list] = {}
        if self.model in BASELINE_MODELS:
            from kerasrec.models import build_baseline

            self.model_ = build_baseline(self.model, **self.config).fit(ratings, data.products)
        elif self.model == AUTOREC:
            self._fit_autorec(ratings)
        else:
            self._fit_keras(ratings)
        self._reset_caches()
        return self

    def _reset_caches(self) -> None:
        self._parts = None
        self._table: Optional[scoring.ScoreTable] = None
        self._reconstruction: Optional[np.ndarray] = None

    def _fit_keras(self, ratings: pd.DataFrame) -> None:
        from kerasrec import training
        from kerasrec.models import build_model

        from kerasrec.distribute import scope

        # With ids_only the model holds the feature table: no per-rating copy of it.
        per_row = not (self.model == "hybrid" and self.config.get("ids_only"))
        x = self.pipeline_.transform(ratings, item_features=per_row)
        config = self.train or training.TrainConfig(seed=self.seed, verbose=0)
        with scope(config.strategy):
            model = build_model(self.model, self.pipeline_, x, seed=self.seed, **self.config)
            history = training.fit(model, x, x["rating"], config=config)
        _zero_unseen_rows(model)
        self.model_ = model
        self.history_ = {k: [float(v) for v in vs] for k, vs in history.history.items()}

    def _fit_autorec(self, ratings: pd.DataFrame) -> None:
        from kerasrec import training
        from kerasrec.models import build_autorec, rating_matrix

        # AutoRec marks unobserved entries with 0, so it learns ratings in stars.
        x = self.pipeline_.transform(ratings, item_features=False)
        self._autorec_pairs = {"user_id": x["user_id"], "item_id": x["item_id"],
                               "rating": ratings["rating"].to_numpy(np.float32)}
        config = self.train or training.TrainConfig(epochs=100, batch_size=128, seed=self.seed,
                                                    verbose=0, monitor="masked_squared_error")
        shape = (self.pipeline_.n_users, self.pipeline_.n_items)
        pairs = self._autorec_pairs
        # Validation hides a random share of the observed entries; the masked loss
        # scores a matrix holding only those on exactly them.
        fit_idx, val_idx = training.validation_cut(len(pairs["rating"]),
                                                   config.validation_fraction or 0.1, config.seed)
        fit_matrix, val_matrix = (
            rating_matrix(pairs["user_id"][idx], pairs["item_id"][idx], pairs["rating"][idx],
                          *shape) for idx in (fit_idx, val_idx))
        model = build_autorec(shape[0], seed=self.seed, **self.config)
        inputs = {"item_ratings": fit_matrix}
        history = training.fit(model, inputs, fit_matrix, validation=(inputs, val_matrix),
                               config=config)
        self.model_ = model
        self.history_ = {k: [float(v) for v in vs] for k, vs in history.history.items()}

    def _autorec_scores(self) -> np.ndarray:
        """AutoRec's reconstruction of the training matrix: (items, users) in stars."""
        if self._reconstruction is None:
            from kerasrec.models import rating_matrix

            pairs = self._autorec_pairs
            matrix = rating_matrix(pairs["user_id"], pairs["item_id"], pairs["rating"],
                                   self.pipeline_.n_users, self.pipeline_.n_items)
            self._reconstruction = np.asarray(
                self.model_.predict({"item_ratings": matrix}, batch_size=4096, verbose=0),
                np.float32)
        return self._reconstruction

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this Recommender is not fitted; call fit(data) or "
                                 "Recommender.load(path) first")

    # --- prediction ----------------------------------------------------------------------

    def _explainer(self):
        if self._parts is None:
            from kerasrec.explain import BranchParts

            self._parts = BranchParts(self.model_)
        return self._parts

    @property
    def explainable(self) -> bool:
        """Whether ``explain`` works for this model (the hybrid)."""
        self._check_fitted()
        return self.model == "hybrid"

    def _breakdown(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """Per-pair parts in stars; their row sums are the predictions."""
        from kerasrec.explain import ITEM_PARTS, USER_PARTS

        explainer = self._explainer()
        x = self.pipeline_.transform(pairs)
        parts, bias, _ = explainer.scores(x)
        movies = pairs["movieId"].to_numpy()
        zero = self.pipeline_.to_stars(np.zeros(len(pairs)), movies).astype(np.float64)
        slope = self.pipeline_.to_stars(np.ones(len(pairs)), movies) - zero
        user_unknown, item_unknown = x["user_id"] == 0, x["item_id"] == 0
        in_catalog = self.catalog_.index.get_indexer(movies) >= 0
        both = user_unknown & (item_unknown | ~in_catalog)
        for name in parts:
            drop = ((name in USER_PARTS) & user_unknown) | ((name in ITEM_PARTS) & item_unknown)
            parts[name] = np.where(drop | both, 0.0, parts[name])
        score = bias + sum(parts.values())
        out = pd.DataFrame(index=pairs.index)
        if explainer.sigmoid:
            rescale = _output_rescaling(self.model_)
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
            raw = out.sum(axis=1).to_numpy()
        out.loc[both, :] = 0.0
        out.loc[both, "intercept"] = self.global_mean_
        raw = np.where(both, self.global_mean_, raw)
        lo, hi = self.pipeline_.config.rating_range
        out["clip"] = np.clip(raw, lo, hi) - raw
        return out

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Predicted ratings in stars, within the rating range.

        Args:
            pairs: userId and movieId, optionally timestamp (or daytime/weekend).

        Returns:
            A float array aligned with ``pairs``. Unknown users and movies follow the
            cold-start rules in the module docstring; nothing raises for them.
        """
        self._check_fitted()
        pairs = _as_pairs(pairs)
        if not len(pairs):
            return np.zeros(0)
        if self._uses_table():
            table = self.score_table()
            rows = table.rows(pairs["userId"].to_numpy())
            return table.score(rows, table.columns(pairs["movieId"].to_numpy()),
                               self.pipeline_.context(pairs), _timestamps(pairs))
        return self._predict_direct(pairs)

    def _predict_direct(self, pairs: pd.DataFrame) -> np.ndarray:
        """``predict`` with the model itself, pair by pair (no score table)."""
        if self.explainable:
            return self._breakdown(pairs).sum(axis=1).to_numpy()
        lo, hi = self.pipeline_.config.rating_range
        if self.model == AUTOREC:
            users = self.pipeline_.user_index(pairs["userId"].to_numpy())
            items = self.pipeline_.item_index(pairs["movieId"].to_numpy())
            stars = self._autorec_scores()[items, users].astype(np.float64)
            cold = (users == 0) | (items == 0)
            if cold.any():
                stars = np.where(cold, self.baseline_.predict(pairs), stars)
        elif self.model in _keras_models():
            from kerasrec import training

            x = self.pipeline_.transform(pairs)
            stars = self.pipeline_.to_stars(training.predict(self.model_, x),
                                            pairs["movieId"].to_numpy())
            cold = (x["user_id"] == 0) | (x["item_id"] == 0)
            if cold.any():
                stars = np.where(cold, self.baseline_.predict(pairs), stars)
        else:
            stars = self.model_.predict(pairs)
        return np.clip(np.asarray(stars, np.float64), lo, hi)

    def _uses_table(self) -> bool:
        """Whether predict/recommend read the score table (building it on first use).

        Always when the model has one, so that a prediction never depends on which
        path computed it.
        """
        if self._table is not None:
            return True
        if self.model not in (*_keras_models(), AUTOREC):
            return False
        return self._table_problem() is None

    def _table_problem(self) -> Optional[str]:
        cells = scoring.table_cells(len(self.pipeline_.user_vocabulary_), len(self.catalog_))
        if cells > scoring.SCORE_TABLE_LIMIT:
            return (f"{len(self.pipeline_.user_vocabulary_)} users x {len(self.catalog_)} "
                    f"movies exceed the score table limit of {scoring.SCORE_TABLE_LIMIT} cells")
        if self.explainable and self._explainer().sigmoid:
            return "a hybrid with a sigmoid output is not additive in context"
        return None

    def score_table(self) -> scoring.ScoreTable:
        """Every known user's prediction for every catalog movie (built once, cached).

        Returns:
            A :class:`~kerasrec.scoring.ScoreTable`, which ``predict``, ``recommend``
            and the SavedModel export read.

        Raises:
            CapabilityError: If the table would exceed ``SCORE_TABLE_LIMIT`` cells, or
                the model is a hybrid with a sigmoid output.
        """
        self._check_fitted()
        if self._table is None:
            problem = self._table_problem()
            if problem:
                raise CapabilityError(f"no score table: {problem}")
            self._table = self._build_table()
        return self._table

    def _build_table(self) -> scoring.ScoreTable:
        users = np.asarray(self.pipeline_.user_vocabulary_, np.int64)
        movies = np.sort(self.catalog_.index.to_numpy().astype(np.int64))
        outside = int(max(movies.max(initial=0), self.pipeline_.item_vocabulary_.max(initial=0)) + 1)
        columns = np.append(movies, outside)  # the last column: a movie outside the catalog
        row_users = np.append(int(users.max(initial=0) + 1), users)  # row 0: a user unseen
        stars = np.empty((len(row_users), len(columns)), np.float32)
        chunk = max(1, 2 ** 19 // len(columns))
        for lo in range(0, len(row_users), chunk):
            block = row_users[lo:lo + chunk]
            pairs = pd.DataFrame({"userId": np.repeat(block, len(columns)),
                                  "movieId": np.tile(columns, len(block))})
            if self.explainable:  # unclipped, so context shifts add before clipping
                values = self._breakdown(pairs).drop(columns="clip").sum(axis=1).to_numpy()
            else:
                values = self._predict_direct(pairs)
            stars[lo:lo + len(block)] = values.reshape(len(block), len(columns))
        zero = self.pipeline_.to_stars(np.zeros(len(columns)), columns)
        slope = self.pipeline_.to_stars(np.ones(len(columns)), columns) - zero
        n_ratings = self.catalog_["n_ratings"].reindex(movies).to_numpy(np.int64)
        seen = self.seen_.explode()
        seen_rows = self.pipeline_.user_index(seen.index.to_numpy())
        seen_columns = np.searchsorted(movies, seen.to_numpy().astype(np.int64))
        table = scoring.ScoreTable(
            user_ids=users, movie_ids=movies, stars=stars, slope=slope.astype(np.float32),
            item_known=self.pipeline_.item_index(columns) > 0, n_ratings=n_ratings,
            seen=sp.csr_matrix((np.ones(len(seen), bool), (seen_rows, seen_columns)),
                               shape=(len(row_users), len(movies))),
            popular_min=scoring.popular_min(n_ratings),
            rating_range=tuple(float(v) for v in self.pipeline_.config.rating_range))
        if self.explainable:
            self._add_additive_parts(table)
        try:
            vectors = self.item_vectors()[self.catalog_.index.get_indexer(movies)]
        except CapabilityError:
            vectors = None
        if vectors is not None:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            table.item_vectors = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        return table

    def _add_additive_parts(self, table: scoring.ScoreTable) -> None:
        """Copy the hybrid's context branch and session bias into ``table``."""
        explainer = self._explainer()
        for name, lo, hi in explainer.columns:
            head = explainer.kernel[lo:hi]
            if name == "context":
                kernel, bias = self.model_.get_layer("context_dense").get_weights()
                table.context_kernel, table.context_bias = (kernel.astype(np.float64),
                                                            bias.astype(np.float64))
                table.context_head = head
            elif name == "session_bias":
                layer = self.model_.get_layer("session_bias")
                keys = np.asarray(layer.session_keys.numpy(), np.int64)
                values = np.asarray(layer.session_bias.numpy(), np.float64)[:, 0]
                table.session_keys, table.session_values = keys, values * head[0]
                table.session_hours = layer.session_hours

    def explain(self, user_id, movie_id, context=None) -> pd.Series:
        """Each part's contribution to one predicted rating, in stars.

        The parts are ``intercept`` (the output bias, near the global mean), ``mf``,
        ``mlp``, ``item_features``, ``context``, ``item_neighbours``,
        ``user_neighbours``, ``user_bias``, ``item_bias``, ``session_bias`` (those the
        model has), ``output_activation`` for a sigmoid output, and ``clip`` (the
        effect of clipping to the rating range, usually 0). They add up to
        ``predict`` for the same pair, exactly.

        Args:
            user_id: A userId (unknown ones follow the cold-start rules).
            movie_id: A movieId.
            context: ``None`` (a weekday night, no session), a dict with ``daytime`` and
                ``weekend``, or a timestamp (Unix seconds or ``pd.Timestamp``).

        Returns:
            A Series named ``"stars"``; ``.attrs`` holds ``prediction``, ``title``,
            ``known_user`` and ``known_movie``.

        Raises:
            CapabilityError: For models other than the hybrid.
        """
        self._check_fitted()
        if not self.explainable:
            raise CapabilityError(f"explain needs the hybrid's named branches; model "
                                  f"{self.model!r} has none. Use Recommender('hybrid').")
        pairs = _with_context(pd.DataFrame({"userId": [user_id], "movieId": [movie_id]}),
                              context)
        parts = self._breakdown(pairs).iloc[0].rename("stars")
        parts.attrs.update(prediction=float(parts.sum()), title=self._title(movie_id),
                           known_user=bool(self.pipeline_.user_index([user_id])[0]),
                           known_movie=bool(self.pipeline_.item_index([movie_id])[0]))
        return parts

    # --- recommendation ------------------------------------------------------------------

    def recommend(self, user_id, k: int = 10, context=None, exclude_seen: bool = True,
                  min_ratings: Optional[int] = None) -> pd.DataFrame:
        """The ``k`` movies with the highest predicted rating for a user.

        Args:
            user_id: A userId. For a user unseen in training the candidates are the
                movies with at least ``min_ratings`` ratings (default: the median
                count of rated movies, at least 10), so the list holds well-rated
                popular movies.
            k: List length.
            context: As in :meth:`explain`.
            exclude_seen: Leave out movies the user rated in training.
            min_ratings: Candidates need at least this many training ratings (default
                1 for known users: movies never rated are scored from genres only).

        Returns:
            A frame with rank, movieId, title, year, genres, predicted_rating; fewer
            than ``k`` rows when fewer movies are candidates (``k`` larger than the
            catalog lists every candidate).

        Raises:
            ArgumentError: If ``k`` is not a positive whole number.
        """
        self._check_fitted()
        _check_k(k)
        if self._uses_table():
            table = self.score_table()
            row = int(table.rows([user_id])[0])
            frame = _with_context(pd.DataFrame({"userId": [user_id], "movieId": [0]}), context)
            scores = table.user_scores(row, self.pipeline_.context(frame)[0],
                                       int(_timestamps(frame)[0]), clip=False)
            candidates = table.candidates(row, exclude_seen, min_ratings)
            top = candidates[scoring.top_k(scores[candidates], table.movie_ids[candidates], k)]
            out = self._describe(table.movie_ids[top])
            out.insert(0, "rank", np.arange(1, len(top) + 1))
            out["predicted_rating"] = np.clip(scores[top], *table.rating_range)
            return out
        catalog = self.catalog_
        known = bool(self.pipeline_.user_index([user_id])[0])
        if min_ratings is None:
            rated = catalog["n_ratings"][catalog["n_ratings"] > 0]
            min_ratings = 1 if known else max(10, int(rated.median()) if len(rated) else 10)
        candidates = catalog.index[catalog["n_ratings"].to_numpy() >= min_ratings]
        if exclude_seen and user_id in self.seen_.index:
            candidates = candidates.difference(pd.Index(self.seen_.loc[user_id]), sort=False)
        pairs = _with_context(pd.DataFrame({"userId": user_id, "movieId": candidates}), context)
        scores = self.predict(pairs)
        top = scoring.top_k(scores, candidates.to_numpy(), k)
        out = self._describe(candidates[top])
        out.insert(0, "rank", np.arange(1, len(top) + 1))
        out["predicted_rating"] = scores[top]
        return out

    def item_vectors(self) -> np.ndarray:
        """Learned item vectors of the catalog (rows in ``catalog_`` order).

        For the hybrid: the MF item factors, genre projection included, so movies
        never rated still get a vector from their genres.

        Raises:
            CapabilityError: For models without item embeddings.
        """
        self._check_fitted()
        if self.model == "svd":
            rows = self.model_.items_.get_indexer(self.catalog_.index)
            vectors = np.where(rows[:, None] >= 0, self.model_.item_factors_[np.maximum(rows, 0)], 0)
            return vectors
        if self.model not in _keras_models():
            raise CapabilityError(f"model {self.model!r} learns no item vectors; use the "
                                  "hybrid, mf, neumf, embedding_mlp or svd")
        names = [layer.name for layer in self.model_.layers]
        name = next(n for n in ("item_embedding_mf", "item_embedding", "item_embedding_gmf",
                                "item_embedding_mlp") if n in names)
        table = self.model_.get_layer(name).get_weights()[0]
        index = self.pipeline_.item_index(self.catalog_.index.to_numpy())
        vectors = table[index]
        if "item_feature_factors" in names:
            projection = self.model_.get_layer("item_feature_factors").get_weights()[0]
            vectors = vectors + self.pipeline_.item_features(self.catalog_.index.to_numpy()) @ projection
        return vectors

    def similar_items(self, movie_id, k: int = 10) -> pd.DataFrame:
        """Movies whose learned vectors are closest (cosine) to ``movie_id``'s.

        Returns:
            A frame with rank, movieId, title, year, genres, similarity.

        Raises:
            UnknownMovieError: If the movie is not in the catalog.
            CapabilityError: For models without item vectors.
            ArgumentError: If ``k`` is not a positive whole number.
        """
        from sklearn.preprocessing import normalize

        self._check_fitted()
        _check_k(k)
        row = self.catalog_.index.get_indexer([movie_id])[0]
        if row < 0:
            raise UnknownMovieError(f"movieId {movie_id!r} is not in the catalog of "
                                    f"{len(self.catalog_)} movies")
        vectors = normalize(self.item_vectors())
        similarity = vectors @ vectors[row]
        similarity[row] = -np.inf
        top = np.lexsort((self.catalog_.index.to_numpy(), -similarity))[:k]
        out = self._describe(self.catalog_.index[top])
        out.insert(0, "rank", np.arange(1, len(top) + 1))
        out["similarity"] = similarity[top]
        return out

    # --- evaluation ----------------------------------------------------------------------

    def evaluate(self, test: pd.DataFrame, k: int = 10, relevant: float = 4.0) -> Dict[str, Any]:
        """Metrics on held-out ratings (see :func:`kerasrec.metrics.score`).

        Args:
            test: userId, movieId, rating (and timestamp for context).
            k: Cut-off of the ranking metrics.
            relevant: True rating from which a movie counts as relevant.
        """
        from kerasrec import metrics

        frame = test[["userId", "movieId", "rating"]].assign(prediction=self.predict(test))
        return metrics.score(frame, k=k, relevant=relevant,
                             rating_range=self.pipeline_.config.rating_range)

    # --- persistence ---------------------------------------------------------------------

    def save(self, path: Union[str, Path]) -> Path:
        """Write the fitted recommender to one folder, atomically.

        The folder holds ``model.keras`` (or ``model.pkl`` for a baseline),
        ``pipeline.json``, ``catalog.parquet``, ``seen.parquet``, ``baseline.pkl``,
        ``recommender.json`` (format, version, settings, history), ``scores.npz``
        (the score table, once built) and, for AutoRec, ``autorec_ratings.npz`` (the
        training matrix it reconstructs).

        Raises:
            ArtifactError: If the folder cannot be written.
        """
        import kerasrec

        self._check_fitted()
        path = Path(path)
        with atomic_path(path, directory=True) as tmp:
            tmp.mkdir(parents=True, exist_ok=True)
            if self.model in (*_keras_models(), AUTOREC):
                self.model_.save(tmp / "model.keras")
                if self.model == AUTOREC:
                    np.savez(tmp / "autorec_ratings.npz", **self._autorec_pairs)
            else:
                (tmp / "model.pkl").write_bytes(pickle.dumps(self.model_))
            (tmp / "baseline.pkl").write_bytes(pickle.dumps(self.baseline_))
            if self._table is not None:
                self._table.save(tmp / "scores.npz")
            self.pipeline_.save(tmp / "pipeline.json")
            self.catalog_.reset_index().to_parquet(tmp / "catalog.parquet")
            seen = self.seen_.explode().rename("movieId").reset_index()
            seen.to_parquet(tmp / "seen.parquet")
            train = asdict(self.train) if self.train is not None else None
            meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "kerasrec_version": kerasrec.__version__, "model": self.model,
                    "seed": self.seed, "timezone": self.timezone,
                    "rating_scaling": self.rating_scaling, "train": train,
                    "config": self.config, "global_mean": self.global_mean_,
                    "history": self.history_}
            (tmp / "recommender.json").write_text(json.dumps(meta, indent=1, default=list))
        return path

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Recommender":
        """Read a folder written by :meth:`save`.

        Raises:
            ArtifactError: If the folder is missing, incomplete or of another format.
        """
        path = Path(path)
        meta_path = path / "recommender.json"
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise ArtifactError(f"{path} is not a saved Recommender (no recommender.json)") from None
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{meta_path}: unreadable ({exc})") from None
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(f"{meta_path}: format {meta.get('format')!r} version "
                                f"{meta.get('format_version')!r}; expected {FORMAT!r} "
                                f"version {FORMAT_VERSION}")
        train = None
        if meta["train"] is not None:
            from kerasrec.training import TrainConfig

            train = TrainConfig(**meta["train"])
        rec = cls(meta["model"], seed=meta["seed"], timezone=meta["timezone"],
                  rating_scaling=meta["rating_scaling"], train=train, **meta["config"])
        missing = [name for name in _saved_files(rec.model) if not (path / name).is_file()]
        if missing:
            raise ArtifactError(f"{path}: incomplete saved Recommender ({', '.join(missing)} "
                                "missing); save it again or restore the folder")
        try:
            rec.pipeline_ = FeaturePipeline.load(path / "pipeline.json")
            rec.catalog_ = pd.read_parquet(path / "catalog.parquet").set_index("movieId")
            seen = pd.read_parquet(path / "seen.parquet")
            rec.seen_ = seen.groupby("userId")["movieId"].agg(np.unique)
            rec.baseline_ = pickle.loads((path / "baseline.pkl").read_bytes())
            if rec.model in (*_keras_models(), AUTOREC):
                import keras

                # Registers the custom layers and LazyAdam for deserialization.
                import kerasrec.models  # noqa: F401
                import kerasrec.optimizers  # noqa: F401

                rec.model_ = keras.saving.load_model(path / "model.keras")
                if rec.model == AUTOREC:
                    with np.load(path / "autorec_ratings.npz") as pairs:
                        rec._autorec_pairs = {k: pairs[k] for k in pairs.files}
            else:
                rec.model_ = pickle.loads((path / "model.pkl").read_bytes())
        except KerasRecError:
            raise
        except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            # A truncated or overwritten file; Keras reports those as ValueError.
            raise ArtifactError(f"{path}: a file of the saved Recommender is damaged "
                                f"({type(exc).__name__}: {exc}); save it again") from None
        rec.global_mean_ = float(meta["global_mean"])
        rec.history_ = meta["history"]
        rec._reset_caches()
        if (path / "scores.npz").is_file():
            rec._table = scoring.ScoreTable.load(path / "scores.npz")
        return rec

    # --- helpers -------------------------------------------------------------------------

    def _title(self, movie_id) -> Optional[str]:
        row = self.catalog_.index.get_indexer([movie_id])[0]
        return None if row < 0 else str(self.catalog_["title"].iloc[row])

    def _describe(self, movie_ids) -> pd.DataFrame:
        rows = self.catalog_.loc[movie_ids, ["title", "year", "genres"]]
        return rows.reset_index()


def _saved_files(model: str) -> List[str]:
    """Files every folder written by :meth:`Recommender.save` holds for ``model``."""
    files = ["pipeline.json", "catalog.parquet", "seen.parquet", "baseline.pkl"]
    if model in (*_keras_models(), AUTOREC):
        files.append("model.keras")
        if model == AUTOREC:
            files.append("autorec_ratings.npz")
    else:
        files.append("model.pkl")
    return files


def _catalog(products: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    parsed = parse_titles(products["title"])
    stats = ratings.groupby("movieId")["rating"].agg(n_ratings="size", mean_rating="mean")
    catalog = pd.DataFrame({"movieId": products["movieId"].to_numpy(),
                            "title": products["title"].astype(str).to_numpy(),
                            "name": parsed["name"].to_numpy(),
                            "year": parsed["year"].to_numpy(),
                            "genres": products["genres"].fillna("").astype(str).to_numpy()})
    catalog = catalog.set_index("movieId")
    catalog = catalog.join(stats)
    catalog["n_ratings"] = catalog["n_ratings"].fillna(0).astype("int64")
    return catalog


def _check_k(k) -> None:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ArgumentError(f"k must be a positive whole number of movies, got {k!r}")


def _as_pairs(pairs) -> pd.DataFrame:
    if not isinstance(pairs, pd.DataFrame):
        raise TypeError(f"pairs must be a DataFrame with userId and movieId, got "
                        f"{type(pairs).__name__}")
    missing = {"userId", "movieId"} - set(pairs.columns)
    if missing:
        raise ArgumentError(f"pairs lack column(s) {sorted(missing)}")
    return pairs.reset_index(drop=True)


def _timestamps(pairs: pd.DataFrame) -> np.ndarray:
    if "timestamp" not in pairs:
        return np.full(len(pairs), -1, np.int64)
    return pd.to_numeric(pairs["timestamp"]).fillna(-1).to_numpy(np.int64)


def _with_context(pairs: pd.DataFrame, context) -> pd.DataFrame:
    if context is None:
        return pairs
    if isinstance(context, Mapping):
        unknown = set(context) - {"daytime", "weekend", "timestamp"}
        if unknown:
            raise ArgumentError(f"context keys must be daytime, weekend or timestamp; got "
                             f"{sorted(unknown)}")
        return pairs.assign(**{k: v for k, v in context.items()})
    if isinstance(context, pd.Timestamp):
        context = int(context.timestamp())
    return pairs.assign(timestamp=int(context))


def _zero_unseen_rows(model) -> None:
    """Set the out-of-vocabulary row 0 of every id embedding to zero.

    Row 0 never occurs in training, so it keeps its random initial values; zero
    makes an unseen id contribute nothing, also for anyone calling the model directly.
    """
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding) and layer.trainable and layer.name.startswith(
                ("user_", "item_")):
            table = layer.get_weights()[0]
            table[0] = 0.0
            layer.set_weights([table])


def _output_rescaling(model):
    try:
        layer = model.get_layer("rating_range")
    except ValueError:
        return lambda v: v
    scale, offset = layer.scale, layer.offset
    return lambda v: np.asarray(v) * scale + offset
