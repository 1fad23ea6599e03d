"""Item-based AutoRec (Sedhain et al., 2015) with a loss on observed ratings only."""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
from keras import layers

from kerasrec.models.layers import masked_squared_error


def build_autorec(n_users: int, *, hidden: int = 500, l2: float = 1e-2,
                  learning_rate: float = 3e-4, seed: Optional[int] = None,
                  name: str = "autorec") -> keras.Model:
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
    if seed is not None:
        keras.utils.set_random_seed(seed)
    ratings = keras.Input((n_users,), name="item_ratings")
    reg = keras.regularizers.L2(l2)
    h = layers.Dense(hidden, activation="sigmoid", kernel_regularizer=reg, name="encoder")(ratings)
    out = layers.Dense(n_users, kernel_regularizer=reg, name="decoder")(h)
    model = keras.Model(ratings, out, name=name)
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
