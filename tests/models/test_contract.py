"""Every registered model passes the contract check of kerasrec.testing."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from kerasrec.models import model_names  # noqa: E402
from kerasrec.testing import CHECKS, fitted_model  # noqa: E402


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", model_names())
def test_contract(name, check, tmp_path):
    check(fitted_model(name), tmp_path)
