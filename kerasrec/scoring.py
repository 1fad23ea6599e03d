"""Scoring: the one path from a model to stars, and the precomputed score table.

:func:`predict_block` is how every prediction is made: the model's score, then the
catalog's cold-start rules. For catalogs of modest size (users x movies up to
:data:`SCORE_TABLE_LIMIT` cells) :func:`build_table` computes every known user's
score for every catalog movie once, with that same path, and keeps them in a
:class:`ScoreTable`; ``Recommender.predict``/``recommend`` and the SavedModel export
then look scores up. Nothing is approximated:

* scores are stored at the reference context (a weekday night, outside any training
  session); a model whose score depends on context provides its ``additive_terms``
  (``RecModel.additive_terms``), and any other context is the table value plus
  ``slope * terms.shift(...)``;
* the other models take no context, so the table is their prediction everywhere;
* cold start follows the :class:`~kerasrec.catalog.Catalog`: row 0 is the user unseen
  in training, the last column a movie outside the catalog, and the pairs that get
  the global mean ignore context.

A model whose score depends on context non-additively (a sigmoid hybrid) has no table
and is scored by the model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Optional, Tuple, Union

import numpy as np
import pandas as pd

from kerasrec.catalog import global_mean_pairs
from kerasrec.errors import CapabilityError
from kerasrec.rerank import CANDIDATES, rerank, row_stars_weights
from kerasrec.schema import as_ids

SCORE_TABLE_LIMIT = 2 ** 25
"""Largest table (users x catalog movies) kept: 128 MiB of float32 scores."""


def make_block(pipeline, model, pairs: pd.DataFrame) -> dict:
    """The block a model scores: ``pipeline.transform(pairs)`` plus raw ``movie_id``."""
    block = pipeline.transform(pairs, item_features=model.needs_item_features)
    block["movie_id"] = pairs["movieId"].to_numpy()
    return block


def predict_block(model, catalog, block, clip: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Stars for a block: the model's score with the catalog's cold-start rules."""
    stars = catalog.apply_cold_start(block, np.asarray(model.score(block), np.float64),
                                     model.scores_cold_pairs)
    return np.clip(stars, *clip) if clip is not None else stars


def additive_terms(model) -> Any:
    """The model's context/session terms, or None if its score ignores context.

    Raises:
        CapabilityError: If the score depends on context but not additively.
    """
    return model.additive_terms() if model.supports("additive_terms") else None

