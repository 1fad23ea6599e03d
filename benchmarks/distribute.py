"""Test RMSE of the hybrid on the sample: one process vs tf.distribute.

Usage:
    python benchmarks/distribute.py [--epochs 8] [--optimizer adam|lazy_adam]

Trains ``kerasrec train --epochs N`` three ways, each in fresh processes: plain; with
``--strategy mirrored`` over 2 logical CPU devices; with ``--strategy multiworker``
and 2 worker processes on 127.0.0.1 (TF_CONFIG, free ports). Prints one JSON object as
its last line: the three RMSEs, the replica count of the mirrored run, each run's
relative difference from the single-process RMSE and each run's fit seconds (its
``metrics.json``: on CPUs the replicas' work is the strategy's cost, not a speed-up).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

MIRRORED = r"""
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from kerasrec.distribute import get_strategy
from kerasrec.run import RunConfig, train_run

replicas = get_strategy("mirrored").num_replicas_in_sync
out = train_run(RunConfig(epochs=int(sys.argv[2]), optimizer=sys.argv[3], strategy="mirrored"),
                sys.argv[1])
print(json.dumps({"replicas": replicas, **json.load(open(out / "metrics.json"))}))
"""


def _env(**extra) -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def _train_command(out: Path, epochs: int, optimizer: str, *extra: str) -> list:
    return [sys.executable, "-m", "kerasrec.cli", "train", "--epochs", str(epochs),
            "--optimizer", optimizer, "--out", str(out), "--quiet", *extra]


def _rmse(out: Path) -> float:
    return json.loads((out / "metrics.json").read_text())["rmse"]


def single(out: Path, epochs: int, optimizer: str = "adam") -> float:
    """Test RMSE of a plain run."""
    subprocess.run(_train_command(out, epochs, optimizer), check=True, capture_output=True,
                   env=_env())
    return _rmse(out)


def mirrored(out: Path, epochs: int, optimizer: str = "adam") -> dict:
    """``{"replicas", "rmse", ...}`` of a MirroredStrategy run over 2 logical CPUs."""
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(out), str(epochs), optimizer],
                          capture_output=True, text=True, env=_env())
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _free_ports(n: int) -> list:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def multiworker(out: Path, epochs: int, optimizer: str = "adam", workers: int = 2) -> float:
    """Test RMSE of a MultiWorkerMirroredStrategy run with local worker processes."""
    hosts = [f"127.0.0.1:{port}" for port in _free_ports(workers)]
    jobs = [subprocess.Popen(
        _train_command(out, epochs, optimizer, "--strategy", "multiworker"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(TF_CONFIG=json.dumps({"cluster": {"worker": hosts},
                                       "task": {"type": "worker", "index": index}})))
        for index in range(workers)]
    errors = []
    for job in jobs:
        try:
            _, err = job.communicate(timeout=1800)
        finally:
            job.kill()
        if job.returncode != 0:
            errors.append(err[-3000:])
    if errors:
        raise RuntimeError("\n".join(errors))
    return _rmse(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--optimizer", choices=("adam", "lazy_adam"), default="adam")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = single(Path(tmp) / "single", args.epochs, args.optimizer)
        mirror = mirrored(Path(tmp) / "mirrored", args.epochs, args.optimizer)
        multi = multiworker(Path(tmp) / "multiworker", args.epochs, args.optimizer)
        seconds = {f"{name}_fit_seconds": json.loads(
            (Path(tmp) / name / "metrics.json").read_text())["fit_seconds"]
            for name in ("single", "mirrored", "multiworker")}
    print(json.dumps({"epochs": args.epochs, "optimizer": args.optimizer,
                      "single_rmse": round(base, 4),
                      "mirrored_rmse": round(mirror["rmse"], 4),
                      "mirrored_replicas": mirror["replicas"],
                      "multiworker_rmse": round(multi, 4), "multiworker_workers": 2,
                      "mirrored_relative_diff": round(abs(mirror["rmse"] - base) / base, 4),
                      "multiworker_relative_diff": round(abs(multi - base) / base, 4),
                      **seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
