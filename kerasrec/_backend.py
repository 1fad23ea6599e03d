"""Keras' backend, held to TensorFlow.

Keras 3 picks its backend once, on first import: from ``KERAS_BACKEND``, else from
``~/.keras/keras.json`` (``$KERAS_HOME``), else TensorFlow. kerasrec's layers, retrieval
and export call TensorFlow directly, so they need Keras on TensorFlow. A ``keras.json``
left at ``"jax"`` by other work would otherwise break kerasrec far from the cause (or
fail inside Keras, when JAX is not installed); a backend asked for by name cannot be
changed behind the user's back, so it is refused with the fix.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, MutableMapping, Optional, Sequence

from kerasrec.errors import BackendError

ENV = "KERAS_BACKEND"
BACKEND = "tensorflow"


def refusal(asked: Optional[str], loaded: Optional[str]) -> Optional[str]:
    """Why kerasrec cannot run with this backend (None when it can).

    Args:
        asked: ``KERAS_BACKEND``'s value, if set.
        loaded: The backend of the Keras already imported, if it is.
    """
    if loaded is not None and loaded != BACKEND:
        return (f"kerasrec runs Keras on TensorFlow, but Keras was already imported with "
                f"the {loaded!r} backend. Import kerasrec in a process whose Keras runs on "
                f"TensorFlow ({ENV}={BACKEND}).")
    if loaded is None and asked and asked != BACKEND:
        return (f"kerasrec runs Keras on TensorFlow, but {ENV} asks for {asked!r}. Unset "
                f"{ENV} or run with {ENV}={BACKEND}.")
    return None


def is_the_command_line(argv: Optional[Sequence[str]] = None,
                        orig_argv: Optional[Sequence[str]] = None) -> bool:
    """Whether this process is the ``kerasrec`` command: its console script, or
    ``python -m kerasrec`` (``-m kerasrec.cli``), whose ``sys.argv[0]`` is still ``-m``
    while the package is imported.

    Args:
        argv, orig_argv: ``sys.argv`` and ``sys.orig_argv`` (the defaults).
    """
    argv = sys.argv if argv is None else argv
    if argv and Path(argv[0]).name in ("kerasrec", "kerasrec.exe"):
        return True
    words = iter(list(getattr(sys, "orig_argv", ()) if orig_argv is None else orig_argv)[1:])
    for word in words:  # the interpreter's options, up to -m, -c or a script
        if word in ("-W", "-X"):
            next(words, None)
        elif word.startswith("-m"):
            return (word[2:] or next(words, "")) in ("kerasrec", "kerasrec.cli")
        elif word == "-c" or not word.startswith("-"):
            return False
    return False


def use_tensorflow(environ: MutableMapping[str, str] = os.environ,
                   modules: Mapping[str, object] = sys.modules,
                   command_line: bool = False) -> None:
    """Make Keras run on TensorFlow when it is first imported, or say why it cannot.

    Sets ``KERAS_BACKEND=tensorflow`` unless Keras is imported already or the variable
    names a backend, so a ``keras.json`` naming another one does not apply in this
    process.

    Args:
        command_line: The process is the ``kerasrec`` command: a refusal is its one
            line on stderr and exit status 2, as for any other bad input (the command's
            own handler is not running yet while the package is imported).

    Raises:
        BackendError: ``KERAS_BACKEND`` names another backend, or Keras was imported
            with one.
        SystemExit: The same, with ``command_line``.
    """
    keras = modules.get("keras")
    loaded = keras.backend.backend() if keras is not None else None
    reason = refusal(environ.get(ENV), loaded)
    if reason and command_line:
        print(f"kerasrec: error: {reason}", file=sys.stderr)
        raise SystemExit(2)
    if reason:
        raise BackendError(reason)
    if keras is None and not environ.get(ENV):  # Keras reads an empty value as unset
        environ[ENV] = BACKEND
