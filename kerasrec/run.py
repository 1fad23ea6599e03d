"""Run directories: one training run, complete, self-describing and written atomically.

``train_run`` splits the ratings, fits a :class:`~kerasrec.Recommender`, evaluates it
on the held-out ratings and writes::

    RUN_DIR/
      run.json          what was run: data, split, model, options, seed, versions, timings
      model/            the Recommender (Recommender.load(RUN_DIR / "model"))
      metrics.json      test metrics (Recommender.evaluate: ratings and top-10 lists)
      history.csv       loss and metrics per epoch, training and validation
      predictions.csv   test predictions: userId, movieId, rating, prediction (the
                        format of the shared scorer)
      data/             train.parquet, test.parquet: the exact ratings used
      plots/            training_curves.png, predicted_vs_true.png,
                        rating_distribution.png, ratings_per_user.png

Everything is written into a temporary folder beside ``RUN_DIR`` and moved into place
at the end, so an interrupted or failed run leaves the previous run untouched and no
mix of old and new files.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np
import pandas as pd

from kerasrec._io import as_path, atomic_path, check_output_folder, json_plain
from kerasrec.errors import MAX_LISTED, ArgumentError, ArtifactError, DataError
from kerasrec.models.base import DEFAULT_MODEL
from kerasrec.schema import RATING_RANGE

FORMAT = "kerasrec.run"
FORMAT_VERSION = 1
SPLITS = ("random", "temporal", "leave_last", "article")


@dataclass
class RunConfig:
    """What :func:`train_run` does.

    Attributes:
        data: Data file or folder (``None``: the bundled sample).
        model: A registered model name (``kerasrec.models.model_names()``).
        split: How to hold out test ratings: ``"random"``, ``"temporal"``,
            ``"leave_last"`` (each user's latest rating) or ``"article"``; ignored when
            ``test_file`` is given.
        test_size: Held-out share for ``random``/``temporal``/``article``.
        train_file, test_file: Explicit ratings files (e.g. a fixed split). With a test
            file, its pairs are removed from the training ratings.
        seed: Seeds the split, initialisation and training.
        epochs: Upper bound on epochs (``None``: the model's default; settings of
            training apply to models trained by gradient descent).
        batch_size: Examples per training step (``None``: the model's default).
        learning_rate: The optimizer's initial learning rate (``None``: the model's default).
        optimizer: ``"adam"`` or ``"lazy_adam"`` (``None``: Adam); see
            :class:`~kerasrec.training.TrainConfig`.
        strategy: ``None``, ``"mirrored"`` or ``"multiworker"`` (Keras models only; see
            :mod:`kerasrec.distribute`). Under ``"multiworker"`` every worker trains and
            evaluates; only the chief (worker 0) writes ``out``.
        timezone: Time zone of the context features.
        rating_scaling: See :class:`~kerasrec.FeaturePipeline`.
        rating_range: The rating scale, in stars (``load_movies(..., rating_range=)``);
            every ratings file is read with it.
        options: Model options, e.g. ``{"mf_dim": 64}``.
        verbose: Keras verbosity while training.
    """

    data: Optional[str] = None
    model: str = DEFAULT_MODEL
    split: str = "random"
    test_size: float = 0.2
    train_file: Optional[str] = None
    test_file: Optional[str] = None
    seed: int = 0
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    learning_rate: Optional[float] = None
    optimizer: Optional[str] = None
    strategy: Optional[str] = None
    timezone: str = "UTC"
    rating_scaling: str = "minmax"
    rating_range: Tuple[float, float] = RATING_RANGE
    options: Dict[str, Any] = field(default_factory=dict)
    verbose: int = 0


def split_ratings(data, config: RunConfig):
    """Training and test ratings for ``config``.

    Raises:
        DataError: If the files do not fit together or the split is unknown.
    """
    from kerasrec.data import load_ratings
    from kerasrec.split import article_split, leave_last_n, random_split, temporal_split

    ratings = data.ratings
    if config.train_file:
        ratings = load_ratings(config.train_file, rating_range=config.rating_range)
    if config.test_file:
        test = load_ratings(config.test_file, rating_range=config.rating_range)
        key = ["userId", "movieId"]
        held = ratings.merge(test[key], on=key, how="left", indicator=True)["_merge"] == "both"
        train = ratings[~held.to_numpy()].reset_index(drop=True)
    else:
        if config.split not in SPLITS:
            raise DataError(f"unknown split {config.split!r}; choose from {', '.join(SPLITS)}")
        if config.split == "random":
            train, test = random_split(ratings, config.test_size, config.seed)
        elif config.split == "temporal":
            train, test = temporal_split(ratings, config.test_size)
        elif config.split == "leave_last":
            train, test = leave_last_n(ratings, 1)
        else:
            train, test = article_split(ratings, config.test_size, config.seed)
    unknown = ~test["movieId"].isin(data.products["movieId"]).to_numpy()
    if unknown.any():
        movies = test["movieId"].to_numpy()[unknown]
        raise DataError(f"{len(set(movies))} test movies are not in the catalog, e.g. "
                        f"{sorted(set(movies))[:3]}", file=config.test_file or data.source,
                        column="movieId", rows=(np.flatnonzero(unknown) + 2)[:MAX_LISTED],
                        n_rows=int(unknown.sum()))
    return train, test


def train_run(config: RunConfig, out: Union[str, Path],
              progress: Callable[[str], None] = lambda message: None) -> Path:
    """Train, evaluate and write one run directory (atomically).

    Args:
        config: What to run.
        out: The run directory: new, empty, or an earlier run (replaced only once the
            new run is complete). Anything else there, or the input data, is refused
            before any work starts.
        progress: Called with a short message at each stage.

    Returns:
        ``out``.

    Raises:
        DataError: For unreadable or invalid data.
        ArtifactError: If ``out`` cannot be written.
    """
    from kerasrec._version import __version__
    from kerasrec.data import load_movies, sample_path
    from kerasrec.data.validate import check_read_options
    from kerasrec.distribute import check_strategy, is_chief
    from kerasrec.models.base import model_class
    from kerasrec.optimizers import check_optimizer
    from kerasrec.recommend import Recommender
    from kerasrec.features.context import check_timezone
    from kerasrec.features.scaling import SCALINGS
    from kerasrec.errors import check_fraction

    started = time.perf_counter()
    model = model_class(config.model)  # names, options and the output checked before work
    model(**config.options)
    settings = {name: getattr(config, name) for name in
                ("epochs", "batch_size", "learning_rate", "optimizer", "strategy")}
    # Settings are chosen on validation data cut the way the test set is: what a user
    # does next for the time-ordered splits.
    settings["validation_cut"] = ("temporal" if config.split in ("temporal", "leave_last")
                                  else None)
    train_config = model.train_config(seed=config.seed, verbose=config.verbose, **settings)
    inputs = (config.data, config.train_file, config.test_file)
    if is_chief(config.strategy):
        check_output_folder(out, "run", inputs)
    check_strategy(config.strategy)
    if config.split not in SPLITS:
        raise ArgumentError(f"unknown split {config.split!r}; choose from {', '.join(SPLITS)}")
    if config.split in ("random", "temporal", "article") and not config.test_file:
        check_fraction(config.test_size)
    if config.optimizer is not None:
        check_optimizer(config.optimizer)
    check_timezone(config.timezone)
    check_read_options(rating_range=config.rating_range)
    if config.rating_scaling not in SCALINGS:
        raise ArgumentError(f"rating scaling must be one of {SCALINGS}, got "
                            f"{config.rating_scaling!r}")
    rec = Recommender(config.model, seed=config.seed, timezone=config.timezone,
                      rating_scaling=config.rating_scaling, train=train_config,
                      verbose=config.verbose, **config.options)
    source = config.data or str(sample_path())
    progress(f"loading {source}")
    data = load_movies(source, rating_range=config.rating_range)
    try:
        train, test = split_ratings(data, config)
    except DataError as exc:
        if exc.file:
            raise
        raise exc.with_file(source) from None
    progress(f"{len(train):,} training and {len(test):,} test ratings")
    progress(f"training {config.model}")
    fit_start = time.perf_counter()
    rec.fit(data.with_ratings(train))
    fit_seconds = time.perf_counter() - fit_start
    progress("evaluating on the test ratings")
    predictions = test[["userId", "movieId", "rating"]].assign(prediction=rec.predict(test))
    scores = rec.evaluate(test)
    out = Path(out)
    if not is_chief(config.strategy):
        progress("done (only the chief worker writes the run)")
        return out
    progress(f"writing {out}")
    with atomic_path(out, directory=True, kind="run", inputs=inputs) as tmp:
        rec.save(tmp / "model")
        (tmp / "data").mkdir()
        train.to_parquet(tmp / "data" / "train.parquet", index=False)
        test.to_parquet(tmp / "data" / "test.parquet", index=False)
        predictions.to_csv(tmp / "predictions.csv", index=False)
        pd.DataFrame(rec.history_).rename_axis("epoch").to_csv(tmp / "history.csv")
        (tmp / "metrics.json").write_text(json.dumps(
            {**scores, "fit_seconds": round(fit_seconds, 2)}, indent=1, default=json_plain))
        write_plots(tmp, rec, predictions, train)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "config": {**config.__dict__, "data": source},
                "kerasrec_version": __version__, "python": platform.python_version(),
                "n_train": len(train), "n_test": len(test),
                "seconds": round(time.perf_counter() - started, 2),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (tmp / "run.json").write_text(json.dumps(meta, indent=1, default=json_plain))
    return out


def write_plots(folder: Path, rec, predictions: pd.DataFrame, train: pd.DataFrame) -> list:
    """Write the run's PNG plots into ``folder / "plots"``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerasrec import plots

    figures = {"rating_distribution": plots.rating_distribution(train),
               "ratings_per_user": plots.ratings_per_user(train, which="training"),
               "predicted_vs_true": plots.predicted_vs_true(predictions["rating"],
                                                            predictions["prediction"])}
    if rec.history_:
        figures["training_curves"] = plots.training_curves(rec.history_)
    target = folder / "plots"
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = target / f"{name}.png"
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=100)
        plt.close(figure)
        paths.append(path)
    return paths


