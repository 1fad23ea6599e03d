from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import kerasrec as kr  # noqa: E402

#: The registered models trained with Keras (what the guide's model table says "yes" of).
KERAS_MODELS = [name for name in kr.models.model_names()
                if kr.models.model_class(name).train_defaults is not None]
