"""How much each part of what the hybrid's lists rank by weighs: the predicted stars,
the sequence branch and the co-watch part, chosen after training by the recall@10 of
the lists on the validation cut (:func:`choose_list_weights`)."""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
import pandas as pd

from kerasrec.models.hybrid.recent import input_times
from kerasrec.schema import RATING_RANGE

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


def star_unit(rating_range: Tuple[float, float]) -> float:
    """A MovieLens star in stars of ``rating_range``, by the scales' spans (1.0 on
    MovieLens' 0.5-5, 0.5 on 1-10): star weights chosen on a grid (:data:`BLENDS`) are
    scaled by it, so the same ratings on another scale give the same lists."""
    low, high = rating_range
    return (RATING_RANGE[1] - RATING_RANGE[0]) / (high - low)


def pairs_block(model, users: np.ndarray, items: np.ndarray) -> dict:
    """The (user, item) index pairs as ``model``'s inputs at the reference context (no
    timestamp, every context flag 0), for its ``score``."""
    items = np.asarray(items, np.int32)
    movies = np.append(-1, model.pipeline.item_vocabulary_)[items]
    block = {"user_id": np.asarray(users, np.int32), "item_id": items,
             "movie_id": movies, "context": np.zeros((len(items), 2), np.uint8),
             "timestamp": np.full(len(items), -1, np.int64)}
    if model.needs_item_features:
        block["item_features"] = model.pipeline.item_feature_table()[items]
    return block


def choose_list_weights(model, x, train, max_users: int = 1000
                        ) -> Dict[Tuple[float, float, float, float, float], float]:
    """Recall@10 of the lists on the validation cut ``training.fit`` held out
    (``train.validation_cut``), for the weights of what lists rank by, chosen in
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

    Args:
        model: The fitted :class:`~kerasrec.models.hybrid.Hybrid`, its list weights
            not yet chosen.
        x: The training inputs by name (the rows the fit saw, held-out ones included).
        train: The :class:`~kerasrec.training.TrainConfig` of the fit (its validation
            cut).
        max_users: Most validation users whose lists are scored.

    Returns:
        ``{(blend, recent_weight, co_watch_weight, half_life, after_weight):
        recall}``.
    """
    from kerasrec import training
    from kerasrec.models.hybrid.co_watch import HALF_LIVES

    fit_idx, val_idx = training.validation_rows(x, train.validation_fraction or 0.1,
                                                train.seed, train.validation_cut)
    held = pd.DataFrame({"u": x["user_id"][val_idx], "i": x["item_id"][val_idx]})
    held = held[(held["i"] > 0) & np.isin(held["u"], x["user_id"][fit_idx])]
    users = np.unique(held["u"])
    n_items, k = model.pipeline.n_items, min(10, model.pipeline.n_items - 1)
    max_users = min(max_users, max(100, 2 ** 24 // n_items))  # bounded memory
    users = np.random.default_rng(train.seed).permutation(users)[:max_users]
    weights = RECENT_WEIGHTS if model.backbone.history_attention is not None else (0.0,)
    half_lives = (() if model.backbone.co_watch is None
                  else HALF_LIVES if model.config.co_watch_recency else (0.0,))
    if not len(users) or k < 1:
        return {(0.0, 1.0, 0.0, 0.0, 0.0): 0.0}
    history, recent, co_watch = fit_part_queries(model.backbone, model.config, users, x,
                                                 fit_idx, half_lives)
    scores = model.backbone.catalog_scores
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
    half_life, after, co = choose_co_watch(co_watch, half_lives, chunks, recall)
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
    blends = [w * star_unit(model.pipeline.config.rating_range) for w in BLENDS[1:]]
    for w in blends:
        recalls[(w, g, c, h, a)] = []
    for chunk, (base, sequence), co_chunk in zip(chunks, parts, co):
        ranking = np.where(seen[chunk], -np.inf, base + g * sequence + c * co_chunk)
        top = np.argpartition(-ranking, min(CANDIDATES, n_items) - 1,
                              axis=1)[:, :CANDIDATES]
        block = pairs_block(model, np.repeat(users[chunk], top.shape[1]), top.ravel())
        stars = model.score(block).reshape(top.shape).astype(np.float32)
        for w in blends:
            reranked = np.full_like(ranking, -np.inf)
            np.put_along_axis(reranked, top, np.take_along_axis(ranking, top, axis=1)
                              + w * stars, axis=1)
            recalls[(w, g, c, h, a)].append(recall(reranked, chunk))
    return {key: float(np.mean(np.concatenate(r))) for key, r in recalls.items()}



def fit_part_queries(backbone, config, users: np.ndarray, x, fit_idx: np.ndarray,
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

    b = backbone
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
    c = config
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



def choose_co_watch(co_watch, half_lives, chunks, recall):
    """Step 1 of :func:`choose_list_weights`: the co-watch half-life and weight of
    the "after" weights whose lists alone recall most on validation.

    Args:
        co_watch: ``(half_life, chunk) -> (together, after)`` scores (``after`` None
            without them), from :func:`fit_part_queries`.
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