@dataclass
class ScoreTable:
    """A model's predictions for every known user and catalog movie.

    Attributes:
        user_ids: (U,) the training users; user ``user_ids[r]`` is row ``r + 1``.
        movie_ids: (M,) the catalog, sorted; movie ``movie_ids[c]`` is column ``c``.
            Column ``M`` stands for any movie outside the catalog.
        stars: (U + 1, M + 1) float32 predictions in stars at the reference context,
            before clipping. Row 0 is the cold-start row of users unseen in training.
        slope: (M + 1,) stars per unit of model score (for the additive terms).
        item_known: (M + 1,) whether the movie was rated in training.
        rating_range: Predictions are clipped to it.
        terms: The model's additive context/session terms, or None. Not stored with
            the table: it is read from the model's weights (a loaded table gets a
            :class:`LazyTerms` that does so when a context first needs it).
        item_vectors: (M, d) unit-length learned movie vectors for similar items, or None.
        relevance: (U + 1, M) float32: what lists rank known users by, or None. For
            a model with two stages (``RecModel.retrieval_module``) it is the first
            stage, and ``stars_weight`` x the stars is added on the best
            ``candidates`` (:mod:`kerasrec.rerank`); otherwise it is
            :meth:`RecModel.relevance` itself.
        stars_weight: The two-stage models' weight of the stars, else None.
    """

    user_ids: np.ndarray
    movie_ids: np.ndarray
    stars: np.ndarray
    slope: np.ndarray
    item_known: np.ndarray
    rating_range: Tuple[float, float]
    terms: Any = None
    item_vectors: Optional[np.ndarray] = None
    relevance: Optional[np.ndarray] = None
    stars_weight: Optional[float] = None

    @property
    def n_movies(self) -> int:
        return len(self.movie_ids)

    def rows(self, user_ids) -> np.ndarray:
        """Raw userIds -> table rows (0 for users unseen in training)."""
        return (pd.Index(self.user_ids).get_indexer(as_ids(user_ids, "user_ids")) + 1).astype(np.int64)

    def columns(self, movie_ids) -> np.ndarray:
        """Raw movieIds -> table columns (``n_movies`` for movies outside the catalog)."""
        index = pd.Index(self.movie_ids).get_indexer(as_ids(movie_ids, "movie_ids"))
        return np.where(index < 0, self.n_movies, index).astype(np.int64)

    def score(self, rows: np.ndarray, columns: np.ndarray, flags: np.ndarray,
              timestamps: np.ndarray, clip: bool = True) -> np.ndarray:
        """Predictions in stars, clipped to the rating range unless ``clip=False``."""
        stars = self.stars[rows, columns].astype(np.float64)
        if self.terms is not None:
            applies = ~global_mean_pairs(rows, self.item_known[columns])
            shift = self.terms.shift(rows, flags, np.asarray(timestamps, np.int64))
            stars = stars + np.where(applies, self.slope[columns] * shift, 0.0)
        return np.clip(stars, *self.rating_range) if clip else stars

    def users_scores(self, rows: np.ndarray, flags: np.ndarray, timestamps: np.ndarray,
                     clip: bool = True) -> np.ndarray:
        """Users' predictions for the whole catalog, ``(len(rows), n_movies)`` stars.

        Rank by the unclipped scores (``clip=False``): clipping ties every movie
        predicted above the top of the scale.
        """
        stars = self.stars[rows, :self.n_movies].astype(np.float64)
        if self.terms is not None:
            shift = self.terms.shift(rows, flags, np.asarray(timestamps, np.int64))
            applies = ~global_mean_pairs(rows[:, None], self.item_known[None, :self.n_movies])
            stars += np.where(applies, self.slope[None, :self.n_movies] * shift[:, None], 0.0)
        return np.clip(stars, *self.rating_range) if clip else stars

    def top(self, rows: np.ndarray, stars: np.ndarray, allowed: np.ndarray, k: int,
            rank_by: str, candidates: int = CANDIDATES) -> Tuple[np.ndarray, np.ndarray]:
        """Each row's list (:func:`kerasrec.rerank.rerank`): by relevance for known
        users where the model has it, else by the (unclipped) stars.

        Args:
            stars: :meth:`users_scores` of ``rows`` (``clip=False``).
            allowed: ``(len(rows), n_movies)`` what may be listed.

        Returns:
            ``(columns, valid, stars)``, each ``(len(rows), min(k, n_movies))``.
        """
        weight = 0.0
        first = stars
        if rank_by == "relevance" and self.relevance is not None:
            known = rows[:, None] > 0
            first = np.where(known, self.relevance[rows], stars)
            if self.stars_weight is not None:
                weight = np.where(known, self.stars_weight, 0.0)
        return rerank(first, allowed, lambda pool: np.take_along_axis(stars, pool, axis=1),
                      k, 1.0, weight, candidates)

    def save(self, path: Union[str, Path]) -> None:
        """Write the table to one ``.npz`` file (the caller makes it atomic)."""
        arrays = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)
                  if f.name != "terms" and getattr(self, f.name) is not None}
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Union[str, Path], terms=None) -> "ScoreTable":
        """Read a table written by :meth:`save` (arrays only; no pickle).

        Raises:
            ArtifactError: If the arrays are missing or do not fit together.
        """
        from kerasrec.errors import ArtifactError

        with np.load(path) as stored:
            values = {k: stored[k] for k in stored.files}
        needed = {"user_ids", "movie_ids", "stars", "slope", "item_known", "rating_range"}
        if not needed <= set(values) or values["stars"].shape != (
                len(values["user_ids"]) + 1, len(values["movie_ids"]) + 1):
            raise ArtifactError(f"'{path}' is not a score table of this model; delete it and "
                                "it is rebuilt")
        values["rating_range"] = tuple(float(v) for v in values["rating_range"])
        if "stars_weight" in values:
            values["stars_weight"] = float(values["stars_weight"])
        return cls(**values, terms=terms)


