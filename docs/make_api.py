"""Write docs/api.md, the API reference, from the package's docstrings.

Usage:
    python docs/make_api.py           # rewrite docs/api.md
    python docs/make_api.py --check   # exit 1 if docs/api.md is not current

``tests/test_docs.py`` runs the check, so the reference never drifts from the code.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "api.md"

#: (module, public names in reading order): load -> features -> split -> models -> train
#: -> evaluate -> recommend -> export, as the package is laid out.
SECTIONS = [
    ("kerasrec.data", ["load_movies", "load_ratings", "ReadLimits", "MovieData", "load_sample",
                       "make_sample", "write_sample", "write_workbook", "write_parquet"]),
    ("kerasrec.features", ["FeaturePipeline"]),
    ("kerasrec.split", ["random_split", "temporal_split", "leave_last_n", "article_split",
                        "Split"]),
    ("kerasrec.models.base", ["model_names", "model_class", "model_table", "register",
                              "RecModel"]),
    ("kerasrec.training", ["TrainConfig", "fit", "make_dataset", "predict"]),
    ("kerasrec.rerank", ["rerank", "rerank_tf", "best_columns", "row_stars_weights"]),
    ("kerasrec.models.hybrid.budget", ["within_budget", "PartLimit"]),
    ("kerasrec.recommend", ["Recommender"]),
    ("kerasrec.catalog", ["Filters", "Catalog"]),
    ("kerasrec.search", ["grid_search", "SearchResult"]),
    ("kerasrec.metrics", ["rmse", "mae", "ndcg", "score", "topn_score", "evaluation_names",
                          "per_user_report", "catalog_coverage"]),
    ("kerasrec.plots", ["training_curves", "predicted_vs_true", "explanation_waterfall",
                        "branch_contributions", "item_map", "topn_curves",
                        "error_by_activity", "long_tail", "sparsity_heatmap",
                        "feature_heatmap", "rating_distribution", "ratings_per_user",
                        "model_diagram"]),
    ("kerasrec.run", ["RunConfig", "train_run", "load_run"]),
    ("kerasrec.export", ["export_saved_model"]),
    ("kerasrec.errors", ["KerasRecError", "DataError", "ArgumentError", "ArtifactError",
                         "PipelineError", "CapabilityError", "UnknownMovieError",
                         "NotFittedError", "TrainingError", "MissingDependencyError",
                         "BackendError", "DataWarning", "ScaleWarning"]),
]


def _signature(obj) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    # A function default shows its name, not its address, so the output is stable.
    return re.sub(r"<function (\S+) at 0x[0-9a-f]+>", r"\1", text)


def _doc(obj) -> str:
    return inspect.getdoc(obj) or "(no docstring)"


def _entry(name: str, obj) -> list:
    kind = "class" if inspect.isclass(obj) else "function"
    lines = [f"### `{name}`", "", "```python", f"{kind} {name}{_signature(obj)}", "```", "",
             _doc(obj), ""]
    if inspect.isclass(obj) and not issubclass(obj, BaseException):
        for member, value in vars(obj).items():
            if member.startswith("_") or not (inspect.isfunction(value)
                                              or isinstance(value, (classmethod, property))):
                continue
            target = value.__func__ if isinstance(value, classmethod) else value
            target = target.fget if isinstance(target, property) else target
            head = (f"{name}.{member}" if isinstance(value, property)
                    else f"{name}.{member}{_signature(target)}")
            lines += [f"#### `{head}`", "", _doc(target), ""]
    return lines


def render() -> str:
    lines = ["# API reference", "",
             "Generated from the docstrings by `python docs/make_api.py`; do not edit by hand.",
             "The user guide is [guide.md](guide.md).", ""]
    for module_name, names in SECTIONS:
        module = importlib.import_module(module_name)
        lines += [f"## `{module_name}`", "", (inspect.getdoc(module) or "").split("\n\n")[0], ""]
        for name in names:
            lines += _entry(name, getattr(module, name))
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = OUT.read_text() if OUT.is_file() else ""
        if current != text:
            print(f"{OUT} is stale: run python docs/make_api.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text):,} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
