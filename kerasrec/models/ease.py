"""EASE^R (Steck, 2019): a closed-form item-item model of who watches what.

It learns from *which* movies each user rated, not the stars: the weights ``B`` solve
``min ||X - X B||^2 + lambda ||B||^2`` with ``diag(B) = 0`` over the binary users x
movies matrix ``X``, in closed form ``B = I - P / diag(P)`` with
``P = (X^T X + lambda I)^-1``. A user's relevance for a movie is ``X_u . B[:, i]``;
lists rank by it. Its star predictions are the shrunk baseline (mean + user and movie
biases): EASE says what a user will watch, not how they will rate it.

The Gram matrix is movies x movies, so memory and time grow with the square and cube
of the catalog: ``max_items`` (20,000 by default, about 3 GB while fitting) stops
larger catalogs with a clear error.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kerasrec.errors import ArgumentError, check_fraction, is_number
from kerasrec.models.base import RecModel, register
from kerasrec.models.baselines import BaselineStars, rated_matrix

#: Regularisation strengths tried on a validation cut when ``l2`` is not given.
L2_GRID = (100.0, 200.0, 400.0, 800.0, 1600.0)


def ease_weights(rated: sp.csr_matrix, l2: float) -> np.ndarray:
    """The EASE item-item weights ``B`` (float32, zero diagonal) of a binary matrix.

    The inverse is taken in float32 (LAPACK's ``sgetri`` through SciPy): about twice as
    fast as float64 and, with ``l2`` of 100 or more on the diagonal, accurate to about
    1e-5 of the weights' scale, far below what changes a ranking.
    """
    import scipy.linalg

    gram = (rated.T @ rated).toarray().astype(np.float32)
    gram[np.diag_indices_from(gram)] += np.float32(l2)
    inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    weights = inverse / (-np.diag(inverse))
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32, copy=False)


def strongest(weights: np.ndarray, budget: int) -> sp.csr_matrix:
    """The ``budget`` weights largest in magnitude (negative ones matter too), as a CSR
    matrix of the same shape.

    One threshold over the whole matrix rather than a top-k per row: the rows of
    popular movies, which sit in many users' histories, keep more of their weights.
    On MovieLens latest-small, 400 weights per movie kept this way lose 0.6% of EASE's
    recall@10 on the random split and 0.3% on the temporal one; 400 per row lose 3.2%
    and 3.6% (``python benchmarks/co_watch.py``).
    """
    # A threshold found by an in-place partition of one copy, then a mask: no index
    # array the size of the matrix (8 bytes a weight) is ever made.
    threshold = 0.0
    if budget < weights.size:
        flat = np.abs(weights).ravel()
        flat.partition(weights.size - budget)
        threshold = flat[weights.size - budget]
        del flat
    rows, columns = np.nonzero((np.abs(weights) >= threshold) & (weights != 0))
    rows, columns = rows[:budget], columns[:budget]  # ties at the threshold
    return sp.csr_matrix((weights[rows, columns], (rows, columns)), shape=weights.shape)


def recall_at(scores: np.ndarray, held: sp.csr_matrix, k: int = 10) -> float:
    """Mean recall@k of held-out movies (``min(|held|, k)`` in the denominator) over the
    users who have any."""
    users = np.flatnonzero(np.diff(held.indptr))
    k = min(k, scores.shape[1] - 1)
    if not len(users) or k < 1:
        return 0.0
    top = np.argpartition(-scores[users], k - 1, axis=1)[:, :k]
    hits = np.asarray(held[users][np.arange(len(users))[:, None], top].sum(axis=1)).ravel()
    return float(np.mean(hits / np.minimum(np.diff(held.indptr)[users], k)))


@register("ease")
class EASE(BaselineStars, RecModel):
    """EASE^R. Options: ``l2`` (None: chosen from ``L2_GRID`` on a validation cut of the
    training ratings), ``max_items``, ``validation_fraction``."""

    summary = "EASE^R (Steck, 2019): closed-form item-item model of who watches what; stars from the baseline"

    sizes = ("max_items",)

    @classmethod
    def option_names(cls):
        return ("l2", "max_items", "validation_fraction")

    def __init__(self, **options) -> None:
        super().__init__(**options)
        l2 = self.options.get("l2")
        if l2 is not None and not (is_number(l2) and l2 > 0):
            raise ArgumentError(f"ease option l2 must be a positive number, or None to choose "
                                f"it on a validation cut, got {l2!r}")
        check_fraction(self.options.get("validation_fraction", 0.1), "validation_fraction")

    @classmethod
    def option_defaults(cls):
        # l2 None: chosen on a validation cut
        return {"l2": None, "max_items": 20_000, "validation_fraction": 0.1}

    def fit(self, pipeline, ratings, products, train=None, seed: int = 0) -> "EASE":
        max_items = int(self.options.get("max_items", self.option_defaults()["max_items"]))
        if pipeline.n_items - 1 > max_items:
            raise ArgumentError(
                f"EASE needs a movies x movies matrix: {pipeline.n_items - 1:,} rated movies "
                f"exceed max_items={max_items:,} (about {8 * (pipeline.n_items - 1) ** 2 / 1e9:.0f}"
                " GB per copy); use another model, or raise max_items if memory allows")
        users, items, shape = self.fit_baseline(pipeline, ratings)
        l2 = self.options.get("l2")
        self.validation = {}
        if l2 is None:
            l2 = self._choose_l2(users, items, shape, seed)
        rated = rated_matrix(users, items, shape)
        self.l2 = float(l2)
        # Relevance of every training user for every movie: the model, for serving.
        self.scores = np.asarray(rated @ ease_weights(rated, self.l2), np.float32)
        self.chosen = {"l2": self.l2, "val_recall@10_by_l2": {f"{k:g}": v for k, v in
                                                               self.validation.items()}}
        return self

    def _choose_l2(self, users, items, shape, seed: int) -> float:
        """The ``L2_GRID`` value with the best recall@10 on a random cut of the ratings."""
        fraction = float(self.options.get("validation_fraction",
                                          self.option_defaults()["validation_fraction"]))
        held = np.random.default_rng(seed).random(len(users)) < fraction
        fit = rated_matrix(users[~held], items[~held], shape)
        valid = rated_matrix(users[held], items[held], shape)
        for l2 in L2_GRID:
            scores = np.asarray(fit @ ease_weights(fit, l2))
            scores[fit.nonzero()] = -np.inf  # seen movies are never recommended
            self.validation[l2] = recall_at(scores, valid)
        return max(self.validation, key=self.validation.get)

    def relevance(self, block, stars=None) -> np.ndarray:
        return self.scores[block["user_id"], block["item_id"]].astype(np.float64)

    def save_parts(self, folder) -> None:
        np.savez(folder / "ease.npz", scores=self.scores, l2=self.l2, **self.baseline_arrays())

    def load_parts(self, folder, pipeline) -> None:
        with np.load(folder / "ease.npz") as stored:
            self.scores, self.l2 = stored["scores"], float(stored["l2"])
            self.load_baseline(stored)
        if self.scores.shape != (pipeline.n_users, pipeline.n_items):
            from kerasrec.errors import ArtifactError

            raise ArtifactError(f"'{folder / 'ease.npz'}' does not match the pipeline's "
                                "vocabularies (a file from another model?)")

