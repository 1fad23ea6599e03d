from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import kerasrec as kr  # noqa: E402

#: The registered models trained with Keras (what the guide's model table says "yes" of).
KERAS_MODELS = [name for name in kr.models.model_names()
                if kr.models.model_class(name).train_defaults is not None]


def layer_model(layer, *arrays):
    """``layer`` called on Keras inputs shaped like ``arrays`` (one scalar a row each):
    the model, and a function that runs it on NumPy arrays."""
    import keras
    import numpy as np

    tensors = [keras.Input((), dtype=str(a.dtype)) for a in arrays]
    out = layer(tensors if len(tensors) > 1 else tensors[0])
    model = keras.Model(tensors if len(tensors) > 1 else tensors[0], out)
    return model, lambda *xs: np.asarray(model(list(xs) if len(xs) > 1 else xs[0]))
