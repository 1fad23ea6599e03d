"""The hybrid switches off, loudly, the parts too costly for the data's size."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec.errors import ScaleWarning  # noqa: E402
from kerasrec.models.hybrid import budget  # noqa: E402
from kerasrec.models.hybrid.config import HybridConfig  # noqa: E402
from kerasrec.training import TrainConfig  # noqa: E402


def test_large_data_switches_off_the_costly_parts_and_says_which():
    config, notes = budget.within_budget(HybridConfig(), 25_000_000)
    assert (config.user_history, config.retrieval, config.neighbours, config.ids_only) == (
        False, False, ("item",), True)
    assert config.mlp and config.session_bias and config.item_features  # the rest stays
    assert config.neighbour_pool == 50  # narrowed, not switched off
    assert len(notes) == 5 and all("scale_parts=False" in n for n in notes)
    assert any("SVD++" in n and "25,000,000" in n for n in notes)
    assert any(n.startswith("hybrid: narrowed the movies' neighbour pool") for n in notes)


def test_the_sequence_only_tower_is_kept_at_scale_and_its_co_watch_part_is_not():
    config, notes = budget.within_budget(
        HybridConfig(pooled_history=False, history_rows=256), 25_000_000)
    assert config.retrieval and config.sequence_on and config.history_rows == 256
    assert not config.co_watch and not config.co_watch_on
    assert any(n.startswith("hybrid: switched off the co-watch part") for n in notes)
    assert not any("retrieval tower" in n for n in notes)
    # The pooled tower is switched off whole, so nothing is said of its co-watch part.
    _, notes = budget.within_budget(HybridConfig(), 25_000_000)
    assert any("pooled_history=False" in n for n in notes)
    assert not any("switched off the co-watch" in n for n in notes)


def test_the_sequence_only_tower_needs_its_branch_and_rows_need_it():
    from kerasrec.errors import ArgumentError

    with pytest.raises(ArgumentError, match="keep history_attention=True"):
        HybridConfig(pooled_history=False, history_attention=False)
    with pytest.raises(ArgumentError, match="pass pooled_history=False with it"):
        HybridConfig(history_rows=64)
    with pytest.raises(ArgumentError, match="it needs pooled_history=True"):
        HybridConfig(pooled_history=False, retrieval_user_ids=True)
    with pytest.raises(ArgumentError, match="history_rows must be 0"):
        HybridConfig(pooled_history=False, history_rows=-1)
    assert not HybridConfig(pooled_history=False, retrieval=False).sequence_on


def test_a_capped_setting_is_never_raised():
    config, notes = budget.within_budget(HybridConfig(neighbour_pool=30), 25_000_000)
    assert config.neighbour_pool == 30 and not any("neighbour pool" in n for n in notes)
    config, notes = budget.within_budget(HybridConfig(), 3_000_000)
    assert config.neighbour_pool == 100 and not any("neighbour pool" in n for n in notes)


def test_small_data_parts_already_off_and_scale_parts_false_are_left_alone():
    assert budget.within_budget(HybridConfig(), 100_836) == (HybridConfig(), [])
    kept = HybridConfig(scale_parts=False)
    assert budget.within_budget(kept, 25_000_000) == (kept, [])
    config, notes = budget.within_budget(
        HybridConfig(user_history=False, retrieval=False, ids_only=True, neighbours=("user",)),
        25_000_000)
    assert config.neighbours == () and len(notes) == 1 and "user neighbourhood" in notes[0]
    config, notes = budget.within_budget(HybridConfig(neighbours=()), 3_000_000)
    assert config.neighbours == () and not any("neighbourhood" in n for n in notes)


def test_fit_warns_and_trains_without_the_part_and_the_saved_model_knows(
        sample_split, monkeypatch, tmp_path):
    data, test = sample_split
    limits = tuple(dataclasses.replace(limit, max_ratings=1_000)
                   if "SVD++" in limit.part else limit for limit in budget.LIMITS)
    monkeypatch.setattr(budget, "LIMITS", limits)
    train = TrainConfig(epochs=2, batch_size=256, learning_rate=3e-3, verbose=0)
    rec = kr.Recommender(train=train, retrieval=False, neighbours=(), seed=0)
    with pytest.warns(ScaleWarning, match=r"SVD\+\+ history.*scale_parts=False"):
        rec.fit(data)
    assert rec.model_.backbone.history_factors is None
    assert rec.model_.config.user_history is False
    loaded = kr.Recommender.load(rec.save(tmp_path / "model"))
    assert loaded.model_.config.user_history is False
    # Asked to keep it, the model keeps it, and says nothing.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ScaleWarning)
        kept = kr.Recommender(train=train, retrieval=False, neighbours=(), seed=0,
                              scale_parts=False).fit(data)
    assert kept.model_.backbone.history_factors is not None
