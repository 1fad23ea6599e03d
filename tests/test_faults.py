"""Faults while writing: the previous artifact survives whole, no temporary debris is
left, operating-system errors become ArtifactError naming the path, and a diverging
run stops with a clear message and writes no model.

(Failures injected into ``export_saved_model`` are in ``test_export.py`` and into
``train_run`` in ``test_run.py``.)
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import pandas as pd
import pytest

import kerasrec as kr
from kerasrec.cli import main
from kerasrec.run import RunConfig, train_run


def _files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def saved(hybrid, tmp_path):
    path = tmp_path / "model"
    hybrid.save(path)
    return path


@pytest.mark.parametrize("where", ["pipeline", "parquet"])
def test_a_save_interrupted_midway_keeps_the_previous_folder(hybrid, saved, tmp_path,
                                                             monkeypatch, where):
    before = _files(saved)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("killed midway through saving")

    # Part of the folder is written by then: model.keras and baseline.pkl come first.
    if where == "pipeline":
        monkeypatch.setattr(type(hybrid.pipeline_), "save", boom)
    else:
        monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(KeyboardInterrupt):
        hybrid.save(saved)
    assert _files(saved) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], "no temporary debris"
    loaded = kr.Recommender.load(saved)
    pairs = pd.DataFrame({"userId": [1, 2], "movieId": [1, 2]})
    assert (loaded.predict(pairs) == hybrid.predict(pairs)).all()


def test_disk_full_becomes_a_clear_error(hybrid, saved, tmp_path, monkeypatch):
    before = _files(saved)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    with pytest.raises(kr.ArtifactError) as info:
        hybrid.save(saved)
    assert f"cannot write '{saved}'" in str(info.value)
    assert "No space left on device" in str(info.value)
    assert _files(saved) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses Linux's read-only /proc")
def test_read_only_or_impossible_destinations(hybrid, saved, tmp_path, capsys):
    # /proc refuses new entries even to root, so this is a real read-only folder.
    with pytest.raises(kr.ArtifactError, match="cannot write '/proc/kerasrec/model'"):
        hybrid.save("/proc/kerasrec/model")
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(kr.ArtifactError, match="cannot write"):
        hybrid.save(tmp_path / "a_file" / "model")
    assert main(["export", str(saved), "--out", "/proc/kerasrec/served"]) == 2
    assert "cannot write '/proc/kerasrec/served" in capsys.readouterr().err


def test_a_diverging_run_stops_clearly_and_writes_no_model(tmp_path, capsys):
    out = tmp_path / "run"
    config = RunConfig(epochs=2, learning_rate=1e12)
    with pytest.raises(kr.TrainingError, match="loss became (NaN|infinite) in epoch 1"):
        train_run(config, out)
    assert list(tmp_path.iterdir()) == []
    assert main(["train", "--epochs", "2", "--learning-rate", "1e12", "--quiet",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lower the learning rate (now 1e+12)" in err[0]
    assert list(tmp_path.iterdir()) == []
