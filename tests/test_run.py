"""Run directories: what train_run writes, and that a failure writes nothing."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec import run as runs  # noqa: E402


def test_an_explicit_test_file_is_held_out(sample, tmp_path):
    test = sample.ratings.sample(500, random_state=0)
    test.to_csv(tmp_path / "test.csv", index=False)
    train, held = runs.split_ratings(sample, runs.RunConfig(test_file=str(tmp_path / "test.csv")))
    assert len(held) == 500 and len(train) == sample.n_ratings - 500
    assert not set(zip(train["userId"], train["movieId"])) & set(zip(held["userId"],
                                                                     held["movieId"]))


def test_splits_are_seeded(sample):
    a = runs.split_ratings(sample, runs.RunConfig(seed=3))[1]
    b = runs.split_ratings(sample, runs.RunConfig(seed=3))[1]
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(kr.DataError, match="unknown split"):
        runs.split_ratings(sample, runs.RunConfig(split="sideways"))


def test_a_failed_run_leaves_the_previous_one_intact(tmp_path, monkeypatch):
    out = tmp_path / "run"
    config = runs.RunConfig(model="baseline")
    runs.train_run(config, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def fail(folder, *args, **kwargs):
        (folder / "plots").mkdir()
        (folder / "plots" / "half.png").write_bytes(b"\x89PNG")
        raise RuntimeError("killed while drawing plots")

    monkeypatch.setattr(runs, "write_plots", fail)
    with pytest.raises(RuntimeError, match="killed"):
        runs.train_run(runs.RunConfig(model="global_mean"), out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert json.loads((out / "run.json").read_text())["config"]["model"] == "baseline"
    assert [p.name for p in tmp_path.iterdir()] == ["run"], "no temporary debris"


def test_a_file_given_for_a_folder_is_named(tmp_path):
    file = tmp_path / "model.zip"
    file.write_bytes(b"PK")
    with pytest.raises(kr.ArtifactError, match=r"model.zip' is a file; give a run directory "
                                               r"\(kerasrec train --out DIR\)"):
        runs.load_run(file)
    with pytest.raises(kr.ArtifactError, match=r"model.zip' is a file; give the folder a "
                                               r"Recommender was saved in"):
        kr.Recommender.load(file)


def test_recommender_load_reads_a_run_directory_model(tmp_path):
    """``kr.Recommender.load("runs/latest")`` is what people type after ``kerasrec train``."""
    out = tmp_path / "run"
    runs.train_run(runs.RunConfig(model="baseline"), out)
    run = runs.load_run(out)
    direct = kr.Recommender.load(out)
    pairs = run.test_ratings().head(50)
    pd.testing.assert_series_equal(pd.Series(direct.predict(pairs)),
                                   pd.Series(run.recommender.predict(pairs)))
    user = int(pairs["userId"].iloc[0])
    pd.testing.assert_frame_equal(direct.recommend(user), run.recommender.recommend(user))
    (out / "model" / "recommender.json").unlink()
    with pytest.raises(kr.ArtifactError, match=r"run[/\\]model' is not a saved Recommender"):
        kr.Recommender.load(out)
