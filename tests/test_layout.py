"""The package's layers: load -> features -> split -> models -> evaluate -> recommend ->
export; a module imports only from its own layer or those below it (function-local
imports included: deferring an import does not make the dependency go away)."""

from __future__ import annotations

import ast
from pathlib import Path

import kerasrec

ROOT = Path(kerasrec.__file__).parent

#: Bottom to top. A new module or subpackage goes in one of these before its first test
#: run; ``kerasrec`` itself (the facade) sits at the level of the highest it imports.
LAYERS = (
    ("errors", "schema", "_io", "_quiet", "_backend", "_version"),
    ("data",),
    ("features",),
    ("split",),
    ("distribute", "training", "optimizers"),  # the fit loop every model's fit calls
    ("models",),
    ("catalog", "rerank", "scoring", "metrics"),
    ("recommend", "saving"),
    ("export", "plots", "search", "testing"),
    ("run",),
    ("cli", "__main__"),
)
LEVEL = {name: i for i, names in enumerate(LAYERS) for name in names}


def _unit(module: str):
    """``kerasrec.models.hybrid.model`` -> ``models``; ``kerasrec`` -> None (the facade)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(path: Path):
    """(line, imported module) for every kerasrec import in ``path``, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import; kerasrec spells "
                                 "its imports out in full")
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "kerasrec":
            if node.module == "kerasrec":  # `from kerasrec import training` names a module
                for alias in node.names:
                    name = f"kerasrec.{alias.name}"
                    yield node.lineno, name if _unit(name) in LEVEL else "kerasrec"
            else:
                yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "kerasrec":
                    yield node.lineno, alias.name


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        yield path, _unit(".".join(parts)) if parts[-1] != "__init__" or len(parts) > 2 else None


def test_every_module_has_a_layer():
    unplaced = {unit for _, unit in _modules() if unit is not None and unit not in LEVEL}
    assert not unplaced, f"add {sorted(unplaced)} to LAYERS in {__file__}"


def test_no_module_imports_from_a_layer_above_it():
    facade = max(LEVEL[_unit(name)] for _, name in _imports(ROOT / "__init__.py")
                 if _unit(name) is not None)
    upward = []
    for path, unit in _modules():
        if unit is None:
            continue
        for line, name in _imports(path):
            target = _unit(name)
            level = facade if target is None else LEVEL.get(target, len(LAYERS))
            if target != unit and level > LEVEL[unit]:
                upward.append(f"{path.relative_to(ROOT.parent)}:{line}: {unit} imports {name}")
    assert not upward, "\n".join(upward)


def test_the_check_sees_a_function_local_upward_import(tmp_path):
    """The check itself: a deferred import of a higher layer is still found."""
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from kerasrec.recommend import Recommender\n"
                    "    from kerasrec import training, __version__\n")
    assert list(_imports(path)) == [(2, "kerasrec.recommend"), (3, "kerasrec.training"),
                                    (3, "kerasrec")]


def test_what_every_model_shares_names_no_model():
    """Adding a model is adding a file: the contract, the Keras base and the shared layers
    (``_SHARED_MODULES``) import no model's own module, at any depth; a model that
    needs its layers registered to load says so itself (``keras_modules``)."""
    from kerasrec.models.base import _SHARED_MODULES

    shared = {f"kerasrec.models.{module}" for module in _SHARED_MODULES}
    named = [f"{path.relative_to(ROOT.parent)}:{line}: imports {imported}"
             for path in (ROOT / "models" / f"{module}.py" for module in _SHARED_MODULES)
             for line, imported in _imports(path)
             if imported.startswith("kerasrec.models.") and imported not in shared]
    assert not named, "\n".join(named)
