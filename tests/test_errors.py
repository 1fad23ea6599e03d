"""``kerasrec.errors``: the argument rules every public function checks with."""

from __future__ import annotations

import numpy as np
import pytest

import kerasrec as kr
from kerasrec.errors import is_number, true_or_false, whole_number


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_whole_numbers_pass_as_python_ints(value):
    result = whole_number(value, "k")
    assert result == 3 and type(result) is int  # JSON-ready


@pytest.mark.parametrize("value", [True, np.bool_(True), 3.0, np.float32(3), "3", None, [3]])
def test_anything_else_is_not_a_whole_number(value):
    with pytest.raises(kr.ArgumentError, match=r"^k must be a positive whole number, got "):
        whole_number(value, "k")


def test_the_message_says_what_is_accepted():
    with pytest.raises(kr.ArgumentError, match=r"^k must be a positive whole number of movies, "
                                               r"got 0$"):
        whole_number(0, "k", unit="movies")
    assert whole_number(0, "seed", 0) == 0
    with pytest.raises(kr.ArgumentError, match=r"^seed must be a whole number, 0 or more, "
                                               r"got -1$"):
        whole_number(-1, "seed", 0)
    with pytest.raises(kr.ArgumentError, match=r"^hours must be a whole number, 2 or more"):
        whole_number(1, "hours", 2)
    with pytest.raises(kr.PipelineError, match="old_cutoff"):
        whole_number("1990", "old_cutoff", error=kr.PipelineError)


def test_numbers_are_finite_reals_not_flags_or_text():
    assert all(is_number(v) for v in (0, 0.5, -2, np.float32(0.5), np.int64(2)))
    assert not any(is_number(v) for v in (True, np.bool_(False), "0.5", None, float("nan"),
                                          float("inf"), np.float64("nan"), [0.5], 1j))


def test_switches_are_booleans_not_words():
    assert true_or_false(np.bool_(False), "lists") is False and true_or_false(True, "x") is True
    for value in ("no", "False", 1, 0.0, None):
        with pytest.raises(kr.ArgumentError, match=r"^exclude_seen must be True or False, got "):
            true_or_false(value, "exclude_seen")
