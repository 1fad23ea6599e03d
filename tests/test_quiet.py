"""TensorFlow's start-up log lines stay off the terminal (kerasrec/_quiet.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from kerasrec import _quiet

TF_LINE = re.compile(r"^(?:[IWEF]\d{4} |WARNING: All log messages before absl)", re.M)


def test_captured_stderr_is_dropped_on_success_and_replayed_on_failure(capfd):
    with _quiet._stderr_captured():
        os.write(2, b"chatter\n")
    assert capfd.readouterr().err == ""
    with pytest.raises(RuntimeError):
        with _quiet._stderr_captured():
            os.write(2, b"why it failed\n")
            raise RuntimeError("import failed")
    assert capfd.readouterr().err == "why it failed\n"


def test_a_fresh_process_importing_kerasrec_then_tensorflow_is_quiet():
    code = ("import kerasrec, tensorflow as tf, keras\n"
            "print(int(tf.constant(2) + 1), keras.backend.backend())\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", _quiet.ENV)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["3", "tensorflow"]
    assert not TF_LINE.search(done.stderr), done.stderr[-2000:]
    assert done.stderr.strip() == ""


def test_the_hook_is_removed_once_it_has_run():
    code = ("import sys, kerasrec, tensorflow\n"
            "from kerasrec import _quiet\n"
            "print(any(isinstance(f, _quiet._Finder) for f in sys.meta_path))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.stdout.strip() == "False", done.stderr[-2000:]
