"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky, 2008) by the ``implicit``
library's alternating least squares: who watches what, as user and movie factors.

Like EASE it learns from *which* movies each user rated, weighting every rating by the
confidence ``1 + alpha``; lists rank by the factors' dot product. Its stars are the
shrunk baseline (mean + user and movie biases). ``implicit`` is an optional extra
(``pip install "kerasrec[implicit]"``); kerasrec does not write ALS itself.
"""

from __future__ import annotations

import numpy as np

from kerasrec.errors import ArtifactError, MissingDependencyError
from kerasrec.models.base import RecModel, register
from kerasrec.models.baselines import BaselineStars, rated_matrix


@register("implicit_als")
class ImplicitALS(BaselineStars, RecModel):
    """ALS over the binary users x movies matrix. Options: ``factors``,
    ``regularization``, ``iterations``, ``alpha`` (confidence of a rating)."""

    summary = ("implicit-feedback ALS (Hu et al., 2008) from the implicit library (extra "
               "kerasrec[implicit]); stars from the baseline")
    requires = ("implicit",)
    sizes = ("factors", "iterations")

    @classmethod
    def option_defaults(cls):
        return {"factors": 64, "regularization": 0.05, "iterations": 15, "alpha": 1.0}

    @classmethod
    def option_names(cls):
        return tuple(cls.option_defaults())

    def fit(self, pipeline, ratings, products, train=None, seed: int = 0) -> "ImplicitALS":
        try:
            from implicit.cpu.als import AlternatingLeastSquares
            from threadpoolctl import threadpool_limits
        except ImportError:
            raise MissingDependencyError(
                "model 'implicit_als' needs the implicit library: pip install "
                "\"kerasrec[implicit]\" (or pip install implicit)") from None
        options = {**self.option_defaults(), **self.options}
        users, items, shape = self.fit_baseline(pipeline, ratings)
        confidence = rated_matrix(users, items, shape, float(options["alpha"]))
        # implicit runs its own threads; BLAS threads on top of them only contend (it
        # checks, and warns, when the model is built).
        with threadpool_limits(1, "blas"):
            als = AlternatingLeastSquares(factors=int(options["factors"]),
                                          regularization=float(options["regularization"]),
                                          iterations=int(options["iterations"]),
                                          random_state=seed)
            als.fit(confidence, show_progress=False)
        self.user_factors = np.asarray(als.user_factors, np.float32)
        self.item_factors = np.asarray(als.item_factors, np.float32)
        self.user_factors[0] = self.item_factors[0] = 0.0  # index 0: unseen users, movies
        return self

    def relevance(self, block, stars=None) -> np.ndarray:
        return np.einsum("ij,ij->i", self.user_factors[block["user_id"]],
                         self.item_factors[block["item_id"]]).astype(np.float64)

    def item_vectors(self, block) -> np.ndarray:
        return self.item_factors[block["item_id"]]

    def save_parts(self, folder) -> None:
        np.savez(folder / "implicit_als.npz", user_factors=self.user_factors,
                 item_factors=self.item_factors, **self.baseline_arrays())

    def load_parts(self, folder, pipeline) -> None:
        with np.load(folder / "implicit_als.npz") as stored:
            self.user_factors, self.item_factors = stored["user_factors"], stored["item_factors"]
            self.load_baseline(stored)
        if (len(self.user_factors), len(self.item_factors)) != (pipeline.n_users,
                                                                 pipeline.n_items):
            raise ArtifactError(f"'{folder / 'implicit_als.npz'}' does not match the pipeline's "
                                "vocabularies (a file from another model?)")
