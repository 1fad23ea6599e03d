"""TensorFlow's start-up chatter, kept off the user's terminal.

Importing TensorFlow prints C++ log lines (``I0000 ... port.cc] oneDNN custom
operations are on``, ``cudart_stub.cc] Could not find cuda drivers``, ``E0000 ...
failed call to cuInit``) straight to file descriptor 2, and ``TF_CPP_MIN_LOG_LEVEL`` no
longer silences them (they go through absl). ``import kerasrec`` installs a one-shot
import hook: when TensorFlow is first imported — by kerasrec, Keras or the user — its
module code and CUDA probing run with descriptor 2 pointed at a temporary file. If
the import fails, what it printed is written to stderr after all, before the error.
Set ``KERASREC_TF_LOGS=1`` to see everything, as without kerasrec.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import tempfile

ENV = "KERASREC_TF_LOGS"


@contextlib.contextmanager
def _stderr_captured():
    """Point descriptor 2 at a temporary file; replay its contents if the body raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            os.write(2, sink.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with stderr captured."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with _stderr_captured():
            self.loader.exec_module(module)
            # CUDA is probed on first device use; do it now, while it cannot be heard.
            module.config.list_physical_devices("GPU")

    def __getattr__(self, name):  # resource readers and the like: the real loader's
        return getattr(self.loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, as the path finder does, with a quiet loader."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall()
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Silence TensorFlow's first import, unless it happened already or ``KERASREC_TF_LOGS``
    is set."""
    if os.environ.get(ENV) or "tensorflow" in sys.modules:
        return
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def uninstall() -> None:
    """Remove the hook (it removes itself once TensorFlow is found)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
