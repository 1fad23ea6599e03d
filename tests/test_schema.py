"""The shared schema: one daytime/weekend rule in two forms, and the layering it allows."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kerasrec

from kerasrec.schema import context_features, context_features_tf, utc_offsets


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata",
                                  "Australia/Lord_Howe", "America/St_Johns"])
def test_tensorflow_context_rule_equals_the_numpy_rule(zone):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    starts, offsets = utc_offsets(zone)
    edges = np.concatenate([starts[1:], starts[1:] - 1, starts[1:] + 1800])
    stamps = np.concatenate([rng.integers(0, 4_000_000_000, 3000), edges]).astype(np.int64)
    for hours in ((6, 20), (0, 24), (9, 17)):
        flags = context_features_tf(tf.constant(stamps), tf.constant(starts),
                                    tf.constant(offsets), hours).numpy()
        np.testing.assert_array_equal(flags, context_features(stamps, zone, hours),
                                      err_msg=f"{zone} {hours}")


# What each layer may import from kerasrec: only layers below it.
ALLOWED = {
    "data": {"errors", "schema", "_io", "data"},
    "features": {"errors", "schema", "_io", "data", "features"},
    "models": {"errors", "schema", "_io", "data", "features", "models", "training",
               "distribute", "optimizers"},
}


def _kerasrec_imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            if name.startswith("kerasrec."):
                yield name.split(".")[1]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_never_import_higher_ones(layer):
    package = Path(kerasrec.__file__).parent / layer
    for path in package.rglob("*.py"):
        used = set(_kerasrec_imports(path))
        assert used <= ALLOWED[layer], f"{path} imports {sorted(used - ALLOWED[layer])}"


def test_one_loose_name_rule_for_the_loaders_hint_and_the_pairs_aliases(products, ratings):
    """A column the loaders would hint a rename for is one predict's pairs read as is."""
    import kerasrec as kr
    from kerasrec.schema import loose_name

    assert {loose_name(c) for c in ("userId", "user_id", "User ID", "USER-ID")} == {"userid"}
    written = ratings.rename(columns={"userId": "User ID", "movieId": "movie_id"})
    with pytest.raises(kr.DataError, match="rename 'User ID' -> 'userId', 'movie_id' -> 'movieId'"):
        kr.MovieData.from_frames(products, written)
    from kerasrec.recommend import _as_pairs

    assert list(_as_pairs(written)[["userId", "movieId"]].columns) == ["userId", "movieId"]


def test_ids_in_calls_are_read_as_the_loaders_read_ids():
    from kerasrec.schema import as_ids

    assert as_ids(["2", 3.0, np.int32(4)], "movies").tolist() == [2, 3, 4]
    assert as_ids("12", "movies").tolist() == [12]  # one id, not the ids 1 and 2
    assert as_ids(pd.Series([7, 8]), "users").dtype == np.int64
    for bad, words in (([2.5], "found 2.5"), (["12a"], "found '12a'"), ([True], "found True"),
                       ([None], "found None"), ([2.0 ** 70], "64-bit")):
        with pytest.raises(kerasrec.ArgumentError, match=words):
            as_ids(bad, "movies")
