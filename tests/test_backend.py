"""Keras runs on TensorFlow under kerasrec, or kerasrec says why it cannot
(kerasrec/_backend.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
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


def test_a_backend_asked_for_by_name_is_refused_with_the_fix(tmp_path):
    done = _run(["-c", "import kerasrec"], tmp_path, KERAS_BACKEND="jax")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("kerasrec.errors.BackendError: ")
    assert "KERAS_BACKEND asks for 'jax'" in last and "KERAS_BACKEND=tensorflow" in last


@pytest.mark.parametrize("how", ["python -m kerasrec", "python -m kerasrec.cli",
                                 "console script"])
def test_the_command_refuses_it_in_one_line_as_any_bad_input(tmp_path, how):
    if how == "console script":
        script = Path(sys.executable).with_name("kerasrec")
        if not script.exists():
            pytest.skip(f"no console script beside {sys.executable} (not pip-installed)")
        command = [str(script), "info"]
    else:
        command = [sys.executable, "-m", how.split()[-1], "info"]
    environ = {k: v for k, v in os.environ.items() if k != "KERAS_HOME"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**environ, "KERAS_HOME": str(tmp_path), "KERAS_BACKEND": "jax"})
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("kerasrec: error: ") and "KERAS_BACKEND=tensorflow" in lines[0]


@pytest.mark.parametrize("argv, orig_argv, expected", [
    (["/venv/bin/kerasrec", "train"], ["/venv/bin/python", "/venv/bin/kerasrec", "train"], True),
    (["-m"], ["python", "-m", "kerasrec", "--help"], True),
    (["-m"], ["python", "-W", "ignore", "-X", "dev", "-mkerasrec.cli", "info"], True),
    (["-c"], ["python", "-c", "import kerasrec", "-m", "kerasrec"], False),
    (["job.py"], ["python", "job.py", "-m", "kerasrec"], False),
    (["-m"], ["python", "-m", "pytest", "-m", "kerasrec"], False),
    (["/venv/bin/kerasrec-helper"], ["python", "/venv/bin/kerasrec-helper"], False),
])
def test_the_command_is_told_from_other_processes(argv, orig_argv, expected):
    assert _backend.is_the_command_line(argv, orig_argv) is expected


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