class LazyTerms:
    """A model's additive terms, read from its weights only when a context needs them.

    At the reference context (no flags, no timestamp) every shift is zero by definition,
    so a saved score table ranks and predicts there without loading the model (nor
    TensorFlow). ``load`` returns the terms (or None for a model without them).
    """

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load, self._terms, self._loaded = load, None, False

    def resolve(self) -> Any:
        """The model's terms (loading the model the first time)."""
        if not self._loaded:
            self._terms, self._loaded = self._load(), True
        return self._terms

    def shift(self, rows: np.ndarray, flags: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        reference = not np.any(flags) and not np.any(np.asarray(timestamps) >= 0)
        terms = None if reference and not self._loaded else self.resolve()
        return np.zeros(len(rows)) if terms is None else terms.shift(rows, flags, timestamps)

    def serving_module(self):
        terms = self.resolve()
        return None if terms is None else terms.serving_module()


def two_stages(model, rank_by: str):
    """The model's two-stage module (:meth:`RecModel.retrieval_module`) when it ranks
    lists by ``rank_by`` (``"relevance"`` or ``"rating"``), else None."""
    if not model.supports("retrieval"):
        return None
    module = model.retrieval_module()
    return module if module.rank_by == rank_by else None


def table_problem(model, pipeline, catalog) -> Optional[str]:
    """Why ``model`` has no score table, or None if it can have one."""
    if not model.tabulate:
        return f"model {model.name!r} scores pairs directly and keeps no score table"
    if model.supports("additive_terms"):
        try:
            model.additive_terms()
        except CapabilityError as exc:
            return str(exc)
    cells = table_cells(len(pipeline.user_vocabulary_), len(catalog.movies))
    if cells > SCORE_TABLE_LIMIT:
        return (f"{len(pipeline.user_vocabulary_)} users x {len(catalog.movies)} movies "
                f"exceed the score table limit of {SCORE_TABLE_LIMIT} cells")
    return None


def build_table(model, pipeline, catalog, verbose: int = 0) -> ScoreTable:
    """Score every training user (and the unseen user) against every catalog movie.

    Args:
        verbose: 1 shows a progress bar (Keras' ``Progbar``, in a terminal or Jupyter).

    Raises:
        CapabilityError: If :func:`table_problem` names a reason.
    """
    problem = table_problem(model, pipeline, catalog)
    if problem:
        raise CapabilityError(f"no score table: {problem}")
    users = np.asarray(pipeline.user_vocabulary_, np.int64)
    movies = catalog.movie_ids
    outside = int(max(movies.max(initial=0), pipeline.item_vocabulary_.max(initial=0)) + 1)
    columns = np.append(movies, outside)  # the last column: a movie outside the catalog
    row_users = np.append(int(users.max(initial=0) + 1), users)  # row 0: a user unseen
    stars = np.empty((len(row_users), len(columns)), np.float32)
    ranks = model.supports("relevance")
    relevance = np.empty((len(row_users), len(movies)), np.float32) if ranks else None
    # Two-stage models store their first stage: lists add the stars on the candidates.
    # (A model ranked by stars keeps them whole: where the table fits, it ranks exactly.)
    module = two_stages(model, "relevance") if ranks else None
    movie_items = pipeline.item_index(movies).astype(np.int64)
    chunk = max(1, 2 ** 19 // len(columns))
    bar = None
    if verbose:
        import keras

        print(f"score table: {len(row_users):,} users x {len(columns):,} movies", flush=True)
        bar = keras.utils.Progbar(len(row_users), verbose=verbose, unit_name="user")
    for lo in range(0, len(row_users), chunk):
        block_users = row_users[lo:lo + chunk]
        pairs = pd.DataFrame({"userId": np.repeat(block_users, len(columns)),
                              "movieId": np.tile(columns, len(block_users))})
        block = make_block(pipeline, model, pairs)
        shape = (len(block_users), len(columns))
        values = predict_block(model, catalog, block)
        stars[lo:lo + len(block_users)] = values.reshape(shape)
        if module is not None:
            rows = np.arange(lo, lo + len(block_users), dtype=np.int64)
            relevance[lo:lo + len(block_users)] = np.asarray(module(rows))[:, movie_items]
        elif ranks:
            relevance[lo:lo + len(block_users)] = model.relevance(block, values).reshape(
                shape)[:, :-1]
        if bar is not None:
            bar.update(lo + len(block_users))
    zero = pipeline.to_stars(np.zeros(len(columns)), columns)
    slope = pipeline.to_stars(np.ones(len(columns)), columns) - zero
    table = ScoreTable(user_ids=users, movie_ids=movies, stars=stars,
                       slope=slope.astype(np.float32),
                       item_known=pipeline.item_index(columns) > 0,
                       rating_range=tuple(float(v) for v in pipeline.config.rating_range),
                       terms=additive_terms(model), relevance=relevance,
                       stars_weight=None if module is None else float(module.stars_weight))
    table.item_vectors = item_vector_table(model, pipeline, catalog)
    return table


def item_vector_table(model, pipeline, catalog) -> Optional[np.ndarray]:
    """``(M, d)`` unit-length vectors of the catalog's movies (for similar items), or
    None for a model without item vectors."""
    if not model.supports("item_vectors"):
        return None
    movies = catalog.movie_ids
    vectors = model.item_vectors(make_block(pipeline, model, pd.DataFrame(
        {"userId": 0, "movieId": movies})) | {"item_features": pipeline.item_features(movies)})
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def top_lists(table: ScoreTable, catalog, rows: np.ndarray, k: int, flags, timestamp: int,
              rank_by: str, filters=None, chunk: int = 512,
              candidates: int = CANDIDATES) -> pd.DataFrame:
    """Top-``k`` lists of many users from the table, vectorized ``chunk`` users at a time.

    Ranks as ``Recommender.recommend`` does (:meth:`ScoreTable.top`, ties by the
    smaller movieId) over ``catalog.allowed`` candidates under ``filters`` (a
    :class:`~kerasrec.catalog.Filters`); one context for every user.

    Returns:
        row_position (into ``rows``), rank, movieId, predicted_rating (unclipped stars).
    """
    from kerasrec.catalog import Filters

    filters = filters or Filters()
    parts = []
    for lo in range(0, len(rows), chunk):
        block = rows[lo:lo + chunk]
        stars = table.users_scores(block, np.tile(np.asarray(flags, np.float64), (len(block), 1)),
                                   np.full(len(block), timestamp, np.int64), clip=False)
        parts.append(list_frame(catalog, lo, *table.top(
            block, stars, catalog.allowed(block, filters), k, rank_by, candidates)))
    return pd.concat(parts, ignore_index=True)


def list_frame(catalog, first_position: int, columns: np.ndarray, valid: np.ndarray,
               stars: np.ndarray) -> pd.DataFrame:
    """Lists as rows: row_position, rank, movieId, predicted_rating (unclipped)."""
    n, width = columns.shape
    keep = valid.ravel()
    return pd.DataFrame({
        "row_position": np.repeat(np.arange(first_position, first_position + n), width)[keep],
        "rank": np.tile(np.arange(1, width + 1), n)[keep],
        "movieId": catalog.movie_ids[columns][valid],
        "predicted_rating": stars[valid]})


def live_lists(model, pipeline, catalog, rows: np.ndarray, k: int, context: pd.DataFrame,
               filters=None, chunk: int = 256, candidates: int = CANDIDATES,
               rank_by: str = "relevance") -> pd.DataFrame:
    """:func:`top_lists` without a table, for a model with two stages that rank by
    ``rank_by``: its first stage for the whole catalog (``chunk`` users at a time),
    then the model's stars for each user's best ``candidates`` alone. Users unseen in
    training are ranked by stars over the whole catalog (their stars do not depend on
    them: one row for all).

    Args:
        context: A one-row frame with the moment's columns (``with_context``).
    """
    from kerasrec.catalog import Filters

    filters = filters or Filters()
    module = two_stages(model, rank_by)
    movie_items = pipeline.item_index(catalog.movie_ids).astype(np.int64)
    parts = []
    cold = None
    for lo in range(0, len(rows), chunk):
        block = np.asarray(rows[lo:lo + chunk], np.int64)
        allowed = catalog.allowed(block, filters)
        first = np.asarray(module(block), np.float64)[:, movie_items]
        weight = row_stars_weights(block > 0, module.first_weight, module.stars_weight)
        if (block == 0).any():
            if cold is None:
                cold = pair_stars(model, pipeline, catalog, np.zeros(1, np.int64),
                                  np.arange(len(movie_items))[None, :], context)[0]
            first[block == 0] = cold
        parts.append(list_frame(catalog, lo, *rerank(
            first, allowed, lambda pool: pair_stars(model, pipeline, catalog, block, pool,
                                                    context),
            k, module.first_weight, weight, candidates)))
    return pd.concat(parts, ignore_index=True)


def pair_stars(model, pipeline, catalog, rows: np.ndarray, columns: np.ndarray,
               context: pd.DataFrame) -> np.ndarray:
    """Unclipped stars of user indices ``rows`` for catalog ``columns`` ``(n, C)``, at
    the moment ``context`` describes (cold-start rules included)."""
    vocabulary = np.asarray(pipeline.user_vocabulary_, np.int64)
    users = np.append(vocabulary.max(initial=0) + 1, vocabulary)[rows]  # row 0: unseen
    pairs = pd.DataFrame({"userId": np.repeat(users, columns.shape[1]),
                          "movieId": catalog.movie_ids[columns].ravel()})
    for name in context.columns.drop(["userId", "movieId"], errors="ignore"):
        pairs[name] = context[name].iloc[0]
    return predict_block(model, catalog, make_block(pipeline, model, pairs)).reshape(
        columns.shape)


def table_cells(n_users: int, n_movies: int) -> int:
    """Cells of the score table for that many training users and catalog movies."""
    return (n_users + 1) * (n_movies + 1)
