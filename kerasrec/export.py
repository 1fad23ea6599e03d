"""SavedModel export: TensorFlow Serving (or any TensorFlow program) takes raw ids.

:func:`export_saved_model` writes a fitted :class:`~kerasrec.Recommender` with Keras 3's
``ExportArchive`` into ``DIR/<version>/``, the layout TensorFlow Serving watches. The
SavedModel holds everything a client would otherwise need kerasrec for: the userId and
movieId vocabularies (hash tables; unknown ids take the cold-start path), the model's
:class:`~kerasrec.scoring.ScoreTable` (predictions for every known user and catalog
movie, the movie features already applied), the context branch and session bias
weights, and the time zone's UTC offset history, so context can come from a raw Unix
timestamp. Its signatures, all batched (shape ``[None]`` inputs):

``serving_default``
    ``user_id``, ``movie_id`` (int64), ``daytime``, ``weekend`` (float32 flags) and
    ``timestamp`` (int64 Unix seconds; -1 = unknown, then the flags are the context)
    -> ``rating`` (float32 stars), equal to ``Recommender.predict``.
``recommend``
    ``user_id``, ``daytime``, ``weekend``, ``timestamp``, ``k`` (int64),
    ``exclude_seen`` (bool) -> ``movie_id`` (int64) and ``rating`` (float32), each
    ``[batch, max(k)]``, best first (by relevance for models that have it, else by
    rating), equal to ``Recommender.recommend``; rows asking for
    fewer than ``max(k)`` movies (or with fewer candidates) are padded with movie_id -1
    and rating 0.
``recommend_user``
    ``user_id``, ``k`` -> as ``recommend`` with ``Recommender.recommend``'s defaults (no
    context: a weekday night, no session; seen movies left out), so a client that has
    only ids sends only ids (TensorFlow Serving signatures have no default inputs).
``recommend_recent`` (models whose lists read single movies: the default hybrid)
    As ``recommend``, plus ``recent_movie_ids`` (int64 ``[batch, None]``, padded with
    -1): movies each user rated since training, oldest first. They join the user's
    recent history (no retraining; unknown movies are ignored) and are left out of the
    list; unknown users are then ranked by relevance too. Equal to
    ``Recommender.recommend(user, recent=...)``.
``similar_items`` (models with item vectors)
    ``movie_id``, ``k`` -> ``movie_id`` and ``similarity`` (cosine), as
    ``Recommender.similar_items``; a movie outside the catalog gets the most rated
    movies with similarity 0 instead of an error.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Optional, Union

import numpy as np
import pandas as pd

from kerasrec._io import artifact_kind, as_path, atomic_path
from kerasrec.catalog import global_mean_pairs_tf
from kerasrec.errors import (ArgumentError, ArtifactError, CapabilityError, true_or_false,
                             whole_number)
from kerasrec.features.context import context_features_tf, utc_offsets
from kerasrec.rerank import CANDIDATES, rerank_tf, row_stars_weights_tf

SIGNATURES = ("serving_default", "recommend", "recommend_user", "recommend_recent",
              "similar_items")


def next_version(directory: Union[str, Path]) -> int:
    """One more than the largest numeric version folder in ``directory`` (1 if none)."""
    directory = Path(directory)
    versions = [int(p.name) for p in directory.iterdir()
                if p.is_dir() and re.fullmatch(r"\d+", p.name)] if directory.is_dir() else []
    return max(versions, default=0) + 1


def export_saved_model(recommender, directory: Union[str, Path],
                       version: Optional[int] = None,
                       score_table: Optional[bool] = None) -> Path:
    """Write ``recommender`` as a SavedModel into ``directory/<version>/``.

    Args:
        recommender: A fitted :class:`~kerasrec.Recommender` whose model has a score
            table (see :mod:`kerasrec.scoring`).
        directory: The model base path TensorFlow Serving is given.
        version: The version number; by default one more than the largest present.
        score_table: Serve from the users x movies score table (True), or from the
            model's two stages in the graph (False: models with the ``retrieval``
            capability, e.g. the default hybrid; any number of users and movies).
            By default the table where it fits (fastest), else the two stages. Both
            give ``Recommender.recommend``'s lists.

    Returns:
        The version folder written.

    Raises:
        CapabilityError: If the model has neither a score table that fits (a sigmoid
            hybrid, or too many users x movies) nor two stages, or ``score_table``
            asks for what it lacks.
        ArtifactError: If the version exists already, ``directory`` is a kerasrec run,
            saved recommender or data folder, or the folder cannot be written.
        ArgumentError: If ``recommender`` is not a Recommender, ``version`` not a
            positive whole number or ``score_table`` not True, False or None.
    """
    import keras

    from kerasrec import scoring

    from kerasrec.recommend import Recommender

    if not isinstance(recommender, Recommender):
        raise ArgumentError(f"export_saved_model takes a fitted kerasrec.Recommender, got "
                            f"{type(recommender).__name__}")
    if score_table is not None:
        true_or_false(score_table, "score_table")
    if version is not None:
        version = whole_number(version, "version")
    directory = as_path(directory, "directory")
    kind = artifact_kind(directory)
    if kind is not None:  # a version folder inside it would be lost when it is rewritten
        raise ArtifactError(f"'{directory}' is a kerasrec {kind} folder; export into a folder "
                            f"of its own, e.g. 'served'")
    model = recommender.model_
    problem = scoring.table_problem(model, recommender.pipeline_, recommender.catalog_)
    two_stage = model.supports("retrieval")
    if score_table is None:
        score_table = not problem or not two_stage
    if not score_table and not two_stage:
        model.unsupported("retrieval")
    if score_table and problem:
        raise CapabilityError(f"no score table: {problem}")
    version = next_version(directory) if version is None else version
    target = Path(directory) / str(version)
    if target.exists():
        raise ArtifactError(f"'{target}' exists; TensorFlow Serving versions are immutable, "
                            "choose another version")
    pipeline, catalog = recommender.pipeline_, recommender.catalog_
    candidates = recommender.candidates
    if score_table:
        table = recommender.score_table()
        recent = (model.recent_module(), pipeline) if (
            table.relevance is not None and model.supports("recent")) else None
        tables = ServingTables(table, catalog, pipeline.config.timezone,
                               pipeline.config.daytime_hours, recent, candidates)
    else:
        recent = (model.recent_module(), pipeline) if model.supports("recent") else None
        reference = pd.DataFrame({"userId": [0], "movieId": [0]})
        cold = scoring.pair_stars(model, pipeline, catalog, np.zeros(1, np.int64),
                                  np.arange(len(catalog.movie_ids))[None, :], reference)[0]
        tables = _retrieval_serving_class()(
            model, pipeline, catalog, pipeline.config.timezone, pipeline.config.daytime_hours,
            recent, candidates, scoring.item_vector_table(model, pipeline, catalog), cold)
    archive = keras.export.ExportArchive()
    archive.track(tables)
    spec = _specs()
    archive.add_endpoint("serving_default", tables.serve,
                         [spec("user_id", "int64"), spec("movie_id", "int64"),
                          spec("daytime", "float32"), spec("weekend", "float32"),
                          spec("timestamp", "int64")])
    archive.add_endpoint("recommend", tables.recommend,
                         [spec("user_id", "int64"), spec("daytime", "float32"),
                          spec("weekend", "float32"), spec("timestamp", "int64"),
                          spec("k", "int64"), spec("exclude_seen", "bool")])
    archive.add_endpoint("recommend_user", tables.recommend_user,
                         [spec("user_id", "int64"), spec("k", "int64")])
    if recent is not None:
        archive.add_endpoint("recommend_recent", tables.recommend_recent,
                             [spec("user_id", "int64"),
                              spec("recent_movie_ids", "int64", [None, None]),
                              spec("daytime", "float32"), spec("weekend", "float32"),
                              spec("timestamp", "int64"), spec("k", "int64"),
                              spec("exclude_seen", "bool")])
    if tables.has_vectors:
        archive.add_endpoint("similar_items", tables.similar_items,
                             [spec("movie_id", "int64"), spec("k", "int64")])
    with atomic_path(target, directory=True) as tmp:
        archive.write_out(os.fspath(tmp), verbose=False)
    return target


def _specs():
    import tensorflow as tf

    return lambda name, dtype, shape=(None,): tf.TensorSpec(shape, getattr(tf, dtype), name=name)


@functools.lru_cache(maxsize=None)
def _serving_tables_class():
    import tensorflow as tf

    class _ServingTables(tf.Module):
        def __init__(self, table, catalog, timezone: str, daytime_hours, recent=None,
                     candidates: int = CANDIDATES) -> None:
            super().__init__(name="kerasrec_serving")
            self._shared(table.user_ids, table.movie_ids, catalog, table.rating_range,
                         table.terms, timezone, daytime_hours, recent, candidates,
                         table.item_vectors)
            fixed = dict(trainable=False)
            self.stars = tf.Variable(table.stars.astype(np.float32), **fixed, name="stars")
            self.slope = tf.Variable(table.slope.astype(np.float32), **fixed, name="slope")
            self.item_known = tf.Variable(table.item_known.astype(bool), **fixed,
                                          name="item_known")
            self.seen = tf.Variable(catalog.seen_matrix().toarray(), **fixed, name="seen")
            self.has_relevance = table.relevance is not None
            self.stars_weight = float(table.stars_weight or 0.0)
            if self.has_relevance:
                self.relevance = tf.Variable(table.relevance.astype(np.float32), **fixed,
                                             name="relevance")

        def _shared(self, users, movies, catalog, rating_range, terms, timezone: str,
                    daytime_hours, recent, candidates: int, item_vectors) -> None:
            """What every export holds: the id tables, the catalog's candidate rules,
            the context terms and time zone, and the recent-history module."""
            i64 = tf.int64
            self.recent = None
            if recent is not None:
                # The model's module works in item indices: movieId -> index (0 unknown),
                # and each catalog column's index to pick its shift.
                self.recent, pipeline = recent
                items = np.asarray(pipeline.item_vocabulary_, np.int64)
                self.item_index = tf.lookup.StaticHashTable(
                    tf.lookup.KeyValueTensorInitializer(
                        tf.constant(items, i64), tf.constant(np.arange(1, len(items) + 1), i64)),
                    default_value=0)
                self.column_items = tf.Variable(
                    pipeline.item_index(np.asarray(movies, np.int64)).astype(np.int64),
                    trainable=False, name="column_items")
            users = np.asarray(users, np.int64)
            movies = np.asarray(movies, np.int64)
            self.n_movies = len(movies)
            self.user_rows = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(users, i64), tf.constant(np.arange(1, len(users) + 1), i64)),
                default_value=0)
            self.movie_columns = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(movies, i64), tf.constant(np.arange(len(movies)), i64)),
                default_value=len(movies))
            fixed = dict(trainable=False)
            self.movie_ids = tf.Variable(movies, **fixed, name="movie_ids")
            self.n_ratings = tf.Variable(catalog.n_ratings, **fixed, name="n_ratings")
            self.popular_min = catalog.popular_min
            self.rating_range = tuple(float(v) for v in rating_range)
            self.terms = terms.serving_module() if terms is not None else None
            starts, offsets = utc_offsets(timezone)
            self.offset_starts = tf.Variable(starts, **fixed, name="offset_starts")
            self.offsets = tf.Variable(offsets, **fixed, name="offsets")
            self.daytime_hours = tuple(int(h) for h in daytime_hours)
            self.candidates = int(candidates)
            self.has_vectors = item_vectors is not None
            if self.has_vectors:
                self.item_vectors = tf.Variable(item_vectors.astype(np.float32), **fixed,
                                                name="item_vectors")

        # --- pieces ----------------------------------------------------------------

        def _context(self, daytime, weekend, timestamp):
            """(n, 2) flags: from the timestamp where known, else the given flags."""
            from_time = context_features_tf(timestamp, self.offset_starts, self.offsets,
                                            self.daytime_hours)
            given = tf.stack([daytime, weekend], 1)
            return tf.where(tf.expand_dims(timestamp >= 0, 1), from_time, given)

        def _shift(self, rows, daytime, weekend, timestamp):
            """The additive terms in score units, per row."""
            return self.terms(rows, self._context(daytime, weekend, timestamp), timestamp)

        # --- endpoints -------------------------------------------------------------

        def serve(self, user_id, movie_id, daytime, weekend, timestamp):
            rows, columns = self.user_rows.lookup(user_id), self.movie_columns.lookup(movie_id)
            stars = tf.gather_nd(self.stars, tf.stack([rows, columns], 1))
            if self.terms is not None:
                shift = self._shift(rows, daytime, weekend, timestamp)
                applies = ~global_mean_pairs_tf(rows, tf.gather(self.item_known, columns))
                stars += tf.where(applies, tf.gather(self.slope, columns) * shift, 0.0)
            return {"rating": tf.clip_by_value(stars, *self.rating_range)}

        def recommend(self, user_id, daytime, weekend, timestamp, k, exclude_seen):
            return self._recommend(self.user_rows.lookup(user_id), daytime, weekend,
                                   timestamp, k, exclude_seen)

        def recommend_user(self, user_id, k):
            # Recommender.recommend(user, k)'s defaults: flags 0, timestamp -1 ("time
            # unknown": no session, the flags are the context), seen movies left out.
            n = tf.shape(user_id)
            return self.recommend(user_id, tf.zeros(n, tf.float32), tf.zeros(n, tf.float32),
                                  tf.fill(n, tf.constant(-1, tf.int64)), k,
                                  tf.ones(n, tf.bool))

        def recommend_recent(self, user_id, recent_movie_ids, daytime, weekend, timestamp, k,
                             exclude_seen):
            rows = self.user_rows.lookup(user_id)
            real = recent_movie_ids >= 0
            items = tf.where(real, self.item_index.lookup(recent_movie_ids), 0)
            shift = tf.gather(self.recent(rows, items), self.column_items, axis=1)
            # The recent movies are left out of the list (as Recommender.recommend does).
            columns = tf.where(real, self.movie_columns.lookup(recent_movie_ids), self.n_movies)
            watched = tf.reduce_any(tf.equal(columns[:, :, None],
                                             tf.range(self.n_movies, dtype=tf.int64)[None, None]),
                                    axis=1)
            return self._recommend(rows, daytime, weekend, timestamp, k, exclude_seen,
                                   shift, watched)

        def _recommend(self, rows, daytime, weekend, timestamp, k, exclude_seen, shift=None,
                       watched=None):
            scores = tf.gather(self.stars, rows)[:, :self.n_movies]  # (batch, movies)
            if self.terms is not None:
                terms = self._shift(rows, daytime, weekend, timestamp)
                applies = ~global_mean_pairs_tf(rows[:, None], self.item_known[None, :self.n_movies])
                scores += tf.where(applies, self.slope[None, :self.n_movies] * terms[:, None], 0.0)
            known = rows[:, None] != 0
            allowed = tf.where(known, self.n_ratings[None, :] >= 1,
                               self.n_ratings[None, :] >= self.popular_min)
            allowed &= ~(tf.gather(self.seen, rows) & (exclude_seen & (rows != 0))[:, None])
            if shift is not None:
                # With recent movies every user is ranked by relevance (Recommender.recommend).
                allowed &= ~watched
                known = tf.ones_like(known)
                first = tf.gather(self.relevance, rows) + shift
            else:
                # Known users are ranked by relevance where the model has it (ScoreTable.top).
                first = (tf.where(known, tf.gather(self.relevance, rows), scores)
                         if self.has_relevance else scores)
            weight = tf.where(known, self.stars_weight, 0.0) if self.has_relevance else 0.0
            return self._ranked(first, allowed, k, weight,
                                lambda pool: tf.gather(scores, pool, batch_dims=1))

        def similar_items(self, movie_id, k):
            columns = self.movie_columns.lookup(movie_id)
            inside = columns < self.n_movies
            vectors = tf.gather(self.item_vectors, tf.minimum(columns, self.n_movies - 1))
            similarity = tf.matmul(vectors, self.item_vectors, transpose_b=True)
            popularity = tf.cast(self.n_ratings, tf.float32)[None, :]
            scores = tf.where(inside[:, None], similarity, popularity)
            itself = tf.one_hot(columns, self.n_movies, on_value=True, off_value=False)
            values = tf.where(inside[:, None], similarity, 0.0)
            return self._top(scores, ~itself, k, "similarity", None, values)

        def _ranked(self, first, allowed, k, weight, stars_of, first_weight: float = 1.0):
            """The two-stage lists (:func:`kerasrec.rerank.rerank_tf`), padded with -1
            past each row's ``k``; ``stars_of(columns)`` gives their stars."""
            width = tf.minimum(tf.reduce_max(tf.concat([k, [0]], 0)), self.n_movies)
            columns, valid, stars = rerank_tf(first, allowed, stars_of,
                                              tf.cast(width, tf.int32), first_weight, weight,
                                              self.candidates)
            valid &= tf.range(width)[None, :] < k[:, None]
            stars = tf.clip_by_value(stars, *self.rating_range)
            return {"movie_id": tf.where(valid, tf.gather(self.movie_ids, columns), -1),
                    "rating": tf.where(valid, stars, 0.0)}

        def _top(self, scores, allowed, k, name, transform, values=None):
            """Top ``max(k)`` allowed columns per row, padded with -1 past each row's k."""
            width = tf.minimum(tf.reduce_max(tf.concat([k, [0]], 0)), self.n_movies)
            masked = tf.where(allowed, scores, -np.inf)
            best, columns = tf.math.top_k(masked, tf.cast(width, tf.int32))
            columns = tf.cast(columns, tf.int64)
            valid = (tf.range(width)[None, :] < k[:, None]) & (best > -np.inf)
            picked = tf.gather(values, columns, batch_dims=1) if values is not None else best
            picked = transform(picked) if transform else picked
            return {"movie_id": tf.where(valid, tf.gather(self.movie_ids, columns), -1),
                    name: tf.where(valid, picked, 0.0)}

    return _ServingTables


