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
    from kerasrec.models import model_class

    needs = model_class(name).requires
    if not model_class(name).available():
        pytest.skip(f"model {name!r} needs the optional {', '.join(needs)} (not installed)")
    check(fitted_model(name), tmp_path)


def test_the_guide_lists_every_registered_model_and_shows_the_popularity_file():
    from pathlib import Path

    from kerasrec.models.base import model_table

    root = Path(__file__).resolve().parents[2]
    guide = (root / "docs" / "guide.md").read_text()
    assert model_table() in guide, "regenerate docs/guide.md's table with model_table()"
    source = (root / "kerasrec" / "models" / "popularity.py").read_text()
    assert f"# kerasrec/models/popularity.py\n{source}```" in guide


def test_model_names_come_only_from_the_registry():
    """No module outside kerasrec/models compares against a model's name."""
    import re
    from pathlib import Path

    import kerasrec
    from kerasrec.models import model_names

    package = Path(kerasrec.__file__).parent
    names = "|".join(model_names())
    pattern = re.compile(rf"""[=!]=\s*["']({names})["']|["']({names})["']\s*[=!]=|"""
                         r"""model\w*\s+(not\s+)?in\s""")
    for path in package.rglob("*.py"):
        if "models" in path.relative_to(package).parts:
            continue
        hits = [line for line in path.read_text().splitlines() if pattern.search(line)]
        assert not hits, f"{path}: {hits}"
