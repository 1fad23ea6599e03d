"""Popularity: each movie's mean training rating, shrunk towards the global mean."""

import numpy as np

from kerasrec.models.base import RecModel, register


@register("popularity")
class Popularity(RecModel):
    """Each movie's mean rating with ``shrinkage`` pseudo-ratings at the global mean."""

    summary = "each movie's mean rating, shrunk towards the global mean"
    scores_cold_pairs = True  # an unseen movie (index 0) gets the global mean

    @classmethod
    def option_defaults(cls):
        return {"shrinkage": 10.0}

    @classmethod
    def option_names(cls):
        return tuple(cls.option_defaults())

    def fit(self, pipeline, ratings, products, train=None, seed=0):
        items = pipeline.item_index(ratings["movieId"].to_numpy())
        stars = ratings["rating"].to_numpy(float)
        k = float(self.options.get("shrinkage", 10.0))
        counts = np.bincount(items, minlength=pipeline.n_items) + k
        totals = np.bincount(items, stars, pipeline.n_items) + k * stars.mean()
        # Movies nobody rated get the global mean, also without shrinkage.
        self.means = np.divide(totals, counts, out=np.full(len(counts), stars.mean()),
                               where=counts > 0)
        return self

    def score(self, block):
        return self.means[block["item_id"]]

    def save_parts(self, folder):
        np.savez(folder / "popularity.npz", means=self.means)

    def load_parts(self, folder, pipeline):
        with np.load(folder / "popularity.npz") as stored:
            self.means = stored["means"]
