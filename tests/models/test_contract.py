"""Every registered model passes the contract check of kerasrec.testing."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from kerasrec.models import model_names  # noqa: E402
from kerasrec.testing import CHECKS, fitted_model  # noqa: E402
from tests.models.conftest import KERAS_MODELS  # noqa: E402


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", model_names())
def test_contract(name, check, tmp_path):
    from kerasrec.models import model_class

    needs = model_class(name).requires
    if not model_class(name).available():
        pytest.skip(f"model {name!r} needs the optional {', '.join(needs)} (not installed)")
    check(fitted_model(name), tmp_path)


@pytest.mark.parametrize("name", model_names())
def test_the_test_extra_installs_what_every_model_requires(name):
    """The contract above skips a model whose optional library is missing; the test
    extra installs every such library, so the README's test command checks them all."""
    import configparser
    from pathlib import Path

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from kerasrec.models import model_class

    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[2] / "setup.cfg", encoding="utf-8")
    lines = config["options.extras_require"]["test"].splitlines()
    extra = {canonicalize_name(Requirement(line).name) for line in lines if line.strip()}
    # A model's requires are import names; these libraries' distributions share them.
    missing = {canonicalize_name(n) for n in model_class(name).requires} - extra
    assert not missing, f"add {sorted(missing)} to setup.cfg's test extra for {name!r}"


@pytest.mark.parametrize("name", model_names())
def test_every_option_is_checked_by_kind_and_every_size_is_positive(name):
    """Options are refused by name when the model is made, before any data is read:
    each option with a default refuses a value of another kind, each size refuses 0
    (Keras' "output_dim must be a positive integer", or NumPy's, came only at fit)."""
    from kerasrec import ArgumentError
    from kerasrec.models import model_class

    cls = model_class(name)
    defaults = cls.option_defaults()
    assert set(defaults) <= set(cls.option_names())
    assert set(cls.sizes) <= set(defaults), "a size needs a default to be checked"
    for key, default in defaults.items():
        if default is None or isinstance(default, str):
            continue
        with pytest.raises(ArgumentError, match=f"{name} option {key} must be"):
            cls(**{key: "x"})
    for key in cls.sizes:
        bad = [1, 0] if isinstance(defaults[key], (list, tuple)) else 0
        with pytest.raises(ArgumentError, match=f"{name} option {key} must be a positive whole "
                                                f"number, got 0"):
            cls(**{key: bad})
    cls(**{key: value for key, value in defaults.items() if value is not None})  # defaults pass


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


CORRECTNESS_CHECKS = ("check_cold_start_never_raises", "check_save_load_round_trip",
                      "check_export_equals_predict")
# mixed_float16 trains with a dynamic loss scale that skips steps until it settles: a
# few epochs of the sample's few steps each (AutoRec: 5), so accuracy is asked of
# bfloat16 alone, correctness of both.
POLICY_CHECKS = {"mixed_bfloat16": ("check_beats_the_global_mean",) + CORRECTNESS_CHECKS,
                 "mixed_float16": CORRECTNESS_CHECKS}


@pytest.mark.parametrize("policy", sorted(POLICY_CHECKS))
@pytest.mark.parametrize("name", KERAS_MODELS)
def test_keras_models_keep_the_contract_under_a_mixed_precision_policy(name, policy, tmp_path):
    # The usual speed-up on GPUs: layers compute in 16 bits, variables stay float32.
    import keras

    from kerasrec import testing

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        fitted = testing.fitted_model.__wrapped__(name)  # not the cached float32 one
        assert fitted.rec.model_.keras_model.dtype_policy.name == policy
        for check in POLICY_CHECKS[policy]:
            getattr(testing, check)(fitted, tmp_path / check)
    finally:
        keras.config.set_dtype_policy(before)
