from __future__ import annotations

import os

import pytest

import kerasrec as kr

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


@pytest.mark.parametrize("path", [5, None, b"out.json"])
def test_a_destination_that_is_not_a_path_is_named(path):
    from kerasrec import ArgumentError

    with pytest.raises(ArgumentError, match="path must be a file or folder path"):
        write_text_atomic(path, "x")


# --- never lose what kerasrec did not write (issue: data loss) ---------------------------

def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_folder_kerasrec_did_not_write_is_never_replaced(tmp_path, monkeypatch):
    import kerasrec.data as data
    from kerasrec.run import RunConfig, train_run

    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("precious")
    # refused before any work: loading the data would fail the test
    monkeypatch.setattr(data, "load_movies", lambda *a, **k: pytest.fail("data was loaded"))
    with pytest.raises(ArtifactError, match="not a kerasrec run folder"):
        train_run(RunConfig(model="baseline"), thesis)
    with pytest.raises(ArtifactError, match="not a kerasrec data folder"):
        data.write_sample(thesis, 10, 10, 20)
    with pytest.raises(ArtifactError, match="is a file"):
        train_run(RunConfig(model="baseline"), thesis / "chapter1.tex")
    assert sorted(p.name for p in thesis.iterdir()) == ["chapter1.tex"]
    assert (thesis / "chapter1.tex").read_text() == "precious"


def test_a_file_added_to_a_kerasrec_folder_stops_its_replacement(tmp_path):
    """A kerasrec folder is replaced only while it holds nothing but what kerasrec wrote:
    notes a user saved in a run, or a SavedModel exported into it, are never deleted."""
    import json

    from kerasrec.data import write_sample
    from kerasrec.export import export_saved_model
    from kerasrec.run import RunConfig, train_run

    data = write_sample(tmp_path / "ml", 20, 10, 60)
    run = train_run(RunConfig(data=str(data), model="baseline"), tmp_path / "run")
    saved = tmp_path / "saved"
    kr.Recommender("popularity").fit(kr.load_movies(data)).save(saved)
    written = {folder: json.loads((folder / marker).read_text())["written"] for folder, marker
               in ((data, "kerasrec.json"), (run, "run.json"), (saved, "recommender.json"))}
    assert "ratings.parquet" in written[data] and "model/recommender.json" in written[run]
    assert "kerasrec.json" not in written[data] and "model.keras" not in written[saved]

    (data / "notes.txt").write_text("mine")
    (run / "served" / "1").mkdir(parents=True)
    (run / "served" / "1" / "saved_model.pb").write_text("mine")
    (saved / "extra").mkdir()
    (saved / "extra" / "weights.bin").write_text("mine")
    rec = kr.Recommender("popularity").fit(kr.load_movies(data))
    for write, words in [
            (lambda: write_sample(data, 20, 10, 70), "holds 'notes.txt', which kerasrec did"),
            (lambda: train_run(RunConfig(data=str(data), model="baseline"), run),
             "holds 'served/1/saved_model.pb', which kerasrec did not write; replacing the "
             "run folder would delete it"),
            (lambda: rec.save(saved), "holds 'extra/weights.bin'")]:
        with pytest.raises(ArtifactError, match=words):
            write()
    assert (data / "notes.txt").read_text() == "mine" and len(kr.load_movies(data).ratings) == 60
    assert (run / "served" / "1" / "saved_model.pb").read_text() == "mine"
    assert (saved / "extra" / "weights.bin").read_text() == "mine"
    # Exporting into a kerasrec folder is refused before anything is written.
    with pytest.raises(ArtifactError, match="is a kerasrec run folder; export into a folder"):
        export_saved_model(kr.Recommender.load(run / "model"), run)
    # Without the added file the folder is kerasrec's again, and replaced; what a file
    # manager leaves behind when the folder was only looked at does not count.
    (data / "notes.txt").unlink()
    (data / ".DS_Store").write_bytes(b"\0")
    write_sample(data, 20, 10, 70)
    assert len(kr.load_movies(data).ratings) == 70


def test_a_folder_written_before_kerasrec_listed_its_files_is_still_replaced(tmp_path):
    import json

    from kerasrec.data import write_sample

    data = write_sample(tmp_path / "ml", 20, 10, 60)
    marker = data / "kerasrec.json"
    meta = json.loads(marker.read_text())
    del meta["written"]
    marker.write_text(json.dumps(meta))
    write_sample(data, 20, 10, 70)
    assert len(kr.load_movies(data).ratings) == 70


def test_the_input_is_never_the_output(tmp_path):
    from kerasrec.data import write_sample
    from kerasrec.run import RunConfig, train_run

    folder = write_sample(tmp_path / "ml", 20, 10, 60)
    before = sorted(p.name for p in folder.iterdir())
    for out in (folder, tmp_path):
        with pytest.raises(ArtifactError, match="is or holds the input"):
            train_run(RunConfig(data=str(folder), model="baseline"), out)
    assert sorted(p.name for p in folder.iterdir()) == before
    # kerasrec's own data folder is replaced, atomically
    write_sample(folder, 20, 10, 70)
    assert len(kr.load_movies(folder).ratings) == 70


def test_killed_writes_are_recovered_by_the_next_write(tmp_path):
    from kerasrec._io import atomic_path, recover

    target = tmp_path / "run"
    pid = _dead_pid()
    # died between the two renames of a replacement: the old version sits aside
    (tmp_path / f".run.{pid}.abc.old" / "previous").mkdir(parents=True)
    (tmp_path / f".run.{pid}.abc.old" / "previous" / "run.json").write_text("old")
    # died while writing a new version
    (tmp_path / f".run.{pid}.def.tmp").mkdir()
    # another process still writing: left alone
    import subprocess
    import sys

    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / f".run.{writer.pid}.ghi.tmp").mkdir()
        done = recover(target)
    finally:
        writer.kill()
        writer.wait()
    assert (target / "run.json").read_text() == "old" and any("restored" in d for d in done)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [f".run.{writer.pid}.ghi.tmp", "run"]
    with atomic_path(target, directory=True) as tmp:
        (tmp / "run.json").write_text("new")
    assert (target / "run.json").read_text() == "new"


def test_replacing_a_folder_swaps_it_in_one_step(tmp_path):
    from kerasrec._io import _exchange

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a"), (b / "x").write_text("b")
    if not _exchange(a, b):
        pytest.skip("this file system cannot swap two paths atomically")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def test_written_artifacts_follow_the_umask(tmp_path):
    from kerasrec._io import atomic_path

    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "folder", directory=True) as tmp:
            (tmp / "inner").mkdir()
            (tmp / "inner" / "file.json").write_text("{}")
        with atomic_path(tmp_path / "plain.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert oct((tmp_path / "folder").stat().st_mode & 0o777) == "0o755"
    assert oct((tmp_path / "folder" / "inner" / "file.json").stat().st_mode & 0o777) == "0o644"
    assert oct((tmp_path / "plain.txt").stat().st_mode & 0o777) == "0o644"
