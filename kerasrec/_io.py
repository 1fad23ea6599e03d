"""Atomic file writes: an artifact is either the old one or the complete new one."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Union

from kerasrec.errors import ArtifactError

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def atomic_path(path: PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces ``path`` on success.

    The temporary file (or directory) lives in the same folder as ``path`` so the
    final rename is atomic. If the body raises, the temporary is removed and
    ``path`` is left exactly as it was.

    Raises:
        ArtifactError: If the destination folder cannot be written.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
            os.close(fd)
            tmp = Path(name)
    except OSError as exc:
        raise ArtifactError(f"cannot write '{path}': {exc.strerror or exc}") from exc
    try:
        yield tmp
        if directory and path.is_dir():
            # Swap directories so that a reader never sees a half-replaced folder.
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.replace(path, old / "previous")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, ArtifactError):
            raise ArtifactError(f"cannot write '{path}': {exc.strerror or exc}") from exc
        raise


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8) and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
