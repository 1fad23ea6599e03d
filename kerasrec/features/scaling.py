"""Reversible rating scaling: models see [0, 1]-ish targets, users see stars."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np
import pandas as pd

from kerasrec.errors import PipelineError

SCALINGS = ("minmax", "standard", "none", "article")


@dataclass
class RatingScaler:
    """Maps ratings in stars to model targets and back, exactly.

    Args:
        method: ``"minmax"`` (default): ``(r - low) / (high - low)`` over the declared
            rating range, so the mapping does not depend on the data; ``"standard"``:
            ``(r - mean) / std`` of the training ratings; ``"none"``: stars as they are;
            ``"article"``: each movie min-max scaled over its own ratings, as in the
            article this package grew from. It is kept only to reproduce that article:
            a movie whose ratings are all equal maps to 0.5 whatever its stars, and
            its predictions cannot be mapped back to stars faithfully.
        rating_range: Inclusive range of valid ratings, in stars.
    """

    method: str = "minmax"
    rating_range: Tuple[float, float] = (0.5, 5.0)
    mean_: Optional[float] = None
    std_: Optional[float] = None
    per_item_: Optional[Dict[str, list]] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.method not in SCALINGS:
            raise PipelineError(f"rating scaling must be one of {SCALINGS}, got {self.method!r}")
        self.rating_range = tuple(float(v) for v in self.rating_range)

    def fit(self, ratings: pd.DataFrame) -> "RatingScaler":
        """Learn the statistics the method needs from training ratings."""
        r = ratings["rating"].to_numpy(dtype=np.float64)
        self.mean_, self.std_ = float(r.mean()), float(r.std() or 1.0)
        if self.method == "article":
            stats = ratings.groupby("movieId")["rating"].agg(["min", "max"])
            self.per_item_ = {"movieId": stats.index.tolist(), "min": stats["min"].tolist(),
                              "max": stats["max"].tolist()}
        return self

    def _item_bounds(self, movie_ids) -> Tuple[np.ndarray, np.ndarray]:
        if movie_ids is None:
            raise PipelineError("article scaling needs the movieIds of the ratings")
        index = pd.Index(self.per_item_["movieId"]).get_indexer(np.asarray(movie_ids))
        lo = np.append(np.asarray(self.per_item_["min"]), self.rating_range[0])[index]
        hi = np.append(np.asarray(self.per_item_["max"]), self.rating_range[1])[index]
        return lo, hi

    def transform(self, stars: np.ndarray, movie_ids=None) -> np.ndarray:
        """Stars -> model targets (float32)."""
        stars = np.asarray(stars, dtype=np.float64)
        if self.method == "minmax":
            lo, hi = self.rating_range
            return ((stars - lo) / (hi - lo)).astype(np.float32)
        if self.method == "standard":
            return ((stars - self.mean_) / self.std_).astype(np.float32)
        if self.method == "article":
            lo, hi = self._item_bounds(movie_ids)
            span = hi - lo
            safe = np.where(span > 0, span, 1.0)
            return np.where(span > 0, (stars - lo) / safe, 0.5).astype(np.float32)
        return stars.astype(np.float32)

    def inverse_transform(self, scaled: np.ndarray, movie_ids=None) -> np.ndarray:
        """Model outputs -> stars (float32)."""
        scaled = np.asarray(scaled, dtype=np.float64)
        if self.method == "minmax":
            lo, hi = self.rating_range
            return (scaled * (hi - lo) + lo).astype(np.float32)
        if self.method == "standard":
            return (scaled * self.std_ + self.mean_).astype(np.float32)
        if self.method == "article":
            lo, hi = self._item_bounds(movie_ids)
            return (lo + scaled * (hi - lo)).astype(np.float32)
        return scaled.astype(np.float32)

    def get_config(self) -> dict:
        config = asdict(self)
        config["rating_range"] = list(self.rating_range)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "RatingScaler":
        return cls(**config)
