"""``benchmarks/scale.py``: generated data -> Parquet -> features -> one epoch of the
default hybrid -> export, and the export served from TensorFlow alone at 600,000 ratings.

CI runs it on 600,000 ratings, above the size where the costly parts switch off
(500,000: :mod:`kerasrec.models.hybrid.budget`); the 25M run is marked slow
(``--runslow``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"
#: Above the 500,000 ratings where the SVD++ history and the retrieval tower switch off.
ROWS = 600_000


def _scale(rows: int, save: Path = None) -> dict:
    # The defaults: LazyAdam, 16,384 rows per step (37 steps at 600k: enough to learn clearly).
    command = [sys.executable, str(SCRIPT), "--rows", str(rows)]
    done = subprocess.run(command + (["--save", str(save)] if save else []),
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _check(result: dict, rows: int) -> None:
    assert result["rows"] == rows
    # MovieLens-25M proportions: 6.5 users and 2.4 movies per thousand ratings.
    assert result["users"] == pytest.approx(rows * 0.0065, rel=0.02)
    assert result["movies"] <= rows * 24 // 10_000
    assert result["epoch_seconds"] > 0 and result["rows_per_second"] > 0
    assert result["optimizer"] == "lazy_adam" and result["batch_size"] == 16384
    # The parts too costly at this size are off, each with its message; the
    # neighbourhood on the movies' side stays.
    switched = " ".join(result["parts_switched_off"])
    assert "SVD++" in switched and "retrieval tower" in switched
    assert "item" in result["parts_on"]["neighbours"] and result["parts_on"]["session_bias"]
    # One epoch learns: on the held-out 1% it beats predicting the mean rating.
    assert result["holdout_rmse"] < 0.85 * result["mean_rmse"]
    assert result["export_seconds"] > 0
    # where it was measured: the measuring process's libraries and this checkout's commit
    environment = result["environment"]
    assert environment["tensorflow"] and environment["keras"] and environment["cpus"] >= 1
    if shutil.which("git") and (SCRIPT.parents[1] / ".git").exists():
        assert environment["commit"].split("+")[0] == subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
            cwd=SCRIPT.parents[1]).stdout.strip()


@pytest.fixture(scope="module")
def above_the_budget(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale") / "model"
    return _scale(ROWS, folder), folder


def test_peak_memory_is_the_measuring_process_own_not_its_parents():
    """``scale.py`` measures in a child of the process that generated the data; Linux
    carries ``ru_maxrss`` across ``exec``, so the benchmarks read ``VmHWM`` instead."""
    import resource

    held = np.ones(400 * 2 ** 20 // 8)  # this parent holds 400 MB while it starts a child
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 > 400
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from _common import peak_rss_mb; "
            "print(peak_rss_mb())")
    done = subprocess.run([sys.executable, "-c", code, str(SCRIPT.parent)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout) < 200, "the child reported its parent's peak"
    del held


def test_scale_above_the_budget(above_the_budget):
    _check(above_the_budget[0], ROWS)


def test_export_above_the_budget_serves_the_recommender_lists_from_tensorflow_alone(
        above_the_budget, tmp_path):
    """Two stages in the graph (no users x movies table): the SavedModel's lists and
    stars are the Recommender's without its table, for known and unknown users, with
    the candidate count it was saved with; no stored array passes the size limit."""
    import tensorflow as tf

    import kerasrec as kr
    from kerasrec import scoring
    from kerasrec.export import export_saved_model
    from tests.test_export import _run_client

    rec = kr.Recommender.load(above_the_budget[1])
    rec.candidates = 100
    module = rec.model_.retrieval_module()
    assert module.rank_by == "rating"  # the retrieval tower is off at this size
    served = export_saved_model(rec, tmp_path / "served", score_table=False)
    users = [int(u) for u in rec.pipeline_.user_vocabulary_[:: 997][:6]] + [10 ** 9]
    n = len(users)
    out = _run_client(served, {"recommend": {
        "user_id": users, "daytime": [1.0] * n, "weekend": [0.0] * n, "timestamp": [-1] * n,
        "k": [10] * n, "exclude_seen": [True] * n}}, tmp_path)
    assert out["kerasrec_imported"] is False
    # The Recommender's table (5.6M cells at 600k) ranks every movie exactly; drop it,
    # and keep it dropped, to compare the same two stages.
    original, table, rec._table = scoring.table_problem, rec._table, None
    try:
        scoring.table_problem = lambda *args: "the served graph has no table either"
        for i, user in enumerate(users):
            top = rec.recommend(user, k=10, context={"daytime": 1, "weekend": 0})
            assert out["recommend"]["movie_id"][i] == top["movieId"].tolist(), user
            np.testing.assert_allclose(out["recommend"]["rating"][i],
                                       top["predicted_rating"], atol=1e-4)
    finally:
        scoring.table_problem, rec._table = original, table
    n_users, n_movies = len(rec.pipeline_.user_vocabulary_), len(rec.catalog_.movies)
    stored = tf.train.list_variables(str(Path(served) / "variables" / "variables"))
    # No score table (2-D users x movies); the one flat users x movies array allowed is
    # the neighbourhood's residual lookup, and only up to its limit (a hash table above).
    assert not [name for name, shape in stored if len(shape) == 2
                and shape[0] >= n_users and shape[1] >= n_movies // 2]
    limit = rec.model_.config.dense_residuals_limit
    assert max(int(np.prod(shape)) for _, shape in stored) <= limit


@pytest.mark.slow
def test_scale_twenty_five_million(tmp_path):
    result = _scale(25_000_000)
    _check(result, 25_000_000)
    assert result["peak_rss_train_mb"] <= 8 * 1024
    assert result["neighbour_search_seconds"] <= 60
