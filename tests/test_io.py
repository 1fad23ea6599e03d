from __future__ import annotations

import pytest

from kerasrec._io import atomic_path, write_text_atomic
from kerasrec.errors import ArtifactError


def test_failure_leaves_previous_file_and_no_debris(tmp_path):
    target = write_text_atomic(tmp_path / "a.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_directory_replaced_whole(tmp_path):
    target = tmp_path / "run"
    with atomic_path(target, directory=True) as tmp:
        (tmp / "one").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_path(target, directory=True) as tmp:
            (tmp / "two").write_text("2")
            raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["one"]
    with atomic_path(target, directory=True) as tmp:
        (tmp / "three").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["three"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_unwritable_destination_is_clear(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArtifactError, match="cannot write"):
        write_text_atomic(blocker / "sub" / "a.json", "x")
