"""Every way a trained model leaves the process gives back the same predictions:
``Recommender.save``/``load``, the Keras ``.keras`` file and the SavedModel export.

On the bundled sample; with ``--runslow``, on the real MovieLens data (its fixed 80/20
split) when ``../shared`` is present (a minute more).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import training  # noqa: E402
from tests.conftest import REAL_XLSX, SPLITS  # noqa: E402

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def trained(request):
    """(Recommender, test ratings, data name): real data with --runslow if available, else
    the sample."""
    train_file = SPLITS / "movies_random80_train.csv"
    real = REAL_XLSX.is_file() and train_file.is_file()
    if real and request.config.getoption("--runslow"):
        data = kr.load_movies(REAL_XLSX)
        train = kr.load_ratings(train_file)
        test = kr.load_ratings(SPLITS / "movies_random80_test.csv")
        config = training.TrainConfig(epochs=2, batch_size=2048, learning_rate=3e-3, verbose=0)
        rec = kr.Recommender(train=config).fit(data.with_ratings(train))
        return rec, test, "real"
    split = request.getfixturevalue("sample_split")
    return request.getfixturevalue("hybrid"), split[1], "sample"


def test_recommender_save_load(trained, tmp_path):
    rec, test, _ = trained
    expected = rec.predict(test)
    rec.save(tmp_path / "model")
    loaded = kr.Recommender.load(tmp_path / "model")
    assert np.abs(loaded.predict(test) - expected).max() <= TOLERANCE
    user = int(test["userId"].iloc[0])
    assert loaded.recommend(user, k=10)["movieId"].tolist() == \
        rec.recommend(user, k=10)["movieId"].tolist()
    # Without the saved score table the reloaded model rebuilds it to the same numbers.
    (tmp_path / "model" / "scores.npz").unlink()
    rebuilt = kr.Recommender.load(tmp_path / "model")
    assert np.abs(rebuilt.predict(test) - expected).max() <= TOLERANCE


# Plain Keras brings the optimizer back without its slot variables (built on the next
# step) and warns so on every load; kerasrec.load_keras silences the same warning.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_keras_file(trained, tmp_path):
    import keras

    rec, test, _ = trained
    inputs = rec.pipeline_.transform(test)
    expected = training.predict(rec.model_.keras_model, inputs)
    rec.model_.keras_model.save(tmp_path / "hybrid.keras")
    loaded = keras.saving.load_model(tmp_path / "hybrid.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in rec.model_.keras_model.layers]
    got = training.predict(loaded, inputs)
    assert np.abs(got - expected).max() <= TOLERANCE


def test_saved_model(trained, tmp_path):
    import tensorflow as tf

    from kerasrec.export import export_saved_model

    rec, test, _ = trained
    path = export_saved_model(rec, tmp_path / "served")
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    n = len(test)
    got = served(user_id=tf.constant(test["userId"], tf.int64),
                 movie_id=tf.constant(test["movieId"], tf.int64),
                 timestamp=tf.constant(test["timestamp"], tf.int64),
                 daytime=tf.zeros(n), weekend=tf.zeros(n))["rating"].numpy()
    assert np.abs(got - rec.predict(test)).max() <= TOLERANCE


def _load_in_a_fresh_process(rec, test, folder):
    """Save ``rec`` to ``folder``, load it in a new Python process (which has imported
    nothing but kerasrec) and predict ``test`` there: (the loaded optimizer's class name,
    the largest gap to this process's predictions)."""
    import subprocess
    import sys

    rec.save(folder / "model")
    np.save(folder / "expected.npy", rec.predict(test))
    test.to_parquet(folder / "test.parquet")
    code = ("import sys, numpy as np, pandas as pd, kerasrec as kr\n"
            "rec = kr.Recommender.load(sys.argv[1] + '/model')\n"
            "print(type(rec.model_.keras_model.optimizer).__name__)\n"
            "got = rec.predict(pd.read_parquet(sys.argv[1] + '/test.parquet'))\n"
            "print(float(np.abs(got - np.load(sys.argv[1] + '/expected.npy')).max()))\n")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    name, gap = done.stdout.split()[-2:]
    return name, float(gap)


def test_lazy_adam_recommender_loads_in_a_fresh_process(sample_split, tmp_path):
    """A model trained with LazyAdam saves its optimizer; a new process must know the class."""
    train, test = sample_split
    config = training.TrainConfig(epochs=2, batch_size=512, optimizer="lazy_adam", verbose=0)
    rec = kr.Recommender("mf", train=config).fit(train)
    name, gap = _load_in_a_fresh_process(rec, test, tmp_path)
    assert name == "LazyAdam" and gap <= TOLERANCE


def test_hybrid_loads_in_a_fresh_process(trained, tmp_path):
    """The hybrid's own layers are registered by the model that needs them
    (``keras_modules``): a process that has built no hybrid still loads one."""
    rec, test, _ = trained
    _, gap = _load_in_a_fresh_process(rec, test, tmp_path)
    assert gap <= TOLERANCE
