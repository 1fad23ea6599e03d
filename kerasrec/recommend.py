"""``Recommender``: fit, predict, recommend, explain and evaluate in a few lines.

A scikit-learn style facade over the feature pipeline, a registered model
(:mod:`kerasrec.models.base`), the :class:`~kerasrec.catalog.Catalog` and the score
table, for analysts: it takes MovieLens frames and returns DataFrames with titles. It
knows no model by name; whatever a model can do it says through the contract.
Importing this module does not import TensorFlow.

Cold start (:mod:`kerasrec.catalog`): nothing raises for users or movies unseen in
training. Pairs with both unseen get the global mean; with one unseen, models that
can score them do (the hybrid, from the parts describing the movie and the moment or
the user and the genres); the others fall back to ``mean + b_u + b_i``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from kerasrec import scoring
from kerasrec.catalog import Catalog, Filters
from kerasrec.data.movie_data import MovieData
from kerasrec.errors import (ArgumentError, NotFittedError, UnknownMovieError, is_number,
                             preview, true_or_false, whole_number)
from kerasrec.features.context import unix_seconds, with_context
from kerasrec.features.pipeline import FeaturePipeline
from kerasrec.models.base import DEFAULT_MODEL, model_class
from kerasrec.rerank import CANDIDATES, rerank
from kerasrec.schema import as_ids, loose_name
from kerasrec.training import TrainConfig, resolve_verbose



class Recommender:
    """A movie recommender with the scikit-learn shape.

    Args:
        model: A registered model name (``kerasrec.models.model_names()``; the
            hybrid by default).
        seed: Seeds weight initialisation, the validation cut and shuffling.
        timezone: Time zone of the ``daytime``/``weekend`` context features.
        rating_scaling: How ratings are scaled for training (see ``FeaturePipeline``).
        train: A :class:`~kerasrec.training.TrainConfig`; by default the model's own
            training defaults with ``seed`` and ``verbose``.
        verbose: Progress output of long steps (Keras' fit bar, the score table's
            ``Progbar``): 0 silent, 1 bars, 2 a line per epoch; ``"auto"`` is 1 in a
            terminal, 2 in Jupyter and 0 otherwise (scripts piped to files, tests).
            An explicit ``train`` keeps its own ``verbose`` for the fit.
        candidates: Movies per user whose stars a two-stage model predicts to rerank
            its first stage (:mod:`kerasrec.rerank`; the default hybrid): more is
            closer to ranking the whole catalog by relevance, fewer is faster. The
            SavedModel export keeps it.
        **config: Model options, e.g. ``mlp=False`` or ``mf_dim=64`` for the hybrid,
            ``k=20`` for ``item_knn``.

    Attributes (after ``fit``):
        pipeline_: The fitted :class:`~kerasrec.FeaturePipeline`.
        model_: The fitted :class:`~kerasrec.models.RecModel`.
        catalog_: The :class:`~kerasrec.catalog.Catalog` (``catalog_.movies``: movieId,
            title, name, year, genres, n_ratings, mean_rating).
        history_: Training history (``{"loss": [...], "val_loss": [...], ...}``).
        global_mean_: Mean training rating in stars.

    Example:
        >>> rec = Recommender(mf_dim=64).fit(kerasrec.load_sample())
        >>> rec.recommend(user_id=1, k=5)
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, seed: int = 0, timezone: str = "UTC",
                 rating_scaling: str = "minmax", train=None, verbose="auto",
                 candidates: int = CANDIDATES, **config: Any) -> None:
        self.model, self.seed, self.timezone = model, seed, timezone
        self.rating_scaling, self.train, self.config = rating_scaling, train, config
        self.verbose, self.candidates = verbose, whole_number(candidates, "candidates")

    def __repr__(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.config.items())
        fitted = "" if self._fitted() else ", unfitted"
        return f"Recommender(model={self.model!r}{options}{fitted})"

    # --- scikit-learn parameters ---------------------------------------------------------

    _PARAMS = ("model", "seed", "timezone", "rating_scaling", "train", "verbose", "candidates")

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """The constructor arguments, model options included (scikit-learn's protocol,
        so ``sklearn.base.clone`` and :func:`kerasrec.search.grid_search` work).

        Example:
            >>> Recommender("mf", dim=16).get_params()["dim"]
            16
        """
        return {**{name: getattr(self, name) for name in self._PARAMS}, **self.config}

    def set_params(self, **params: Any) -> "Recommender":
        """Change constructor arguments or model options; takes effect at the next ``fit``.

        Raises:
            ArgumentError: For a name that is neither an argument nor an option of the
                (possibly new) model, or an option value of the wrong kind.
        """
        options = {k: v for k, v in params.items() if k not in self._PARAMS}
        # Names and kinds are checked before anything changes.
        model_class(params.get("model", self.model))(**{**self.config, **options})
        for name in self._PARAMS:
            if name in params:
                setattr(self, name, params[name])
        self.config = {**self.config, **options}
        return self

    # --- fitting -------------------------------------------------------------------------

    def fit(self, data: Union[MovieData, pd.DataFrame],
            products: Optional[pd.DataFrame] = None, *,
            callbacks: Optional[Sequence[Any]] = None) -> "Recommender":
        """Learn from ratings.

        Args:
            data: A :class:`~kerasrec.MovieData` (e.g. from :func:`~kerasrec.load_movies`),
                or a ratings frame (userId, movieId, rating, timestamp).
            products: The products frame (movieId, title, genres), when ``data`` is a
                ratings frame.
            callbacks: Keras callbacks for the training run (e.g. ``TensorBoard``,
                ``CSVLogger``), beside the early stopping kerasrec sets up.

        Returns:
            self.

        Raises:
            DataError: If the frames are invalid.
            ArgumentError: For an unknown model name or option, or callbacks for a model
                not trained with Keras.
        """
        self._check_params()
        model = model_class(self.model)(**self.config)
        train = self.train
        if train is None and model.train_defaults is not None:
            train = model.train_config(seed=self.seed, verbose=resolve_verbose(self.verbose))
        if callbacks:
            if train is None:  # only models with no Keras training have none
                raise ArgumentError(f"model {self.model!r} is not trained with Keras; "
                                    "callbacks do not apply")
            train = replace(train, callbacks=(*train.callbacks, *callbacks))
        if not isinstance(data, MovieData):
            if products is None:
                raise ArgumentError("pass a MovieData, or a ratings frame and products=")
            data = MovieData.from_frames(products, data, source="<frames>")
        ratings = data.ratings
        self.pipeline_ = FeaturePipeline(timezone=self.timezone,
                                         rating_scaling=self.rating_scaling).fit(data)
        self.catalog_ = Catalog.fit(data.products, ratings, self.pipeline_)
        self.model_ = model.fit(self.pipeline_, ratings, data.products, train, self.seed)
        self._table: Optional[scoring.ScoreTable] = None
        return self

    def _check_params(self) -> None:
        # At fit, as scikit-learn checks: set_params and clone do not go through __init__.
        whole_number(self.seed, "seed", 0)
        whole_number(self.candidates, "candidates")
        resolve_verbose(self.verbose)
        if self.train is not None and not isinstance(self.train, TrainConfig):
            raise ArgumentError(f"train must be a kerasrec.TrainConfig or None, got "
                                f"{type(self.train).__name__}")

    @property
    def model_(self):
        """The fitted :class:`~kerasrec.models.RecModel`. After :meth:`load`, its files
        are read when first needed (recommending from the score table needs none).

        Raises:
            NotFittedError: Before ``fit`` or ``load``.
        """
        if self.__dict__.get("_model") is None:
            pending = self.__dict__.get("_model_reader")
            if pending is None:
                raise NotFittedError("this Recommender is not fitted; call fit(data) or "
                                     "Recommender.load(path) first")
            self._model, self._model_reader = pending(), None
        return self._model

    @model_.setter
    def model_(self, model) -> None:
        self._model, self._model_reader = model, None

    def _defer_model(self, model, read) -> None:
        """``model`` (its settings and history known, its weights not yet read) becomes
        :attr:`model_` once ``read()`` has read them, on first use (see ``load``)."""
        self._model, self._model_reader, self._model_shell = None, read, model

    def _fitted(self) -> bool:
        return (self.__dict__.get("_model") is not None
                or self.__dict__.get("_model_reader") is not None)

    @property
    def history_(self) -> Dict[str, list]:
        """Loss and metrics per training epoch (errors also in stars: ``*_stars``)."""
        self._check_fitted()
        return (self.__dict__.get("_model") or self._model_shell).history

    @property
    def global_mean_(self) -> float:
        """Mean training rating in stars."""
        self._check_fitted()
        return self.catalog_.global_mean

    def _check_fitted(self) -> None:
        if not self._fitted():
            raise NotFittedError("this Recommender is not fitted; call fit(data) or "
                                 "Recommender.load(path) first")

    def _block(self, pairs: pd.DataFrame) -> dict:
        return scoring.make_block(self.pipeline_, self.model_, pairs)

    # --- prediction ----------------------------------------------------------------------

    def predict(self, pairs: Union[pd.DataFrame, Mapping[str, Any]]) -> np.ndarray:
        """Predicted ratings in stars, within the rating range.

        Args:
            pairs: userId and movieId, optionally timestamp (or daytime/weekend): a
                DataFrame, or its columns as a mapping (``{"userId": [1, 1],
                "movieId": [10, 20]}``).

        Returns:
            A float array aligned with ``pairs``; unknown users and movies follow the
            cold-start rules (module docstring), nothing raises for them.
        """
        self._check_fitted()
        pairs = _as_pairs(pairs)
        if not len(pairs):
            return np.zeros(0)
        table = self._table_if_any()
        if table is None:
            return scoring.predict_block(self.model_, self.catalog_, self._block(pairs),
                                         clip=self.pipeline_.config.rating_range)
        return table.score(table.rows(pairs["userId"].to_numpy()),
                           table.columns(pairs["movieId"].to_numpy()),
                           self.pipeline_.context(pairs), self.pipeline_.timestamps(pairs))

    def score_table(self) -> scoring.ScoreTable:
        """Every known user's prediction for every catalog movie (built once, cached),
        which ``predict``, ``recommend`` and the SavedModel export read.

        Raises:
            CapabilityError: If the model cannot have one (see :mod:`kerasrec.scoring`).
        """
        self._check_fitted()
        if self._table is None:
            self._table = scoring.build_table(self.model_, self.pipeline_, self.catalog_,
                                              verbose=resolve_verbose(self.verbose))
        return self._table

    def _table_if_any(self) -> Optional[scoring.ScoreTable]:
        """The score table, whenever the model can have one: a prediction never depends
        on which path computed it."""
        if self._table is None and scoring.table_problem(
                self.model_, self.pipeline_, self.catalog_) is None:
            self.score_table()
        return self._table

    @property
    def explainable(self) -> bool:
        """Whether ``explain`` works for this model."""
        self._check_fitted()
        return self.model_.supports("explain")

    def explain(self, user_id, movie_id, context=None) -> pd.Series:
        """Each part's contribution to one predicted rating, in stars.

        The parts are the model's (for the hybrid: ``intercept``, ``mf``, ``mlp``,
        ``item_features``, ``context``, ``item_neighbours``, ``user_neighbours``,
        ``user_bias``, ``item_bias``, ``session_bias`` and ``output_activation`` for a
        sigmoid output) and ``clip``, the effect of clipping to the rating range. They
        add up to ``predict`` for the same pair, exactly.

        Args:
            user_id: A userId (unknown ones follow the cold-start rules).
            movie_id: A movieId.
            context: ``None`` (a weekday night, no session), a dict with ``daytime`` and
                ``weekend``, or a timestamp (Unix seconds or ``pd.Timestamp``).

        Returns:
            A Series named ``"stars"``; ``.attrs`` holds ``prediction``, ``title``,
            ``known_user`` and ``known_movie``.

        Raises:
            CapabilityError: For models without exact parts.
        """
        pairs = with_context(pd.DataFrame({"userId": [user_id], "movieId": [movie_id]}),
                             context)
        self._check_fitted()
        block, parts = self._parts(_as_pairs(pairs))
        parts = parts.iloc[0].rename("stars")
        parts.attrs.update(prediction=float(parts.sum()), title=self.catalog_.title(movie_id),
                           known_user=bool(block["user_id"][0]),
                           known_movie=bool(block["item_id"][0]))
        return parts

    def explain_many(self, pairs: Union[pd.DataFrame, Mapping[str, Any]]) -> pd.DataFrame:
        """:meth:`explain` for many pairs at once, as one frame (one model call).

        Args:
            pairs: userId and movieId, optionally timestamp (or daytime/weekend) per row,
                as for :meth:`predict`.

        Returns:
            One row per pair: userId, movieId, title, the parts in stars (as
            :meth:`explain`), ``clip``, ``prediction`` (their sum, equal to
            :meth:`predict`), ``known_user`` and ``known_movie``.

        Raises:
            CapabilityError: For models without exact parts.

        Example:
            >>> rec.explain_many(test.head(100)).sort_values("mf")
        """
        self._check_fitted()
        pairs = _as_pairs(pairs)
        block, parts = self._parts(pairs)
        inside = self.catalog_.position(pairs["movieId"]) >= 0
        titles = np.full(len(pairs), None, object)
        titles[inside] = self.catalog_.describe(pairs["movieId"].to_numpy()[inside])["title"]
        head = pd.DataFrame({"userId": pairs["userId"].to_numpy(),
                             "movieId": pairs["movieId"].to_numpy(), "title": titles})
        tail = pd.DataFrame({"prediction": parts.sum(axis=1).to_numpy(),
                             "known_user": block["user_id"] > 0,
                             "known_movie": block["item_id"] > 0})
        return pd.concat([head, parts, tail], axis=1)

    def explain_relevance(self, user_id, movie_id, recent: Optional[Sequence[int]] = None
                          ) -> pd.Series:
        """Why a movie ranks where it does in a user's list: the parts of its relevance.

        For the hybrid: ``popularity`` (how often the movie is chosen at all),
        ``history`` (the movies the user rated, pooled), ``recent`` (the sequence branch
        reading the user's last movies, ``recent`` ones included), ``co_watch`` (the
        co-watch weights — EASE^R's and what people rate next — over the user's movies,
        recent ones weighing more) and
        ``stars`` (the predicted stars times the blend weight chosen on validation).
        They add up to what :meth:`recommend` ranks by, exactly.

        Args:
            user_id: A userId.
            movie_id: A movieId.
            recent: As in :meth:`recommend`.

        Returns:
            A Series named ``"relevance"``; ``.attrs`` holds ``relevance`` (the sum),
            ``title`` and ``known_user``.

        Raises:
            CapabilityError: For models that do not rank by relevance.

        Example:
            >>> rec.explain_relevance(414, 2571)
        """
        self._check_fitted()
        if not self.model_.supports("explain_relevance"):
            self.model_.unsupported("explain_relevance")
        block = self._block(_as_pairs(pd.DataFrame({"userId": [user_id],
                                                    "movieId": [movie_id]})))
        parts = self.model_.explain_relevance(block).iloc[0].rename("relevance")
        if recent is not None:
            items = self._recent_items(recent, "relevance")
            shifts = self.model_.recent_module().parts(block["user_id"].astype(np.int64),
                                                      items[None, :])
            for name, shift in shifts.items():
                parts[name] += float(np.asarray(shift)[0, block["item_id"][0]])
        parts.attrs.update(relevance=float(parts.sum()), title=self.catalog_.title(movie_id),
                           known_user=bool(block["user_id"][0]))
        return parts

    def because(self, user_id, movie_id, recent: Optional[Sequence[int]] = None
                ) -> pd.DataFrame:
        """"Because you watched ...": the movies in a user's history that drive a movie's
        place in their list, most first.

        Args:
            user_id: A userId.
            movie_id: The recommended movieId.
            recent: As in :meth:`recommend`: movies rated since training, oldest first.

        Returns:
            One row per movie the user rated that moves the movie's relevance:
            movieId, title, ``attention`` (its pooling weight in the sequence branch's
            recent window, summing to 1 there; 0 outside it), ``recent_share`` and
            ``co_watch_share`` (its parts of the ``recent`` and ``co_watch`` parts of
            :meth:`explain_relevance`, which they sum to) and ``share`` (their sum),
            sorted by ``share``, highest first.

        Raises:
            CapabilityError: For models whose lists do not read the user's movies one
                by one (no sequence branch or co-watch part with a weight).

        Example:
            >>> rec.because(414, 2571).head(3)
        """
        self._check_fitted()
        items = self._recent_items([] if recent is None else recent, "relevance")
        row = self.pipeline_.user_index([_one_id(user_id, "user_id")]).astype(np.int64)
        item = self.pipeline_.item_index([_one_id(movie_id, "movie_id")]).astype(np.int64)
        module = self.model_.recent_module()
        window, weights, shares = (np.asarray(a)[0] for a in module.explain(
            row, items[None, :], item))
        _, rated, co_shares = (np.asarray(a) for a in module.explain_co_watch(
            row, items[None, :], item))
        real = window > 0
        frame = pd.concat([
            pd.DataFrame({"item": window[real], "attention": weights[real],
                          "recent_share": shares[real], "co_watch_share": 0.0}),
            pd.DataFrame({"item": rated, "attention": 0.0, "recent_share": 0.0,
                          "co_watch_share": co_shares})])
        frame = frame.groupby("item", sort=False).sum()
        frame = frame[(frame["attention"] > 0) | (frame["recent_share"] != 0)
                      | (frame["co_watch_share"] != 0)]
        movies = np.append(-1, self.pipeline_.item_vocabulary_)[frame.index.to_numpy()]
        out = self.catalog_.describe(movies)[["movieId", "title"]].reset_index(drop=True)
        for column in ("attention", "recent_share", "co_watch_share"):
            out[column] = frame[column].to_numpy()
        out["share"] = out["recent_share"] + out["co_watch_share"]
        return out.sort_values("share", ascending=False, kind="stable").reset_index(drop=True)

    def _parts(self, pairs: pd.DataFrame):
        """The model's parts in stars (cold-start rules and ``clip`` included), by row."""
        block = self._block(pairs)
        parts = self.catalog_.cold_start_parts(block, self.model_.explain(block))
        raw = parts.sum(axis=1).to_numpy()
        parts["clip"] = np.clip(raw, *self.pipeline_.config.rating_range) - raw
        return block, parts.reset_index(drop=True)

    # --- recommendation ------------------------------------------------------------------

    def recommend(self, user_id, k: int = 10, context=None, exclude_seen: bool = True,
                  min_ratings: Optional[int] = None, rank_by: Optional[str] = None, *,
                  genres: Optional[Sequence[str]] = None, years=None,
                  movies: Optional[Sequence[int]] = None,
                  exclude: Optional[Sequence[int]] = None,
                  recent: Optional[Sequence[int]] = None) -> pd.DataFrame:
        """The ``k`` movies a user is most likely to choose (or rate highest).

        Args:
            user_id: A userId. A user unseen in training gets movies with at least
                ``Catalog.popular_min`` ratings, so the list holds well-rated popular
                movies.
            k: List length.
            context: As in :meth:`explain`.
            exclude_seen: Leave out movies the user rated in training.
            min_ratings: Candidates need at least this many training ratings (default
                1 for known users: movies never rated are scored from genres only).
            rank_by: ``"relevance"`` (how likely the user is to choose the movie; the
                default for models that have it, e.g. ``ease``) or ``"rating"`` (the
                predicted stars). Users unseen in training are ranked by rating.
            genres: Only movies with one of these genres, e.g. ``["Comedy"]``.
            years: Only movies released in ``(first, last)``, inclusive (None: open).
            movies: Only these movieIds (an explicit candidate list).
            exclude: Never these movieIds.
            recent: movieIds the user rated since training, oldest first (models with
                a sequence branch, e.g. the default hybrid): they join the user's
                recent history for this list, without retraining, and are left out of
                it. A user unseen in training is then ranked by relevance too. Movies
                the model does not know are ignored.

        Returns:
            A frame with rank, movieId, title, year, genres, predicted_rating; fewer
            than ``k`` rows when fewer movies are candidates. ``.attrs["ranked_by"]``
            says what the order is: ``"relevance"`` (how likely the user is to choose
            each movie, so ``predicted_rating`` need not fall down the list) or
            ``"rating"`` (the stars; users unseen in training without ``recent``).

        Raises:
            ArgumentError: If ``k`` is not a positive whole number, a genre is unknown,
                ``years`` is not a range, or ``recent`` is given with
                ``rank_by="rating"`` (stars do not depend on it).
            CapabilityError: If ``recent`` is given to a model without a sequence branch.

        Example:
            >>> rec.recommend(414, k=5, genres=["Comedy"], years=(1990, 1999))
            >>> rec.recommend(414, k=5, recent=[318, 296])  # just watched these
        """
        filters = Filters(exclude_seen, min_ratings, genres, years, movies, exclude)
        return self._recommend(user_id, k, context, filters, rank_by, recent)

    def _recent_items(self, recent, rank_by: str) -> np.ndarray:
        """Item indices of ``recent`` movieIds (0 for movies the model does not know)."""
        if not self.model_.supports("recent"):
            self.model_.recent_module()  # raises, saying why
        if rank_by != "relevance":
            raise ArgumentError("recent changes what lists rank by relevance; "
                                "rank_by='rating' ignores it")
        return self.pipeline_.item_index(as_ids(recent, "recent")).astype(np.int64)

    def _recommend(self, user_id, k: int, context, filters: Filters,
                   rank_by: Optional[str], recent=None) -> pd.DataFrame:
        self._check_fitted()
        whole_number(k, "k", unit="movies")
        rank_by = self._rank_by(rank_by)
        catalog = self.catalog_
        user_id = _one_id(user_id, "user_id")
        frame = with_context(pd.DataFrame({"userId": [user_id], "movieId": [0]}), context)
        row = int(self.pipeline_.user_index([user_id])[0])
        shift = None
        if recent is not None:
            recent = as_ids(recent, "recent")  # read once: the window and the exclusions
            items = self._recent_items(recent, rank_by)
            excluded = filters.exclude if filters.exclude is not None else ()
            filters = replace(filters, exclude=np.concatenate([excluded, recent]).astype(np.int64))
            shift = np.asarray(self.model_.recent_module()(
                np.array([row], np.int64), items[None, :]))[0]
        candidates = catalog.candidates(row, filters)
        movies = catalog.movie_ids[candidates]
        table = self._table_if_any()
        by_relevance = rank_by == "relevance" and (row > 0 or shift is not None)
        weight, first_weight, stars = 0.0, 1.0, None
        # Two stages without a table: relevance for anyone with a first stage; stars for
        # users seen in training (unseen ones share one row of stars, scored whole).
        module = (scoring.two_stages(self.model_, rank_by)
                  if table is None and (by_relevance or (rank_by == "rating" and row > 0))
                  else None)
        if table is not None:
            stars = table.users_scores(np.array([row]), self.pipeline_.context(frame),
                                       self.pipeline_.timestamps(frame), clip=False)[0]
            stars = stars[candidates]
            first = table.relevance[row][candidates] if by_relevance else stars
            weight = (table.stars_weight or 0.0) if by_relevance else 0.0
        elif module is not None:
            # Two stages, no table: the first for every candidate, stars for the best.
            items = self.pipeline_.item_index(movies).astype(np.int64)
            first = np.asarray(module(np.array([row], np.int64)))[0][items]
            weight, first_weight = module.stars_weight, module.first_weight
        else:
            pairs = frame.drop(columns="movieId").merge(pd.DataFrame({"movieId": movies}),
                                                        how="cross")
            block = self._block(pairs)
            stars = scoring.predict_block(self.model_, catalog, block)
            first = self.model_.relevance(block, stars) if by_relevance else stars
        if shift is not None:
            first = first + shift[self.pipeline_.item_index(movies)]

        def stars_of(columns: np.ndarray) -> np.ndarray:
            if stars is not None:
                return stars[columns]
            return scoring.pair_stars(self.model_, self.pipeline_, catalog,
                                      np.array([row]), candidates[columns], frame)

        top, valid, listed = rerank(first[None, :], np.ones((1, len(movies)), bool), stars_of,
                                    k, first_weight, weight, candidates=self.candidates)
        out = catalog.describe(movies[top[valid]])
        out.insert(0, "rank", np.arange(1, int(valid.sum()) + 1))
        out["predicted_rating"] = np.clip(listed[valid], *self.pipeline_.config.rating_range)
        out.attrs["ranked_by"] = "relevance" if by_relevance else "rating"
        return out

    def _rank_by(self, rank_by: Optional[str]) -> str:
        # A score table knows whether the model ranks by relevance: asking it leaves a
        # loaded model's weights unread.
        table = self.__dict__.get("_table")
        relevant = (table.relevance is not None if table is not None
                    else self.model_.supports("relevance"))
        if rank_by is None:
            return "relevance" if relevant else "rating"
        if rank_by not in ("relevance", "rating"):
            raise ArgumentError(f"rank_by must be 'relevance' or 'rating', got {rank_by!r}")
        if rank_by == "relevance" and not relevant:
            self.model_.unsupported("relevance")
        return rank_by

    def recommend_many(self, user_ids, k: int = 10, context=None, exclude_seen: bool = True,
                       min_ratings: Optional[int] = None, rank_by: Optional[str] = None, *,
                       genres: Optional[Sequence[str]] = None, years=None,
                       movies: Optional[Sequence[int]] = None,
                       exclude: Optional[Sequence[int]] = None) -> pd.DataFrame:
        """Top-``k`` lists for many users at once, as one frame (vectorized over the
        score table; the same lists as :meth:`recommend` for each user).

        Args:
            user_ids: userIds (unknown ones get the popular list).
            k, context, exclude_seen, min_ratings, rank_by, genres, years, movies,
                exclude: As in :meth:`recommend`; one context and one set of filters
                for every user.

        Returns:
            userId, rank, movieId, title, year, genres, predicted_rating; the format
            of ``../shared/bench/score_topn.py`` (userId, rank, movieId) and more.

        Raises:
            ArgumentError: As :meth:`recommend`, or if ``user_ids`` are not whole numbers.
        """
        self._check_fitted()
        whole_number(k, "k", unit="movies")
        users = as_ids(user_ids, "user_ids")
        rank_by = self._rank_by(rank_by)
        filters = Filters(exclude_seen, min_ratings, genres, years, movies, exclude)
        table = self._table_if_any()
        if not len(users):
            return pd.DataFrame(columns=["userId", "rank", "movieId", "title", "year", "genres",
                                         "predicted_rating"])
        frame = with_context(pd.DataFrame({"userId": [0], "movieId": [0]}), context)
        rows = self.pipeline_.user_index(users).astype(np.int64)
        if table is not None:
            out = scoring.top_lists(table, self.catalog_, rows, k,
                                    self.pipeline_.context(frame)[0],
                                    int(self.pipeline_.timestamps(frame)[0]), rank_by, filters,
                                    candidates=self.candidates)
        elif scoring.two_stages(self.model_, rank_by) is not None:
            out = scoring.live_lists(self.model_, self.pipeline_, self.catalog_, rows, k, frame,
                                     filters, candidates=self.candidates, rank_by=rank_by)
        else:
            lists = pd.concat([self._recommend(u, k, context, filters, rank_by).assign(userId=u)
                               for u in users], ignore_index=True)
            return lists[["userId", *lists.columns[:-1]]]
        out.insert(0, "userId", users[out.pop("row_position").to_numpy()])
        described = self.catalog_.describe(out["movieId"].to_numpy()).drop(columns="movieId")
        out = pd.concat([out.drop(columns="predicted_rating"), described,
                         out[["predicted_rating"]]], axis=1)
        out["predicted_rating"] = np.clip(out["predicted_rating"],
                                          *self.pipeline_.config.rating_range)
        return out

    def item_vectors(self) -> np.ndarray:
        """Learned vectors of the catalog's movies (rows in ``catalog_.movies`` order).

        Raises:
            CapabilityError: For models without item vectors.
        """
        self._check_fitted()
        movies = self.catalog_.movie_ids
        block = self._block(pd.DataFrame({"userId": 0, "movieId": movies}))
        block["item_features"] = self.pipeline_.item_features(movies)
        return self.model_.item_vectors(block)

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
        whole_number(k, "k", unit="movies")
        movie_id = _one_id(movie_id, "movie_id")
        row = self.catalog_.position([movie_id])[0]
        if row < 0:
            raise UnknownMovieError(f"movieId {movie_id!r} is not in the catalog of "
                                    f"{len(self.catalog_.movies)} movies")
        table = self.__dict__.get("_table")
        if table is not None and table.item_vectors is not None:
            vectors = table.item_vectors.astype(np.float64)  # unit rows, saved with the table
        else:
            vectors = normalize(self.item_vectors())
        similarity = vectors @ vectors[row]
        similarity[row] = -np.inf
        top = np.lexsort((self.catalog_.movie_ids, -similarity))[:k]
        out = self.catalog_.describe(self.catalog_.movie_ids[top])
        out.insert(0, "rank", np.arange(1, len(top) + 1))
        out["similarity"] = similarity[top]
        return out

    def evaluate(self, test: pd.DataFrame, k: int = 10, relevant: Optional[float] = None,
                 lists: bool = True) -> Dict[str, Any]:
        """Metrics on held-out ratings: the rating metrics of :func:`kerasrec.metrics.score`
        and, with ``lists``, the top-``k`` lists over the whole catalog (movies rated in
        training excluded) scored by :func:`kerasrec.metrics.topn_score`
        (``watched_recall@k``, ``liked_ndcg@k``, ``coverage@10`` ...).

        Args:
            test: userId, movieId, rating (and timestamp for context): a DataFrame or a
                mapping of columns, as :meth:`predict` takes pairs.
            k: Cut-off of the ranking metrics.
            relevant: True rating from which a movie counts as relevant (liked); None:
                :func:`kerasrec.metrics.liked_threshold` of the rating scale (4.0 on
                MovieLens' stars).
            lists: Also score top-k lists for every test user seen in training.

        Raises:
            ArgumentError: If ``test`` has no rows, no rating column, a rating that is
                not a number, or ids :meth:`predict` refuses; if ``relevant`` is not a
                rating on the scale.
        """
        from kerasrec import metrics

        self._check_fitted()
        whole_number(k, "k", unit="movies")
        low, high = self.pipeline_.config.rating_range
        if relevant is not None and not (is_number(relevant) and low <= relevant <= high):
            raise ArgumentError(f"relevant must be a rating on the scale [{low:g}, {high:g}] "
                                f"(the stars from which a movie counts as liked), got "
                                f"{relevant!r}")
        true_or_false(lists, "lists")
        test = _as_pairs(test)
        if "rating" not in test.columns or not len(test):
            raise ArgumentError(f"test must hold held-out ratings (userId, movieId, rating), "
                                f"got {len(test)} rows with columns {list(test.columns)}")
        rating = pd.to_numeric(test["rating"], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(rating)
        if bad.any():
            raise ArgumentError(f"test's rating must be a number on every row, found "
                                f"{preview(test['rating'][bad].unique())} at positions "
                                f"{preview(np.flatnonzero(bad))}")
        if relevant is None:
            relevant = metrics.liked_threshold(self.pipeline_.config.rating_range)
        test = test.assign(rating=rating)
        frame = test[["userId", "movieId", "rating"]].assign(prediction=self.predict(test))
        scores = metrics.score(frame, k=k, relevant=relevant,
                               rating_range=self.pipeline_.config.rating_range)
        if lists:
            users = np.intersect1d(test["userId"].unique(), self.pipeline_.user_vocabulary_)
            top = self.recommend_many(users, k=max(k, 10))
            scores.update(metrics.topn_score(top, test, self.catalog_.seen, ks=(k,),
                                             liked=relevant))
        return scores

    # --- persistence ---------------------------------------------------------------------

    def save(self, path: Union[str, Path]) -> Path:
        """Write the fitted recommender to one folder, atomically, without pickle (see
        :func:`kerasrec.saving.save_recommender`).

        Raises:
            ArtifactError: If the folder cannot be written.
        """
        from kerasrec.saving import save_recommender

        self._check_fitted()
        return save_recommender(self, path)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Recommender":
        """Read a folder written by :meth:`save`, or the model of a run directory
        (``kerasrec train --out runs/latest``); runs no code from it (see
        :func:`kerasrec.saving.load_recommender`).

        Example:
            >>> rec = Recommender.load("runs/latest")  # doctest: +SKIP

        Raises:
            ArtifactError: If the folder is missing, incomplete, damaged, edited, or of
                another format; the message names the file.
        """
        from kerasrec.saving import load_recommender

        return load_recommender(path, cls)


#: Column names people use for the ids, compared without case, "_" or " ".
_ALIASES = {"userid": "userId", "user": "userId", "movieid": "movieId", "movie": "movieId",
            "itemid": "movieId", "item": "movieId"}


def _as_pairs(pairs) -> pd.DataFrame:
    """``pairs`` with the id columns named userId and movieId (``user_id``, ``UserID``,
    ``item`` ... are accepted) and read as int64 ids (:func:`_ids`), a
    ``timestamp`` column as int64 Unix seconds (numbers or dates:
    :func:`~kerasrec.features.context.unix_seconds`), index reset.

    A mapping of columns (``{"userId": [1, 2], "movieId": [10, 20]}``, or single ids
    for one pair) is read as the DataFrame it describes.

    Raises:
        ArgumentError: If it is neither a DataFrame nor a mapping of equally long
            columns, an id column is missing, or an id or a timestamp cannot be read.
    """
    if isinstance(pairs, Mapping):
        columns = {str(k): (v if np.ndim(v) else [v]) for k, v in pairs.items()}
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ArgumentError(f"pairs given as a mapping need columns of one length, got "
                                f"{lengths}")
        pairs = pd.DataFrame(columns)
    if not isinstance(pairs, pd.DataFrame):
        raise ArgumentError(f"pairs must be a DataFrame (or a mapping of columns) with "
                            f"userId and movieId, got {type(pairs).__name__}")
    renames = {}
    for column in pairs.columns:
        key = loose_name(column)
        if key in _ALIASES and _ALIASES[key] not in pairs.columns:
            renames[column] = _ALIASES[key]
    pairs = pairs.rename(columns=renames)
    missing = {"userId", "movieId"} - set(pairs.columns)
    if missing:
        raise ArgumentError(f"pairs lack column(s) {sorted(missing)}; found "
                            f"{[str(c) for c in pairs.columns]}")
    pairs = pairs.reset_index(drop=True)
    read = {column: as_ids(pairs[column], column) for column in ("userId", "movieId")}
    if "timestamp" in pairs:
        read["timestamp"] = unix_seconds(pairs["timestamp"])
    return pairs.assign(**read)


def _one_id(value, name: str) -> int:
    """One id (an int, a whole float, numeric text), checked as
    :func:`~kerasrec.schema.as_ids` checks ids.

    Raises:
        ArgumentError: For a list or other collection, or an id ``as_ids`` refuses.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:  # np.asarray(414), a scalar
        value = value.item()
    if isinstance(value, (pd.Series, np.ndarray, Mapping)) or (
            isinstance(value, Iterable) and not isinstance(value, (str, bytes))):
        raise ArgumentError(f"{name} must be one id, got a {type(value).__name__}")
    return int(as_ids(value, name)[0])
