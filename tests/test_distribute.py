"""Training under tf.distribute: MirroredStrategy over 2 logical CPU devices and
MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1, both reaching the
single-process RMSE on the sample within 2%. The runners are those of
``benchmarks/distribute.py``, which prints the same comparison."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import kerasrec as kr
from kerasrec.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
try:
    import distribute as runs
finally:
    sys.path.pop(0)

EPOCHS = 4  # the replicas' RMSE is within 0.4% of one process's at 4 epochs too


# LazyAdam's sparse updates cross replicas as IndexedSlices; that run is behind --runslow
# (80 s here), beside the other long runs.
OPTIMIZERS = ["adam", pytest.param("lazy_adam", marks=pytest.mark.slow)]


@pytest.fixture(scope="module", params=OPTIMIZERS)
def single(request, tmp_path_factory):
    """(optimizer, single-process RMSE)."""
    return request.param, runs.single(tmp_path_factory.mktemp("single") / "run", EPOCHS,
                                      request.param)


def test_mirrored_over_two_logical_cpus(single, tmp_path):
    optimizer, single_rmse = single
    result = runs.mirrored(tmp_path / "run", EPOCHS, optimizer)
    assert result["replicas"] == 2
    assert abs(result["rmse"] - single_rmse) <= 0.02 * single_rmse, (result["rmse"], single_rmse)


@pytest.mark.slow  # two worker processes: 45 s; the mirrored run covers the default suite
def test_multiworker_with_two_processes(single, tmp_path):
    optimizer, single_rmse = single
    rmse = runs.multiworker(tmp_path / "run", EPOCHS, optimizer)
    # Worker 0 (the chief) wrote the run; worker 1 wrote nothing.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert abs(rmse - single_rmse) <= 0.02 * single_rmse, (rmse, single_rmse)


def test_strategy_errors_are_clear(tmp_path, monkeypatch, capsys):
    from kerasrec.run import RunConfig, train_run
    from kerasrec.training import TrainConfig

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(kr.ArgumentError, match="needs the TF_CONFIG environment variable"):
        train_run(RunConfig(strategy="multiworker"), tmp_path / "run")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    assert main(["train", "--strategy", "multiworker", "--out", str(tmp_path / "run")]) == 2
    assert "TF_CONFIG is not valid" in capsys.readouterr().err
    with pytest.raises(kr.ArgumentError, match="unknown strategy 'ring'"):
        TrainConfig(strategy="ring")
    assert list(tmp_path.iterdir()) == []
