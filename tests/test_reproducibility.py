"""The same seed gives the same split, metrics and predictions in separate processes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd


def _train_in_processes(tmp_path, seeds):
    """Run ``kerasrec train`` once per seed, each in its own fresh Python process."""
    outs = [tmp_path / f"run{i}" for i in range(len(seeds))]
    jobs = [subprocess.Popen([sys.executable, "-m", "kerasrec.cli", "train", "--epochs", "3",
                              "--seed", str(seed), "--out", str(out), "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed, out in zip(seeds, outs)]
    for job in jobs:
        _, err = job.communicate(timeout=600)
        assert job.returncode == 0, err[-2000:]
    return outs


def test_same_seed_same_results_in_two_processes(tmp_path):
    first, second = _train_in_processes(tmp_path, [7, 7])
    for name in ("train.parquet", "test.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(first / "data" / name),
                                      pd.read_parquet(second / "data" / name))
    metrics = [json.loads((out / "metrics.json").read_text()) for out in (first, second)]
    for key, value in metrics[0].items():
        if key != "fit_seconds" and value is not None:
            assert abs(metrics[1][key] - value) <= 1e-6, key
    predictions = [pd.read_csv(out / "predictions.csv") for out in (first, second)]
    np.testing.assert_allclose(predictions[0]["prediction"], predictions[1]["prediction"],
                               atol=1e-6, rtol=0)


def test_another_seed_draws_another_split_and_other_weights(sample):
    # In this process: a third training process beside the two above cost a minute of CI.
    import kerasrec as kr
    from kerasrec.run import RunConfig, split_ratings

    splits = [split_ratings(sample, RunConfig(seed=seed))[1] for seed in (7, 7, 8)]
    pd.testing.assert_frame_equal(splits[0], splits[1])
    assert not splits[0][["userId", "movieId"]].equals(splits[2][["userId", "movieId"]])
    train = sample.with_ratings(split_ratings(sample, RunConfig(seed=7))[0])
    fast = kr.TrainConfig(epochs=1, verbose=0)
    predictions = [kr.Recommender(model="mf", train=fast, seed=seed).fit(train).predict(splits[0])
                   for seed in (7, 7, 8)]
    np.testing.assert_allclose(predictions[0], predictions[1], atol=1e-6, rtol=0)
    assert np.abs(predictions[0] - predictions[2]).max() > 1e-3
