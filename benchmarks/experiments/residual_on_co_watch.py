"""Experiment (not built in): a sequence branch trained on top of the co-watch scores.

Usage:
    python benchmarks/experiments/residual_on_co_watch.py [--mode plain|boost|target]
                                                         [--seed 0] [--epochs 4]

The hybrid's sequence branch adds 3-5% to its temporal lists, because the co-watch part
(EASE^R's and the "after" weights, read with recency) already knows most of what comes
next (docs/benchmarks.md, "Why the branch adds 3-5%"). This asks whether a branch that
*learns what co-watch misses* adds more: a small Transformer over each rating's last 20
training ratings before it (movie + position embeddings, ``MultiHeadAttention``,
``LayerNormalization``, mean-pooled), scored against every movie with a softmax whose
logits are, in ``boost`` mode, the branch's scores plus a learned multiple of the
co-watch scores of the same window (held fixed: gradient boosting on co-watch), and in
``plain`` mode the branch's alone. ``target`` boosts as ``boost`` does, but with target
attention (DIN, Zhou et al. 2018) in place of the pooling: each candidate movie weighs
the window's positions by its own query against their keys, ``sum_l a(i, l) v_l . t_i``,
so a movie can answer to one recent movie rather than to their mean. Uses only
../shared/data/splits/movies_temporal80_train.csv: each user's latest 10% is held out
(as ``hybrid_ablation.py --split temporal`` does); co-watch weights are fitted on the
rest with the settings the hybrid chose there (half-life 5 ratings, after weight 0.71).
After each epoch it prints the held-out watched recall@10 of co-watch alone and of
co-watch + lam x the branch (both divided by their spread), lam 0.1-2, and a JSON
object of every figure last.

Result (2026-11-23, seed 0; lam and epoch read off the same held-out ratings, so
optimistic): co-watch alone 0.1764; ``plain``, best over lam, 0.1767 / 0.1776 / 0.1787
/ 0.1804 after epochs 1-4; ``boost`` 0.1847 / 0.1867 / 0.1903 / 0.1879 (lam 1 each
time): 5-8% over co-watch alone, against the 4% the built-in branch adds to the
hybrid's lists on the same cut (0.1776 -> 0.1854 with the pooled history and the
stars); not the 10% issue 16 asks for, so not built in. Boosting on co-watch is what a
next attempt at the branch would build on.

``target`` (2026-11-24, seed 0, same cut): 0.1834 / 0.1856 / 0.1848 / 0.1869 after
epochs 1-4 (lam 1 each time), against the pooled branch's 0.1847 / 0.1867 / 0.1903 /
0.1879, at 5.4 times the time (``--epochs 1``: 168 s against 31 s for the whole run):
letting each candidate attend to the recent movie it follows does not add what
co-watch misses either.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SPLITS, emit, missing_real_data  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import metrics  # noqa: E402
from kerasrec.models.hybrid.co_watch import (co_watch_scores, fit_co_watch,  # noqa: E402
                                             recency_weights)
from kerasrec.models.hybrid.recent import recent_arrays, sorted_history  # noqa: E402

LENGTH, HALF_LIFE, DIM, AFTER_WEIGHT = 20, 5.0, 64, 0.7116548672810628
KEY_DIM = 16


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("plain", "boost", "target"), default="boost")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    if missing_real_data():
        return 2
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    train = kr.load_ratings(SPLITS / "movies_temporal80_train.csv")
    fit, val = kr.temporal_split(train, 0.1)
    movie_ids, user_ids = np.unique(train["movieId"]), np.unique(train["userId"])
    n_items = len(movie_ids) + 1  # 0 pads
    users = np.searchsorted(user_ids, fit["userId"].to_numpy())
    items = np.searchsorted(movie_ids, fit["movieId"].to_numpy()) + 1
    times = fit["timestamp"].to_numpy(np.int64)
    weights = fit_co_watch(users, items, n_items, 200.0, 400 * n_items, 10_000,
                           min_ratings=3, timestamps=times, window=10,
                           after_weight=AFTER_WEIGHT)
    offsets, columns, strengths = weights
    ease = sp.csr_matrix((strengths[:int(offsets[-1])], columns[:int(offsets[-1])], offsets),
                         shape=(n_items, n_items))
    keys, stored, _ = sorted_history(users, items, times, np.zeros(len(users)))
    zeros = np.zeros(len(keys), np.float32)
    window, _, valid = recent_arrays(keys, stored, zeros, users, times, LENGTH)
    ages = np.broadcast_to(LENGTH - 1 - np.arange(LENGTH), window.shape)
    decay = np.where(valid, recency_weights(ages, HALF_LIFE), 0.0).astype(np.float32)

    def window_co_watch(rows: np.ndarray) -> np.ndarray:
        n = len(rows)
        rated = sp.csr_matrix((decay[rows].ravel(), (np.repeat(np.arange(n), LENGTH),
                                                     window[rows].ravel())),
                              shape=(n, n_items))
        return np.asarray((rated @ ease).toarray(), np.float32)

    spread = float(window_co_watch(np.arange(2000)).std())

    class Batches(keras.utils.PyDataset):
        def __init__(self, size=512):
            super().__init__()
            self.size, self.order = size, np.random.default_rng(args.seed).permutation(len(users))

        def __len__(self):
            return -(-len(self.order) // self.size)

        def __getitem__(self, k):
            rows = self.order[k * self.size:(k + 1) * self.size]
            x = {"items": window[rows], "valid": valid[rows]}
            if args.mode in ("boost", "target"):
                x["co_watch"] = window_co_watch(rows)
            return x, items[rows]

    class Branch(keras.Model):
        def __init__(self):
            super().__init__()
            self.movies = keras.layers.Embedding(n_items, DIM)
            self.positions = keras.layers.Embedding(LENGTH, DIM)
            self.attention = keras.layers.MultiHeadAttention(2, DIM // 2)
            self.norm = keras.layers.LayerNormalization()
            self.project = keras.layers.Dense(DIM)
            self.targets = keras.layers.Embedding(n_items, DIM)
            self.bias = keras.layers.Embedding(n_items, 1)
            self.scale = self.add_weight(shape=(), name="co_watch_scale",
                                         initializer=keras.initializers.Constant(1 / spread))

            if args.mode == "target":
                self.keys = keras.layers.Dense(KEY_DIM, use_bias=False)
                self.values = keras.layers.Dense(DIM, use_bias=False)
                self.item_queries = keras.layers.Embedding(n_items, KEY_DIM)

        def encode(self, x):
            real = tf.cast(x["valid"], tf.bool)
            h = self.movies(x["items"]) + self.positions(tf.range(LENGTH))[None]
            mask = tf.logical_and(real[:, :, None], real[:, None, :])
            return real, self.norm(h + self.attention(h, h, attention_mask=mask))

        def target_scores(self, x):
            """Target attention: each candidate movie weighs the window's positions by
            how well its own query meets their keys (softmax over the real ones), and
            scores the weighted values: sum_l a(i, l) v_l . t_i."""
            real, h = self.encode(x)
            every = tf.range(n_items)
            logits = tf.einsum("bld,nd->bnl", self.keys(h), self.item_queries(every))
            logits = logits / np.sqrt(KEY_DIM) + tf.where(real, 0.0, -1e9)[:, None, :]
            share = tf.nn.softmax(logits, axis=-1) * tf.cast(real, h.dtype)[:, None, :]
            values = tf.einsum("bld,nd->bnl", self.values(h), self.targets(every))
            return tf.reduce_sum(share * values, -1) + tf.transpose(self.bias(every))

        def query(self, x):
            real, h = self.encode(x)
            share = tf.cast(real, h.dtype)[:, :, None]
            return self.project(tf.reduce_sum(h * share, 1)
                                / tf.maximum(tf.reduce_sum(share, 1), 1.0))

        def scores(self, query):
            every = tf.range(n_items)
            return (tf.matmul(query, self.targets(every), transpose_b=True)
                    + tf.transpose(self.bias(every)))

        def call(self, x):
            logits = (self.target_scores(x) if args.mode == "target"
                      else self.scores(self.query(x)))
            return logits + self.scale * x["co_watch"] if "co_watch" in x else logits

    model = Branch()
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    # The held-out users now: the window after their last training rating, co-watch over
    # their whole history (as lists are ranked), movies rated in training left out.
    held = np.intersect1d(val["userId"].unique(), fit["userId"].unique())
    rows = np.searchsorted(user_ids, held)
    now_items, _, now_valid = recent_arrays(keys, stored, zeros, rows,
                                            np.full(len(rows), -1), LENGTH)
    mine = fit.assign(u=users, i=items).sort_values(["u", "timestamp"], kind="stable")
    mine = mine[mine["u"].isin(rows)]
    owner = np.searchsorted(rows, mine["u"].to_numpy())
    counts = np.bincount(owner, minlength=len(rows))
    history_ages = np.repeat(np.cumsum(counts), counts) - 1 - np.arange(len(owner))
    co_watch = co_watch_scores(owner, mine["i"].to_numpy(), history_ages, weights, HALF_LIFE,
                               len(rows))
    seen = np.zeros((len(rows), n_items), bool)
    seen[owner, mine["i"].to_numpy()] = True
    seen[:, 0] = True
    movies = np.append(-1, movie_ids)

    def recall(scores: np.ndarray) -> float:
        top = np.argpartition(-np.where(seen, -np.inf, scores), 10, axis=1)[:, :10]
        lists = pd.DataFrame({"userId": np.repeat(held, 10),
                              "rank": np.tile(np.arange(1, 11), len(held)),
                              "movieId": movies[top].ravel()})
        return round(metrics.topn_score(lists, val, fit, ks=(10,))["watched_recall@10"], 4)

    result = {"mode": args.mode, "seed": args.seed, "co_watch_alone": recall(co_watch),
              "epochs": []}
    print(f"co-watch alone: watched recall@10 {result['co_watch_alone']:.4f}", flush=True)
    for epoch in range(args.epochs):
        model.fit(Batches(), epochs=1, verbose=0)
        if args.mode == "target":
            branch = np.concatenate([np.asarray(model.target_scores(
                {"items": now_items[i:i + 64], "valid": now_valid[i:i + 64]}))
                for i in range(0, len(rows), 64)])
        else:
            query = np.concatenate([np.asarray(model.query({"items": now_items[i:i + 1024],
                                                            "valid": now_valid[i:i + 1024]}))
                                    for i in range(0, len(rows), 1024)])
            branch = np.asarray(model.scores(query))
        unseen = ~seen
        both = {lam: recall(co_watch / co_watch[unseen].std()
                            + lam * branch / branch[unseen].std())
                for lam in (0.1, 0.25, 0.5, 1.0, 2.0)}
        line = {"branch_alone": recall(branch), "co_watch_plus_lam_branch": both}
        result["epochs"].append(line)
        print(f"epoch {epoch + 1}: branch alone {line['branch_alone']:.4f}, with co-watch "
              + ", ".join(f"lam {k:g} {v:.4f}" for k, v in both.items()), flush=True)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
