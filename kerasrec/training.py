"""Training: tf.data pipelines and a ``fit`` helper with sound defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np

Arrays = Mapping[str, np.ndarray]
#: Optimizer names :func:`kerasrec.optimizers.get_optimizer` knows (its ``OPTIMIZERS``).
OPTIMIZER_NAMES = ("adam", "lazy_adam")


def resolve_verbose(verbose) -> int:
    """Keras verbosity: ``"auto"`` -> 1 (progress bars) in a terminal, 2 (a line per epoch)
    in Jupyter, else 0; 0, 1 and 2 as they are.

    Raises:
        ArgumentError: For anything else.
    """
    if verbose == "auto":
        import sys

        if "ipykernel" in sys.modules:
            return 2  # a line per epoch: a live bar would be saved as hundreds of lines
        return 1 if sys.stdout.isatty() else 0
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        from kerasrec.errors import ArgumentError

        raise ArgumentError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


@dataclass
class TrainConfig:
    """Settings of :func:`fit`; the defaults suit MovieLens-sized data.

    Attributes:
        epochs: Upper bound; early stopping usually ends training sooner.
        batch_size: Examples per step.
        learning_rate: The optimizer's initial learning rate.
        optimizer: ``"adam"`` (Keras' Adam) or ``"lazy_adam"``
            (:class:`~kerasrec.optimizers.LazyAdam`, which updates only the embedding
            rows each batch touches: several times faster per step when the embedding
            tables are large, e.g. MovieLens-25M), or a ``keras.optimizers.Optimizer``
            (a template: every fit trains a fresh copy of it, with its own learning
            rate; ``learning_rate`` is then unused).
        validation_fraction: Share of the training rows held out to pick the best epoch
            and the settings a fit chooses (unless validation data is given). When it
            holds out no row (a handful of ratings), all train and the training loss is
            watched instead.
        validation_cut: How they are held out: ``"random"`` rows, or ``"temporal"``,
            each user's latest ratings (as :func:`~kerasrec.temporal_split` cuts a test
            set; ``kerasrec train --split temporal`` uses it). Choose the way the model
            will be judged: settings that help predict a random held-out rating differ
            from those that help predict what a user does next.
        catch_up: After the best epoch is restored (and, for the hybrid, the list
            weights chosen), one more pass over the held-out validation rows at the
            learning rate training ended with, so the model learns from them too; with
            a temporal cut these are each user's latest ratings, the most like what
            comes next.
        patience: Epochs without validation improvement before stopping.
        min_delta: Smallest *relative* improvement that counts (1e-4: the monitored
            value must fall by more than 0.01%). Without it, gains of a millionth after
            the learning rate has hit its floor reset the patience and every epoch runs.
        lr_patience: Epochs without improvement before the learning rate is reduced.
        seed: Seeds the validation cut, shuffling and weight initialisation.
        monitor: Loss or compiled metric (without ``val_``) that early stopping and the
            learning-rate schedule watch; lower must be better. ``"loss"`` includes
            regularization penalties; name a metric to watch the fit alone.
        verbose: Keras verbosity (1 = progress bars, 2 = one line per epoch, 0 = silent,
            ``"auto"``: :func:`resolve_verbose`).
        strategy: ``None``, ``"mirrored"`` or ``"multiworker"`` (see
            :mod:`kerasrec.distribute`); ``batch_size`` is then the global batch, split
            over the replicas.
        callbacks: Extra Keras callbacks for ``model.fit`` (not saved with a model).
    """

    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 2e-3
    optimizer: str = "adam"
    validation_fraction: float = 0.1
    validation_cut: str = "random"
    catch_up: bool = False
    patience: int = 3
    min_delta: float = 1e-4
    lr_patience: int = 1
    seed: int = 0
    monitor: str = "loss"
    verbose: int = 2
    strategy: Optional[str] = None
    callbacks: Sequence[Any] = ()

    def __post_init__(self) -> None:
        from kerasrec.distribute import check_strategy
        from kerasrec.errors import ArgumentError, is_number, true_or_false, whole_number

        check_strategy(self.strategy)
        if not isinstance(self.optimizer, str):
            # An optimizer object (imports Keras); a name is checked without it, so a
            # saved model's settings read back without TensorFlow.
            from kerasrec.optimizers import check_optimizer

            check_optimizer(self.optimizer)
        elif self.optimizer not in OPTIMIZER_NAMES:
            raise ArgumentError(f"optimizer must be one of {OPTIMIZER_NAMES}, got "
                                f"{self.optimizer!r}")
        if isinstance(self.callbacks, (str, bytes)) or not isinstance(self.callbacks, Iterable):
            raise ArgumentError(f"callbacks must be a list of Keras callbacks, got "
                                f"{self.callbacks!r}")
        self.callbacks = tuple(self.callbacks)
        odd = [c for c in self.callbacks if not hasattr(c, "set_model")]
        if odd:  # Keras would fail at fit with "'int' object has no attribute 'set_model'"
            raise ArgumentError(f"callbacks must be Keras callbacks (keras.callbacks.Callback), "
                                f"got {odd[0]!r}")
        self.verbose = resolve_verbose(self.verbose)
        self.catch_up = true_or_false(self.catch_up, "catch_up")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ArgumentError(f"monitor must be the name of a loss or metric, got "
                                f"{self.monitor!r}")
        # Kept as Python numbers: NumPy ones pass the checks but not json.dump.
        for name in ("epochs", "batch_size"):
            setattr(self, name, whole_number(getattr(self, name), name))
        if not (is_number(self.learning_rate) and self.learning_rate > 0):
            raise ArgumentError(f"learning_rate must be positive, got {self.learning_rate!r}")
        self.learning_rate = float(self.learning_rate)
        if not (is_number(self.validation_fraction) and 0.0 <= self.validation_fraction < 1.0):
            raise ArgumentError(f"validation_fraction must be in [0, 1), got "
                                f"{self.validation_fraction!r}")
        if self.validation_cut not in ("random", "temporal"):
            raise ArgumentError(f"validation_cut must be 'random' or 'temporal', got "
                                f"{self.validation_cut!r}")
        if not (is_number(self.min_delta) and 0 <= self.min_delta < 1):
            raise ArgumentError(f"min_delta must be in [0, 1), got {self.min_delta!r}")
        self.validation_fraction, self.min_delta = (float(self.validation_fraction),
                                                    float(self.min_delta))
        for name in ("patience", "lr_patience", "seed"):
            setattr(self, name, whole_number(getattr(self, name), name, 0))

    def to_config(self) -> Dict[str, Any]:
        """The settings as JSON-ready data (callbacks are not kept; an optimizer object
        is kept as its Keras config)."""
        config = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "callbacks"}
        if not isinstance(self.optimizer, str):
            import keras

            config["optimizer"] = keras.optimizers.serialize(self.optimizer)
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "TrainConfig":
        """Rebuild from :meth:`to_config` output; an optimizer config must name a Keras
        or registered optimizer class (no code runs from it).

        Raises:
            TypeError, ValueError: For a malformed config.
        """
        config = dict(config)
        if isinstance(config.get("optimizer"), Mapping):
            import keras

            config["optimizer"] = keras.optimizers.deserialize(dict(config["optimizer"]))
        return cls(**config)


def model_inputs(model, arrays: Arrays) -> Dict[str, np.ndarray]:
    """Pick the arrays a model takes, by input name.

    Raises:
        KeyError: If the model needs an input the arrays lack.
    """
    names = [t.name for t in model.inputs]
    missing = [n for n in names if n not in arrays]
    if missing:
        raise KeyError(f"model {model.name!r} needs inputs {missing}; got {sorted(arrays)}")
    return {n: arrays[n] for n in names}


def make_dataset(inputs: Arrays, target: Optional[np.ndarray] = None, *, batch_size: int = 512,
                 shuffle: bool = False, seed: int = 0):
    """A batched, prefetched ``tf.data.Dataset`` over in-memory arrays.

    The arrays are held once, as tensors; each batch gathers its rows by index. With
    ``shuffle`` the indices are a fresh seeded permutation every epoch, computed a batch
    at a time (``tf.random.experimental.index_shuffle``), so shuffling costs neither a
    shuffle buffer nor a materialized permutation, and no per-row work at all.

    Args:
        inputs: Model inputs by name.
        target: Targets, if training or evaluating.
        batch_size: Examples per batch.
        shuffle: Reshuffle every epoch (with ``seed``, so runs repeat).
        seed: Shuffle seed.

    Raises:
        ArgumentError: If ``batch_size`` is not positive or the arrays differ in length.
    """
    import tensorflow as tf

    from kerasrec.errors import ArgumentError

    if batch_size < 1:
        raise ArgumentError(f"batch_size must be positive, got {batch_size}")
    lengths = {name: len(values) for name, values in inputs.items()}
    if target is not None:
        lengths.update({f"target {k}": len(v) for k, v in _named(target).items()})
    if len(set(lengths.values())) > 1:
        raise ArgumentError(f"inputs and target must have the same length, got {lengths}")
    n = next(iter(lengths.values()))
    x = {name: tf.convert_to_tensor(values) for name, values in inputs.items()}
    y = None if target is None else tf.nest.map_structure(tf.convert_to_tensor, target)
    batches = tf.data.Dataset.range(0, n, batch_size)
    if shuffle:
        # One random draw per pass over the data: a new permutation every epoch.
        epoch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        starts = batches
        batches = epoch_seeds.take(1).flat_map(lambda s: starts.map(lambda b: (b, s)))

    def gather(start, epoch_seed=None):
        index = tf.range(start, tf.minimum(start + batch_size, n))
        if epoch_seed is not None:
            index = tf.random.experimental.index_shuffle(
                index, seed=tf.stack([epoch_seed, tf.constant(seed, tf.int64)]),
                max_index=tf.constant(n - 1, tf.int64))
        picked = {name: tf.gather(t, index) for name, t in x.items()}
        if y is None:
            return picked
        return picked, tf.nest.map_structure(lambda t: tf.gather(t, index), y)

    options = tf.data.Options()
    # Every worker builds the same dataset (same seed, so the same permutation), so
    # under a multi-worker strategy each takes its share of the batches.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # tf.data's autotuner gains nothing here (a batch is a few gathers), and freeing
    # an iterator it has tuned for a while stalls: 4-7 s at the start of each epoch
    # after the first, when Keras drops the last epoch's iterator (the hybrid on
    # MovieLens latest-small, benchmarks/hybrid_phases.py). Parallel calls then use
    # as many threads as cores (at most 16).
    options.autotune.enabled = False
    data = batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # flat_map hides the length; Keras needs it for progress bars and epoch ends.
    data = data.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))
    return data.prefetch(tf.data.AUTOTUNE).with_options(options)


def _named(target) -> Dict[str, np.ndarray]:
    """A target as named arrays (one unnamed array is ``{"": array}``)."""
    return dict(target) if isinstance(target, Mapping) else {"": target}


def _rows(target, index):
    """Rows ``index`` of a target array or of each array of a dict of targets."""
    if isinstance(target, Mapping):
        return {k: v[index] for k, v in target.items()}
    return target[index]


def validation_rows(inputs: Arrays, fraction: float, seed: int, cut: str = "random"
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Train/validation row indices of transformed ratings, cut as ``cut`` says
    (:attr:`TrainConfig.validation_cut`): ``"random"`` (:func:`validation_cut`) or
    ``"temporal"``, each user's latest ``fraction`` of ratings by ``timestamp`` (a user
    with one rating keeps it for training; ties by row order)."""
    n = len(inputs["user_id"])
    if cut != "temporal":
        return validation_cut(n, fraction, seed)
    users = np.asarray(inputs["user_id"], np.int64)
    times = np.asarray(inputs.get("timestamp", np.zeros(n, np.int64)), np.int64)
    order = np.lexsort((np.arange(n), times, users))
    sizes = np.bincount(users)
    start = np.cumsum(sizes) - sizes
    from_end = np.empty(n, np.int64)
    from_end[order] = sizes[users[order]] - 1 - (np.arange(n) - start[users[order]])
    held = np.minimum(np.floor(sizes * fraction + 0.5), sizes - 1)[users]
    return np.flatnonzero(from_end >= held), np.flatnonzero(from_end < held)


