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


def file_digest(path: PathLike) -> str:
    """SHA-256 of a file's bytes, in hex."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, name: str, format: str, version: int, meta: dict) -> Path:
    """Write ``folder/name``: JSON with format, version, the kerasrec version, ``meta``
    and the SHA-256 of every other file in ``folder`` (recursively)."""
    import json

    import kerasrec

    folder = Path(folder)
    files = {p.relative_to(folder).as_posix(): file_digest(p)
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != name}
    manifest = {"format": format, "format_version": version,
                "kerasrec_version": kerasrec.__version__, **meta, "files": files}
    return write_text_atomic(folder / name, json.dumps(manifest, indent=1, default=list))


def read_manifest(folder: Path, name: str, format: str, version: int,
                  optional: tuple = ()) -> dict:
    """Read and check a manifest written by :func:`write_manifest`.

    Every file it lists must be present (unless named in ``optional``) with the same
    SHA-256, so a damaged, edited or swapped file is caught before anything reads it.

    Raises:
        ArtifactError: Naming the manifest or the offending file.
    """
    import json

    folder = Path(folder)
    path = folder / name
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"'{folder}' is not a saved {format.split('.')[-1]} "
                            f"(no {name})") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"'{path}': unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != format:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ArtifactError(f"'{path}': format {found!r}; expected {format!r}")
    if manifest.get("format_version") != version:
        old = manifest.get("format_version")
        hint = (" Folders of format 1 hold pickles, which kerasrec no longer loads because "
                "they can run code; retrain and save again (kerasrec train ... --out DIR)"
                if old == 1 else " Retrain and save it with this kerasrec")
        raise ArtifactError(f"'{path}': format version {old!r}; this kerasrec reads "
                            f"version {version}.{hint}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"'{path}': no file list; save the folder again")
    for relative, digest in files.items():
        target = folder / relative
        if not target.is_file():
            if relative in optional:
                continue
            raise ArtifactError(f"'{target}' is missing; the saved folder is incomplete "
                                "(save it again or restore the folder)")
        if file_digest(target) != digest:
            raise ArtifactError(f"'{target}' was changed or damaged after saving (its "
                                "SHA-256 does not match the manifest); save it again")
    return manifest
