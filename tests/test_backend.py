"""Keras runs on TensorFlow under kerasrec, or kerasrec says why it cannot
(kerasrec/_backend.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from kerasrec import _backend
from kerasrec.errors import BackendError


def _run(args, tmp_path, **env):
    """``python *args`` with ``tmp_path`` as Keras' home (where ``keras.json`` is read)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    environ.update(KERAS_HOME=str(tmp_path), **env)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=300, env=environ, cwd=tmp_path)


def test_a_keras_json_naming_another_backend_does_not_reach_kerasrec(tmp_path):
    # Left by other Keras work; JAX is not even installed here, so Keras alone would fail
    # to import.
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    code = ("import kerasrec as kr, keras, numpy as np\n"
            "data = kr.make_sample(n_users=30, n_movies=40, n_ratings=500, seed=0)\n"
            "rec = kr.Recommender(model='mf', train=kr.TrainConfig(epochs=1)).fit(data)\n"
            "print(keras.backend.backend(), len(rec.recommend(1, k=3)))\n")
    done = _run(["-c", code], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1].split() == ["tensorflow", "3"]


@pytest.mark.parametrize("args", [["-c", "import kerasrec"], ["-m", "kerasrec", "--help"]])
def test_a_backend_asked_for_by_name_is_refused_with_the_fix(tmp_path, args):
    done = _run(args, tmp_path, KERAS_BACKEND="jax")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("kerasrec.errors.BackendError: ")
    assert "KERAS_BACKEND asks for 'jax'" in last and "KERAS_BACKEND=tensorflow" in last


def test_keras_imported_on_another_backend_is_refused():
    jax_keras = SimpleNamespace(backend=SimpleNamespace(backend=lambda: "jax"))
    environ = {}
    with pytest.raises(BackendError, match="already imported with the 'jax' backend"):
        _backend.use_tensorflow(environ, {"keras": jax_keras})
    assert environ == {}


@pytest.mark.parametrize("asked", [None, "", "tensorflow"])
def test_tensorflow_is_chosen_before_keras_is_imported(asked):
    environ = {} if asked is None else {"KERAS_BACKEND": asked}
    _backend.use_tensorflow(environ, {})
    assert environ == {"KERAS_BACKEND": "tensorflow"}


def test_keras_already_on_tensorflow_is_left_as_it_is():
    tf_keras = SimpleNamespace(backend=SimpleNamespace(backend=lambda: "tensorflow"))
    environ = {"KERAS_BACKEND": "jax"}  # read by Keras before it was changed: not in force
    _backend.use_tensorflow(environ, {"keras": tf_keras})
    assert environ == {"KERAS_BACKEND": "jax"}
