"""Training under tf.distribute: MirroredStrategy over 2 logical CPU devices and
MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1, both reaching the
single-process RMSE on the sample within 2%."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

import kerasrec as kr
from kerasrec.cli import main

EPOCHS = "8"

MIRRORED = r"""
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from kerasrec.distribute import get_strategy
from kerasrec.run import RunConfig, train_run

replicas = get_strategy("mirrored").num_replicas_in_sync
out = train_run(RunConfig(epochs=int(sys.argv[2]), strategy="mirrored"), sys.argv[1])
print(json.dumps({"replicas": replicas, **json.load(open(out / "metrics.json"))}))
"""


@pytest.fixture(scope="module")
def single_rmse(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "run"
    assert main(["train", "--epochs", EPOCHS, "--out", str(out), "--quiet"]) == 0
    return json.loads((out / "metrics.json").read_text())["rmse"]


def _env(**extra):
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def test_mirrored_over_two_logical_cpus(single_rmse, tmp_path):
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path / "run"), EPOCHS],
                          capture_output=True, text=True, timeout=900, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert abs(result["rmse"] - single_rmse) <= 0.02 * single_rmse, (result["rmse"], single_rmse)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multiworker_with_two_processes(single_rmse, tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    out = tmp_path / "run"
    jobs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers},
                                "task": {"type": "worker", "index": index}})
        jobs.append(subprocess.Popen(
            [sys.executable, "-m", "kerasrec.cli", "train", "--epochs", EPOCHS,
             "--strategy", "multiworker", "--out", str(out), "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(TF_CONFIG=tf_config)))
    for job in jobs:
        try:
            _, err = job.communicate(timeout=900)
        finally:
            job.kill()
        assert job.returncode == 0, err[-3000:]
    # Worker 0 (the chief) wrote the run; worker 1 wrote nothing.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    rmse = json.loads((out / "metrics.json").read_text())["rmse"]
    assert abs(rmse - single_rmse) <= 0.02 * single_rmse, (rmse, single_rmse)


def test_strategy_errors_are_clear(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(kr.ArgumentError, match="needs the TF_CONFIG environment variable"):
        kr.run.train_run(kr.run.RunConfig(strategy="multiworker"), tmp_path / "run")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    assert main(["train", "--strategy", "multiworker", "--out", str(tmp_path / "run")]) == 2
    assert "TF_CONFIG is not valid" in capsys.readouterr().err
    with pytest.raises(kr.ArgumentError, match="unknown strategy 'ring'"):
        kr.training.TrainConfig(strategy="ring")
    assert list(tmp_path.iterdir()) == []