@functools.lru_cache(maxsize=None)
def _retrieval_serving_class():
    import tensorflow as tf

    class _RetrievalServing(_serving_tables_class()):
        """The export without a users x movies table: the model's two stages in the
        graph (:meth:`RecModel.retrieval_module`), the seen movies as sparse rows."""

        def __init__(self, model, pipeline, catalog, timezone: str, daytime_hours,
                     recent=None, candidates: int = CANDIDATES, item_vectors=None,
                     cold=None) -> None:
            from kerasrec.scoring import additive_terms

            tf.Module.__init__(self, name="kerasrec_serving")
            terms = additive_terms(model)
            # The model's module scores known users with their own terms; these serve
            # only the cold-start row, so the training users' session keys are not
            # saved a second time.
            self._shared(pipeline.user_vocabulary_, catalog.movie_ids, catalog,
                         pipeline.config.rating_range,
                         terms.unknown_users() if terms is not None else None, timezone,
                         daytime_hours, recent, candidates, item_vectors)
            self.module = model.retrieval_module()
            self.stars_weight = float(self.module.stars_weight)
            movies = catalog.movie_ids
            outside = int(max(movies.max(initial=0), pipeline.item_vocabulary_.max(initial=0)) + 1)
            columns = np.append(movies, outside)  # the last: a movie outside the catalog
            fixed = dict(trainable=False)
            items = pipeline.item_index(columns).astype(np.int64)
            self.items = tf.Variable(items, **fixed, name="column_item_index")
            self.features = tf.Variable(pipeline.item_features(columns).astype(np.float32),
                                        **fixed, name="column_features")
            zero = pipeline.to_stars(np.zeros(len(columns)), columns)
            self.zero = tf.Variable(zero.astype(np.float32), **fixed, name="zero")
            self.slope = tf.Variable((pipeline.to_stars(np.ones(len(columns)), columns) - zero)
                                     .astype(np.float32), **fixed, name="slope")
            self.item_known = tf.Variable(items > 0, **fixed, name="item_known")
            self.global_mean = float(catalog.global_mean)
            seen = catalog.seen_matrix()
            self.seen_offsets = tf.Variable(seen.indptr.astype(np.int64), **fixed,
                                            name="seen_offsets")
            # One entry per training rating: int32 halves it (columns < 2^31).
            self.seen_columns = tf.Variable(seen.indices.astype(np.int32), **fixed,
                                            name="seen_columns")
            self.cold = tf.Variable(np.asarray(cold, np.float32), **fixed, name="cold_stars")

        def _pair_stars(self, rows, columns, context, timestamp):
            """Unclipped stars of each row's user for ``columns`` ``(n, C)``."""
            width = tf.shape(columns)[1]
            flat_rows = tf.repeat(rows, width)
            flat = tf.reshape(columns, [-1])
            score = self.module.score(flat_rows, tf.gather(self.items, flat),
                                      tf.gather(self.features, flat),
                                      tf.repeat(context, width, axis=0),
                                      tf.repeat(timestamp, width))
            stars = tf.gather(self.zero, flat) + tf.gather(self.slope, flat) * score
            stars = tf.where(global_mean_pairs_tf(flat_rows, tf.gather(self.item_known, flat)),
                             self.global_mean, stars)
            return tf.reshape(stars, tf.shape(columns))

        def serve(self, user_id, movie_id, daytime, weekend, timestamp):
            rows, columns = self.user_rows.lookup(user_id), self.movie_columns.lookup(movie_id)
            stars = self._pair_stars(rows, columns[:, None],
                                     self._context(daytime, weekend, timestamp), timestamp)
            return {"rating": tf.clip_by_value(stars[:, 0], *self.rating_range)}

        def _seen(self, rows):
            """``(batch, movies)`` booleans from the sparse seen rows."""
            ranges = tf.ragged.range(tf.gather(self.seen_offsets, rows),
                                     tf.gather(self.seen_offsets, rows + 1))
            where = tf.stack([ranges.value_rowids(),
                              tf.cast(tf.gather(self.seen_columns, ranges.flat_values),
                                      tf.int64)], 1)
            return tf.scatter_nd(where, tf.ones(tf.shape(where)[:1], tf.int32),
                                 tf.stack([tf.size(rows, out_type=tf.int64),
                                           tf.constant(self.n_movies, tf.int64)])) > 0

        def _recommend(self, rows, daytime, weekend, timestamp, k, exclude_seen, shift=None,
                       watched=None):
            context = self._context(daytime, weekend, timestamp)
            # Users unseen in training: the stars of user row 0 (one row for all).
            cold = tf.broadcast_to(self.cold[None, :], [tf.size(rows), self.n_movies])
            if self.terms is not None:
                terms = self.terms(rows, context, timestamp)
                cold += tf.where(self.item_known[None, :self.n_movies],
                                 self.slope[None, :self.n_movies] * terms[:, None], 0.0)
            known = rows[:, None] != 0
            allowed = tf.where(known, self.n_ratings[None, :] >= 1,
                               self.n_ratings[None, :] >= self.popular_min)
            allowed &= ~(self._seen(rows) & (exclude_seen & (rows != 0))[:, None])
            first = tf.gather(self.module(rows), self.items[:self.n_movies], axis=1)
            if shift is not None:
                allowed &= ~watched
                known = tf.ones_like(known)
                first += shift
            first = tf.where(known, first, cold)
            weight = row_stars_weights_tf(known, self.module.first_weight, self.stars_weight)
            return self._ranked(first, allowed, k, weight,
                                lambda pool: self._pair_stars(rows, pool, context, timestamp),
                                self.module.first_weight)

    return _RetrievalServing


def ServingTables(table, catalog, timezone: str = "UTC", daytime_hours=(6, 20), recent=None,
                  candidates: int = CANDIDATES):
    """The ``tf.Module`` behind the export: a score table, the catalog's candidates and
    cold-start rules, and the serving functions. ``recent``: ``(model.recent_module(),
    pipeline)`` for the ``recommend_recent`` signature, or None.

    Useful in-process too: ``ServingTables(rec.score_table(), rec.catalog_, "UTC")
    .serve(...)`` runs exactly what the SavedModel runs.
    """
    if table.stars.shape[1] != len(table.movie_ids) + 1:
        raise CapabilityError("the score table's columns do not match its movie ids")
    return _serving_tables_class()(table, catalog, timezone, daytime_hours, recent, candidates)
