"""Item-based AutoRec (Sedhain et al., 2015) with a loss on observed ratings only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from kerasrec.models.base import register
from kerasrec.models.keras_model import KERAS_FILE, KerasRatingModel, load_keras
from kerasrec.schema import RATING_RANGE

if TYPE_CHECKING:
    import keras


def build_autorec(n_users: int, *, hidden: int = 500, l2: float = 1e-2,
                  learning_rate: float = 3e-4, seed: Optional[int] = None,
                  name: str = "autorec") -> "keras.Model":
    """Build I-AutoRec: an item's rating vector over users -> sigmoid -> identity.

    Train it on :func:`rating_matrix` rows with the (registered) ``masked_squared_error``
    loss, which ignores unobserved entries, and read user ``u``'s predicted rating of
    item ``i`` from row ``i``, column ``u`` of the reconstruction. Because unobserved
    entries are ignored, a validation target that holds only held-out ratings (with the
    training matrix as input) scores exactly those: ``kerasrec.training.fit`` then
    stops early on them.

    Args:
        n_users: Length of an item's rating vector (user index range).
        hidden: Hidden units.
        l2: L2 on both weight matrices.
        learning_rate: Adam's learning rate.
        seed: Seeds weight initialisation, so the same seed builds the same model.
        name: Model name.

    Returns:
        A model compiled with Adam and ``masked_squared_error`` as loss and as metric
        (the loss adds the L2 penalties; stop on the metric with
        ``TrainConfig(monitor="masked_squared_error")``), input ``item_ratings``.
    """
    import keras
    from keras import layers

    from kerasrec.models.layers import masked_squared_error

    if seed is not None:
        keras.utils.set_random_seed(seed)
    ratings = keras.Input((n_users,), name="item_ratings")
    reg = keras.regularizers.L2(l2)
    h = layers.Dense(hidden, activation="sigmoid", kernel_regularizer=reg, name="encoder")(ratings)
    out = layers.Dense(n_users, kernel_regularizer=reg, name="decoder")(h)
    model = keras.Model({"item_ratings": ratings}, out, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=masked_squared_error,
                  metrics=[masked_squared_error])
    return model


def rating_matrix(user_index: np.ndarray, item_index: np.ndarray, targets: np.ndarray,
                  n_users: int, n_items: int) -> np.ndarray:
    """Dense (n_items, n_users) matrix of targets, 0 where unobserved.

    Targets must be non-zero where observed: use ratings in stars
    (``rating_scaling="none"``), whose minimum is 0.5.
    """
    if np.any(np.asarray(targets) == 0):
        raise ValueError("AutoRec marks unobserved entries with 0, so targets must be "
                         "non-zero; use ratings in stars (rating_scaling='none')")
    matrix = np.zeros((n_items, n_users), dtype=np.float32)
    matrix[item_index, user_index] = targets
    return matrix


def movielens_stars(stars, rating_range, inverse: bool = False) -> np.ndarray:
    """Ratings on ``rating_range`` mapped linearly onto MovieLens' 0.5-5 stars (or back,
    with ``inverse``); the identity on MovieLens' scale.

    AutoRec learns stars as they are, with 0 marking an unobserved entry, so it learns
    them on MovieLens' scale whatever the data's: its settings (``l2``, the learning
    rate) hold on every scale, and a scale that includes 0 stays apart from "unobserved".
    """
    low, high = rating_range
    unit = (RATING_RANGE[1] - RATING_RANGE[0]) / (high - low)
    stars = np.asarray(stars, np.float64)
    if inverse:
        return low + (stars - RATING_RANGE[0]) / unit
    return RATING_RANGE[0] + (stars - low) * unit


@register("autorec")
class AutoRec(KerasRatingModel):
    """Item-based AutoRec trained on ratings in stars (MovieLens' scale:
    :func:`movielens_stars`); stops early on held-out entries.

    Options: ``hidden``, ``l2``, ``learning_rate``.
    """

    summary = "item-based AutoRec (Sedhain et al., 2015), masked loss on observed ratings"
    train_defaults = {"epochs": 100, "batch_size": 128, "monitor": "masked_squared_error"}
    quick_options, quick_train = {"learning_rate": 3e-3}, {"epochs": 20}
    PAIRS_FILE = "autorec_ratings.npz"

    sizes = ("hidden",)

    @classmethod
    def option_names(cls):
        return ("hidden", "l2", "learning_rate")

    @classmethod
    def option_defaults(cls):
        import inspect

        parameters = inspect.signature(build_autorec).parameters
        return {name: parameters[name].default for name in cls.option_names()}

    def fit(self, pipeline, ratings, products, train=None, seed: int = 0) -> "AutoRec":
        from kerasrec import training

        # AutoRec marks unobserved entries with 0, so it learns ratings in stars.
        config = train or self.train_config(seed=seed)
        x = pipeline.transform(ratings, item_features=False)
        self.pairs = {"user_id": x["user_id"], "item_id": x["item_id"],
                      "rating": ratings["rating"].to_numpy(np.float32)}
        self.pipeline = pipeline
        shape = (pipeline.n_users, pipeline.n_items)
        # Validation hides a random share of the observed entries; the masked loss
        # scores a matrix holding only those on exactly them.
        fit_idx, val_idx = training.validation_cut(len(self.pairs["rating"]),
                                                   config.validation_fraction or 0.1, config.seed)
        fit_matrix, val_matrix = (self._matrix(idx) for idx in (fit_idx, val_idx))
        model = build_autorec(shape[0], seed=seed, **self.options)
        inputs = {"item_ratings": fit_matrix}
        history = training.fit(model, inputs, fit_matrix, validation=(inputs, val_matrix),
                               config=config)
        self.keras_model = model
        self.history = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        self._reconstruction = None
        return self

    def _matrix(self, rows=slice(None)) -> np.ndarray:
        p = self.pairs
        stars = movielens_stars(p["rating"][rows], self.pipeline.config.rating_range)
        return rating_matrix(p["user_id"][rows], p["item_id"][rows], stars,
                             self.pipeline.n_users, self.pipeline.n_items)

    def score(self, block) -> np.ndarray:
        """Read from the reconstruction of the training matrix (items x users, stars)."""
        if getattr(self, "_reconstruction", None) is None:
            self._reconstruction = np.asarray(self.keras_model.predict(
                {"item_ratings": self._matrix()}, batch_size=4096, verbose=0), np.float32)
        return movielens_stars(self._reconstruction[block["item_id"], block["user_id"]],
                               self.pipeline.config.rating_range, inverse=True)

    def save_parts(self, folder) -> None:
        self.keras_model.save(folder / KERAS_FILE)
        np.savez(folder / self.PAIRS_FILE, **self.pairs)

    def load_parts(self, folder, pipeline) -> None:
        self.keras_model, self.pipeline = load_keras(folder / KERAS_FILE), pipeline
        with np.load(folder / self.PAIRS_FILE) as pairs:
            self.pairs = {k: pairs[k] for k in ("user_id", "item_id", "rating")}
        self._reconstruction = None