@dataclass
class Run:
    """A run directory read back: the Recommender and what was recorded."""

    path: Path
    recommender: Any
    meta: Dict[str, Any]

    def test_ratings(self) -> pd.DataFrame:
        """The held-out ratings of the run.

        Raises:
            ArtifactError: If the file is missing, damaged or not a ratings table.
        """
        return self._ratings("test.parquet")

    def train_ratings(self) -> pd.DataFrame:
        """The ratings the model was trained on (raises as :meth:`test_ratings`)."""
        return self._ratings("train.parquet")

    def _ratings(self, name: str) -> pd.DataFrame:
        path = self.path / "data" / name
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            raise ArtifactError(f"'{path}' cannot be read ({type(exc).__name__}: {exc}); "
                                "train the run again") from None
        missing = [c for c in ("userId", "movieId", "rating") if c not in frame.columns]
        if missing:
            raise ArtifactError(f"'{path}' has no column(s) {missing}; it was changed after "
                                "the run. Train the run again")
        return frame


def load_run(path: Union[str, Path]) -> Run:
    """Read a run directory (or a bare folder written by ``Recommender.save``).

    Raises:
        ArtifactError: If ``path`` is neither.
    """
    from kerasrec.recommend import Recommender

    path = as_path(path)
    if path.is_file():
        raise ArtifactError(f"'{path}' is a file; give a run directory (kerasrec train --out "
                            "DIR) or the folder of a saved Recommender")
    if (path / "recommender.json").is_file():
        return Run(path, Recommender.load(path), {})
    if not (path / "run.json").is_file():
        raise ArtifactError(f"'{path}' is not a run directory (no run.json); create one with "
                            "`kerasrec train --out {path}`".replace("{path}", str(path)))
    try:
        meta = json.loads((path / "run.json").read_text())
    except ValueError as exc:
        raise ArtifactError(f"'{path / 'run.json'}': unreadable ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError(f"'{path / 'run.json'}': not a kerasrec run (expected a JSON object "
                            f"with format '{FORMAT}')")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"'{path / 'run.json'}': format version "
                            f"{meta.get('format_version')!r}; this kerasrec reads version "
                            f"{FORMAT_VERSION}. Train the run again")
    if not isinstance(meta.get("config"), dict):
        raise ArtifactError(f"'{path / 'run.json'}': no 'config' object; the file was edited "
                            "or damaged. Train the run again")
    return Run(path, Recommender.load(path / "model"), meta)
