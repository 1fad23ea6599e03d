"""Atomic file writes: an artifact is either the old one or the complete new one."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Union

from kerasrec.errors import ArgumentError, ArtifactError, preview

PathLike = Union[str, "os.PathLike[str]"]


def as_path(path: PathLike, name: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path`, if it is one or a string.

    Raises:
        ArgumentError: For anything else (a number, None, an open file), naming
            ``name``.
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"{name} must be a file or folder path (str or pathlib.Path), "
                            f"got {type(path).__name__}")
    return Path(path)


#: What marks a folder as kerasrec's own output, by kind: (marker file, its "format").
ARTIFACT_KINDS = {
    "recommender": ("recommender.json", "kerasrec.Recommender"),
    "run": ("run.json", "kerasrec.run"),
    "data": ("kerasrec.json", "kerasrec.data"),
}
_RENAME_EXCHANGE = 2  # renameat2 flag: swap two paths in one atomic step (Linux)


def artifact_kind(path: PathLike):
    """The kind of kerasrec folder at ``path`` (a key of :data:`ARTIFACT_KINDS`), or None."""
    import json

    for kind, (marker, format) in ARTIFACT_KINDS.items():
        try:
            meta = json.loads((Path(path) / marker).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("format") == format:
            return kind
    return None


def write_marker(folder: PathLike, kind: str, **meta) -> Path:
    """Mark ``folder`` as kerasrec's own ``kind`` of output (so a later write may replace it)."""
    import json

    marker, format = ARTIFACT_KINDS[kind]
    return write_text_atomic(Path(folder) / marker, json.dumps({"format": format, **meta}))


#: Files a file manager leaves in any folder a user merely looks at: replacing them loses
#: nothing, so they never stop a replacement.
FILE_MANAGER_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def _files(folder: Path) -> list:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.name not in FILE_MANAGER_FILES)


def record_written(folder: PathLike, kind: str) -> None:
    """List in ``folder``'s marker every file it holds: what kerasrec wrote, so a later
    write replaces the folder only while it holds nothing else (:func:`not_written`).
    :func:`atomic_path` calls it on each ``kind`` of folder before moving it into place."""
    import json

    marker = Path(folder) / ARTIFACT_KINDS[kind][0]
    meta = json.loads(marker.read_text(encoding="utf-8"))
    meta["written"] = [name for name in _files(Path(folder)) if name != marker.name]
    marker.write_text(json.dumps(meta, indent=1), encoding="utf-8")


def not_written(folder: PathLike, kind: str) -> list:
    """The files in a kerasrec ``kind`` folder that kerasrec did not write (none for a
    folder written before kerasrec listed its files)."""
    import json

    folder = Path(folder)
    marker = folder / ARTIFACT_KINDS[kind][0]
    try:
        written = json.loads(marker.read_text(encoding="utf-8")).get("written")
    except (OSError, ValueError, AttributeError):
        written = None
    if not isinstance(written, list):
        return []
    return sorted(set(_files(folder)) - set(written) - {marker.name})