def validation_cut(n: int, fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Random train/validation row indices.

    Keras' ``validation_split`` takes the *last* rows, and ratings sorted by user
    make that a block of late users; a random cut does not.
    """
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def fit(model, inputs: Arrays, target: np.ndarray, *, config: Optional[TrainConfig] = None,
        validation: Optional[Tuple[Arrays, np.ndarray]] = None, loss="mse", metrics=("rmse",),
        loss_weights=None, callbacks=()):
    """Compile (if needed) and train ``model``, keeping the best validation epoch.

    Args:
        model: A Keras model; compiled with ``config.optimizer`` and ``loss`` unless
            already compiled.
        inputs: Training inputs by name (extra arrays are ignored).
        target: Training targets: an array, or a dict by output name (multi-task).
        config: Training settings.
        validation: Explicit ``(inputs, target)``; by default a random
            ``validation_fraction`` of the training rows.
        loss: Keras loss (or a dict by output), when compiling here.
        metrics: Metric names for compiling (or a dict by output); "rmse" is
            RootMeanSquaredError.
        loss_weights: Weights of the outputs' losses (multi-task), when compiling here.
        callbacks: Extra callbacks.

    Returns:
        The Keras ``History``; the model holds the best epoch's weights.

    Raises:
        TrainingError: If the loss became NaN or infinite (the model is then unusable).
    """
    import keras

    from kerasrec.errors import TrainingError

    c = config or TrainConfig()
    keras.utils.set_random_seed(c.seed)
    x = model_inputs(model, inputs)
    held_out = None  # (all targets, held-out rows), for catch_up
    if validation is None and c.validation_fraction:
        n = len(next(iter(_named(target).values())))
        train_idx, val_idx = (validation_rows(inputs, c.validation_fraction, c.seed,
                                              c.validation_cut)
                              if "user_id" in inputs and len(inputs["user_id"]) == n
                              else validation_cut(n, c.validation_fraction, c.seed))
        if len(val_idx):  # too few ratings to hold any out: train on all, watch the loss
            held_out = (target, val_idx)
            validation = ({k: v[val_idx] for k, v in x.items()}, _rows(target, val_idx))
            x, target = {k: v[train_idx] for k, v in x.items()}, _rows(target, train_idx)
    if not model.compiled:
        from kerasrec.distribute import scope
        from kerasrec.optimizers import get_optimizer

        # Under a strategy the model must have been built in its scope too (see
        # kerasrec.distribute); compiling there puts the optimizer state beside it.
        with scope(c.strategy):
            def metric_list(names):
                return [keras.metrics.RootMeanSquaredError(name="rmse") if m == "rmse" else m
                        for m in names]

            model.compile(optimizer=get_optimizer(c.optimizer, c.learning_rate), loss=loss,
                          loss_weights=loss_weights,
                          metrics=({k: metric_list(v) for k, v in metrics.items()}
                                   if isinstance(metrics, Mapping) else metric_list(metrics)))
    watch = f"val_{c.monitor}" if validation is not None else c.monitor
    stop = [keras.callbacks.TerminateOnNaN(),
            relative_early_stopping(watch, patience=c.patience, min_delta=c.min_delta),
            keras.callbacks.ReduceLROnPlateau(watch, factor=0.3, patience=c.lr_patience, mode="min",
                                              min_lr=1e-5, verbose=0)]
    train = make_dataset(x, target, batch_size=c.batch_size, shuffle=True, seed=c.seed)
    val = None
    if validation is not None:
        val = make_dataset(model_inputs(model, validation[0]), validation[1],
                           batch_size=max(c.batch_size, 8192))
    if c.strategy == "multiworker":
        from kerasrec.distribute import patch_multiworker_reduction, patch_symbolic_build

        patch_symbolic_build(model)
        patch_multiworker_reduction()
    if c.strategy is None:
        build_for_training(model, x, target)
    # The dataset reshuffles itself each epoch (seeded), so Keras must not.
    history = model.fit(train, validation_data=val, epochs=c.epochs, verbose=c.verbose, shuffle=False,
                        callbacks=[*stop, *c.callbacks, *callbacks])
    last = history.history["loss"][-1]
    if not np.isfinite(last):
        epoch = len(history.history["loss"])
        value = "NaN" if np.isnan(last) else "infinite"
        raise TrainingError(f"training diverged: the loss became {value} in epoch {epoch}; lower "
                            f"the learning rate (now {c.learning_rate:g}) or check the inputs "
                            "for NaN")
    if c.catch_up and held_out is not None:
        catch_up(model, inputs, held_out[0], held_out[1], c)
    return history


def build_for_training(model, inputs: Arrays, target) -> None:
    """Create a compiled model's optimizer, loss and metric state before ``model.fit``.

    Without a distribution strategy, Keras 3's TensorFlow trainer leaves that state to
    be created while the first train step is traced, and a ``tf.function`` that creates
    variables on its first call is traced a second time: about 2 s of a 25 s hybrid fit
    on the sample (``benchmarks/first_step.py``). Under a strategy Keras builds that
    state up front itself, as this does, from the arrays' shapes and dtypes (no batch
    is drawn from the shuffled dataset, so the epochs' order is untouched).

    Args:
        model: A compiled Keras model.
        inputs: Its inputs by name.
        target: Its targets (an array, or a dict by output name).
    """
    import keras

    build = getattr(model, "_symbolic_build", None)  # Keras' own step, run by fit under a strategy
    if build is not None:
        def spec(values):  # any batch size, as the dataset's batches have
            return keras.KerasTensor((None, *np.shape(values)[1:]), dtype=values.dtype)

        build(data_batch=keras.tree.map_structure(spec, (dict(inputs), target)))


def catch_up(model, inputs: Arrays, target, rows: np.ndarray, config: TrainConfig) -> None:
    """One pass over the training ``rows`` held out for validation (``TrainConfig.catch_up``),
    at the optimizer's current learning rate, so the model learns from them too.

    Args:
        model: The trained, compiled Keras model.
        inputs: Training inputs by name, as given to :func:`fit`.
        target: Training targets (an array, or a dict by output name), all rows.
        rows: The held-out rows (:func:`validation_rows`).
        config: Training settings (``batch_size``, ``seed``, ``verbose``).
    """
    if not len(rows):
        return
    x = {k: v[rows] for k, v in model_inputs(model, inputs).items()}
    data = make_dataset(x, _rows(target, rows), batch_size=config.batch_size, shuffle=True,
                        seed=config.seed)
    if config.verbose:  # Keras prints no "Epoch" line for a single epoch: say what it is
        print(f"Catch-up: one pass over the {len(rows):,} ratings held out for validation",
              flush=True)
    model.fit(data, epochs=1, verbose=config.verbose, shuffle=False)


def relative_early_stopping(monitor: str, patience: int, min_delta: float):
    """Keras' ``EarlyStopping`` (mode min, best weights restored) where an epoch counts as
    better only if it lowers ``monitor`` by more than ``min_delta`` of its best value.

    Keras' own ``min_delta`` is absolute, and losses here range from 0.01 (scaled MSE)
    to 7 (a softmax over the catalog), so no one absolute value fits them all.
    """
    import keras

    from kerasrec.errors import ArgumentError

    class RelativeEarlyStopping(keras.callbacks.EarlyStopping):
        def _is_improvement(self, monitor_value, reference_value):
            if reference_value is None:
                return True
            return monitor_value < reference_value - min_delta * abs(reference_value)

        def on_epoch_end(self, epoch, logs=None):
            # Keras only warns, then trains every epoch without stopping or restoring.
            if logs is not None and self.monitor not in logs:
                name = self.monitor.removeprefix("val_")
                raise ArgumentError(
                    f"TrainConfig(monitor={name!r}) names no loss or metric of this model; "
                    f"choose from {sorted({k.removeprefix('val_') for k in logs})}")
            super().on_epoch_end(epoch, logs)

    return RelativeEarlyStopping(monitor, patience=patience, mode="min",
                                 restore_best_weights=True)


def predict(model, inputs: Arrays, batch_size: int = 65536) -> np.ndarray:
    """Predict in large batches; returns a flat float32 array.

    TensorFlow warns about "tf.function retracing" when several models predict in a loop
    (each has its own predict function, traced once); that is expected here, so the
    warning is held back for the duration of the call.
    """
    import logging

    x = model_inputs(model, inputs)
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        out = model.predict(make_dataset(x, batch_size=batch_size), verbose=0)
    finally:
        logger.setLevel(level)
    return np.asarray(out).reshape(-1)
