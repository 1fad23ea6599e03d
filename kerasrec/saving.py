"""Saved Recommender folders: written atomically, read without running code from them.

A folder holds ``recommender.json`` (the manifest: format, version, settings, training
history and the SHA-256 of every other file), ``pipeline.json``, the catalog
(``catalog.parquet``, ``seen.parquet``, ``fallback.npz``), the model's own parts
(``RecModel.save_parts``: ``model.keras``, ``state.npz`` ...) and ``scores.npz``, the
score table once built. There is no pickle: ``.keras`` files load in safe mode, arrays
from ``.npz`` without pickles, tables from Parquet, settings from JSON. Every file is
checked against the manifest before it is read, so a damaged, edited or swapped file is
an :class:`~kerasrec.errors.ArtifactError` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from kerasrec import scoring
from kerasrec._io import artifact_kind, as_path, atomic_path, read_manifest, write_manifest
from kerasrec.catalog import Catalog
from kerasrec.errors import ArgumentError, ArtifactError
from kerasrec.features.pipeline import FeaturePipeline
from kerasrec.models.base import model_class
from kerasrec.rerank import CANDIDATES

FORMAT = "kerasrec.Recommender"
#: 1: kerasrec 0.1 (pickled baselines, no checksums), no longer read. 2: this layout.
FORMAT_VERSION = 2
MANIFEST, PIPELINE_FILE, SCORES_FILE = "recommender.json", "pipeline.json", "scores.npz"


def save_recommender(rec, path: Union[str, Path]) -> Path:
    """Write a fitted :class:`~kerasrec.Recommender` into the folder ``path``, atomically.

    Raises:
        ArtifactError: If the folder cannot be written, or ``path`` holds anything but an
            earlier saved Recommender (kerasrec never replaces what it did not write).
    """
    path = Path(path)
    with atomic_path(path, directory=True, kind="recommender") as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        rec.model_.save_parts(tmp)
        rec.pipeline_.save(tmp / PIPELINE_FILE)
        rec.catalog_.save(tmp)
        if rec._table is not None:
            rec._table.save(tmp / SCORES_FILE)
        write_manifest(tmp, MANIFEST, FORMAT, FORMAT_VERSION, {
            "model": rec.model, "seed": rec.seed, "timezone": rec.timezone,
            "rating_scaling": rec.rating_scaling, "candidates": rec.candidates,
            "train": rec.train.to_config() if rec.train is not None else None,
            "config": rec.config, "history": rec.model_.history, "chosen": rec.model_.chosen})
    return path


def _check_kinds(meta: dict) -> None:
    """Refuse manifest values of the wrong kind (an edited file) before they are used."""
    history, chosen = meta["history"], meta.get("chosen", {})
    if not (isinstance(history, dict) and all(isinstance(v, list) for v in history.values())):
        raise TypeError("'history' must map metric names to lists of numbers")
    if not isinstance(chosen, dict) or not isinstance(meta["config"], dict):
        raise TypeError("'chosen' and 'config' must be objects")
    seed = meta["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"'seed' must be a whole number, got {seed!r}")


def load_recommender(path: Union[str, Path], cls=None):
    """Read a folder written by :func:`save_recommender`, or a run directory's model.

    Args:
        path: The folder, or a run directory (``kerasrec train --out DIR``), whose
            ``model/`` is read.
        cls: The Recommender class to build (``kerasrec.Recommender`` by default).

    Raises:
        ArtifactError: If the folder is missing, incomplete, damaged, edited, or of
            another format; the message names the file.
    """
    from kerasrec.training import TrainConfig

    if cls is None:
        from kerasrec.recommend import Recommender as cls
    path = as_path(path)
    if artifact_kind(path) == "run":  # what `kerasrec train --out DIR` wrote: its model/
        path = path / "model"
    meta = read_manifest(path, MANIFEST, FORMAT, FORMAT_VERSION, optional=(SCORES_FILE,))
    try:
        _check_kinds(meta)
        train = TrainConfig.from_config(meta["train"]) if meta["train"] is not None else None
        rec = cls(meta["model"], seed=meta["seed"], timezone=meta["timezone"],
                  rating_scaling=meta["rating_scaling"], train=train,
                  candidates=meta.get("candidates", CANDIDATES), **meta["config"])
        model = model_class(rec.model)(**rec.config)
        rec.pipeline_ = FeaturePipeline.load(path / PIPELINE_FILE)
        rec.catalog_ = Catalog.load(path, rec.pipeline_)
        model.history, model.chosen = meta["history"], meta.get("chosen", {})
    except (KeyError, TypeError, ArgumentError) as exc:
        raise ArtifactError(f"'{path / MANIFEST}': settings do not fit this kerasrec "
                            f"({type(exc).__name__}: {exc})") from None
    except ArtifactError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise ArtifactError(f"'{path}': a file of the saved Recommender is damaged "
                            f"({type(exc).__name__}: {exc}); save it again") from None

    def read_model():
        try:
            model.load_parts(path, rec.pipeline_)
        except ArtifactError:
            raise
        except (OSError, ValueError, EOFError, KeyError, TypeError) as exc:
            raise ArtifactError(f"'{path}': a model file of the saved Recommender is damaged "
                                f"({type(exc).__name__}: {exc}); save it again") from None
        return model

    rec._table = None
    if (path / SCORES_FILE).is_file():
        # The table answers recommend and predict at the reference context by itself:
        # the model's files (and TensorFlow) are read when something first needs them.
        rec._defer_model(model, read_model)
        rec._table = scoring.ScoreTable.load(
            path / SCORES_FILE, terms=scoring.LazyTerms(lambda: scoring.additive_terms(rec.model_)))
    else:
        rec.model_ = read_model()
    return rec
