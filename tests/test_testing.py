"""The contract check catches models that break the contract."""

from __future__ import annotations

import numpy as np
import pytest

from kerasrec.models import base
from kerasrec.models.base import RecModel
from kerasrec import testing


class _Noise(RecModel):
    """Scores at random, and forgets nothing it would need after loading."""

    summary = "noise"
    scores_cold_pairs = True
    tabulate = False

    def fit(self, pipeline, ratings, products, train=None, seed=0):
        self.rng = np.random.default_rng(seed)
        return self

    def score(self, block):
        return self.rng.uniform(0.5, 5.0, len(block["user_id"]))

    def save_parts(self, folder):
        (folder / "noise.json").write_text("{}")

    def load_parts(self, folder, pipeline):
        self.rng = np.random.default_rng(1)


class _HiddenContext(_Noise):
    """Depends on the daytime flag without saying so (no additive_terms)."""

    tabulate = True

    def score(self, block):
        return 3.0 + np.asarray(block["context"][:, 0], float)


@pytest.fixture
def broken():
    """Register the broken models for one test."""
    names = {"test_noise": _Noise, "test_hidden_context": _HiddenContext}
    for name, cls in names.items():
        base.register(name)(cls)
    testing.fitted_model.cache_clear()
    yield {name: testing.fitted_model(name) for name in names}
    for name in names:
        base._REGISTRY.pop(name)
    testing.fitted_model.cache_clear()


def test_checks_fail_for_models_that_break_the_contract(broken, tmp_path):
    noise = broken["test_noise"]
    with pytest.raises(AssertionError, match="RMSE"):
        testing.check_beats_the_global_mean(noise, tmp_path)
    with pytest.raises(AssertionError, match="not equal"):
        testing.check_save_load_round_trip(noise, tmp_path)
    with pytest.raises(AssertionError, match="daytime"):
        testing.check_table_equals_direct_scoring(broken["test_hidden_context"], tmp_path)