def check_output_folder(path: PathLike, kind: str, inputs=()) -> Path:
    """Refuse a destination whose replacement could lose what kerasrec did not write.

    ``path`` may be missing, an empty folder, or a kerasrec folder of the same ``kind``
    (recognised by its marker file, :data:`ARTIFACT_KINDS`) that holds only the files
    kerasrec wrote into it (listed in the marker, :func:`record_written`): a file a user
    or another program added (notes, a SavedModel exported into a run) stops the
    replacement. It may not be a file, hold anything else, be unwritable, or be or hold
    one of ``inputs``. Call it before any work starts, so a bad destination costs
    nothing.

    Raises:
        ArtifactError: Naming the path and what is in the way.
    """
    path = Path(path)
    resolved = path.resolve()
    for source in inputs:
        if source is None:
            continue
        source = Path(source).resolve()
        if resolved == source or resolved in source.parents:
            raise ArtifactError(f"'{path}' is or holds the input '{source}'; replacing it "
                                "would delete the data. Write the output somewhere else")
    if path.is_file() or (path.exists() and not path.is_dir()):
        raise ArtifactError(f"'{path}' is a file; give a folder path for the {kind}")
    if path.is_dir() and any(path.iterdir()):
        if artifact_kind(path) != kind:
            raise ArtifactError(f"'{path}' exists and is not a kerasrec {kind} folder; "
                                "kerasrec only replaces what it wrote. Choose a new or empty "
                                "folder")
        added = not_written(path, kind)
        if added:
            raise ArtifactError(f"'{path}' holds {preview(added)}, which kerasrec did not "
                                f"write; replacing the {kind} folder would delete it. Move it "
                                "out or choose another folder")
    parent = path.parent if str(path.parent) else Path(".")
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise ArtifactError(f"cannot write '{path}': '{parent}' is not writable")
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where unsupported."""
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_cwd = -100
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(path: PathLike) -> list:
    """Clean what killed writes to ``path`` left behind; returns what was done.

    Temporary folders of dead processes are removed; if ``path`` itself is missing
    because a process died between the two renames of a replacement, the previous
    version is put back.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    done = []
    if not parent.is_dir():
        return done
    for leftover in sorted(parent.glob(f".{path.name}.*")):
        parts = leftover.name[len(path.name) + 2:].split(".")
        if len(parts) < 3 or parts[-1] not in ("tmp", "old") or not parts[0].isdigit():
            continue
        if _pid_alive(int(parts[0])) and int(parts[0]) != os.getpid():
            continue  # another writer is still at work
        previous = leftover / "previous"
        if parts[-1] == "old" and previous.exists() and not path.exists():
            os.replace(previous, path)
            done.append(f"restored '{path}' from an interrupted replacement")
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        done.append(f"removed '{leftover}'")
    return done


@contextlib.contextmanager
def atomic_path(path: PathLike, *, directory: bool = False,
                kind: str = None, inputs=()) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces ``path`` on success.

    The temporary file (or directory) lives in the same folder as ``path`` so the
    final rename is atomic. If the body raises, the temporary is removed and
    ``path`` is left exactly as it was. A folder of ``kind`` replaces only an empty
    folder or a kerasrec folder of the same kind (:func:`check_output_folder`); where
    the file system can swap two paths atomically (Linux), ``path`` holds the old or
    the new folder at every instant, and elsewhere a replacement cut short is undone
    by the next write (:func:`recover`).

    Raises:
        ArtifactError: If the destination is in the way or cannot be written.
        ArgumentError: If ``path`` is not a path.
    """
    path = as_path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if kind is not None:
        check_output_folder(path, kind, inputs)
    prefix = f".{path.name}.{os.getpid()}."
    try:
        parent.mkdir(parents=True, exist_ok=True)
        recover(path)
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=parent)
            os.close(fd)
            tmp = Path(name)
    except OSError as exc:
        raise ArtifactError(f"cannot write '{path}': {exc.strerror or exc}") from exc
    try:
        yield tmp
        if directory and kind is not None:
            record_written(tmp, kind)
        _match_umask(tmp)
        if directory and path.is_dir():
            if kind is not None:
                check_output_folder(path, kind, inputs)  # nothing appeared meanwhile
            if _exchange(tmp, path):
                shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder
            else:
                old = Path(tempfile.mkdtemp(prefix=prefix, suffix=".old", dir=parent))
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


def _match_umask(tmp: Path) -> None:
    """Give a temporary file or folder the permissions a plain write would have had
    (``mkstemp``/``mkdtemp`` create them private: 0600/0700)."""
    umask = os.umask(0)
    os.umask(umask)
    for item in [tmp, *tmp.rglob("*")] if tmp.is_dir() else [tmp]:
        with contextlib.suppress(OSError):
            os.chmod(item, (0o777 if item.is_dir() else 0o666) & ~umask)


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

    from kerasrec._version import __version__

    folder = Path(folder)
    files = {p.relative_to(folder).as_posix(): file_digest(p)
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != name}
    manifest = {"format": format, "format_version": version,
                "kerasrec_version": __version__, **meta, "files": files}
    return write_text_atomic(folder / name, json.dumps(manifest, indent=1, default=json_plain))


def json_plain(value):
    """``json.dumps``' ``default``: a NumPy number as the Python one, an array, tuple or
    set as a list (settings a user computed with NumPy are saved as they read)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value.tolist() if hasattr(value, "tolist") else list(value)


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
    if folder.is_file():
        raise ArtifactError(f"'{folder}' is a file; give the folder a "
                            f"{format.split('.')[-1]} was saved in")
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
