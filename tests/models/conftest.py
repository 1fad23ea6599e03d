from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402

#: The registered models trained with Keras (what the guide's model table says "yes" of).
KERAS_MODELS = [name for name in kr.models.model_names()
                if kr.models.model_class(name).train_defaults is not None]


@pytest.fixture(scope="session")
def prepared(sample):
    """The sample split 80/20 with a fitted pipeline and transformed inputs."""
    train, test = kr.random_split(sample.ratings, 0.2, seed=0)
    pipeline = kr.FeaturePipeline().fit(sample.with_ratings(train))
    return dict(data=sample, train=train, test=test, pipeline=pipeline,
                x=pipeline.transform(train), t=pipeline.transform(test))
