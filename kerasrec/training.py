"""Training: tf.data pipelines and a ``fit`` helper with sound defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

Arrays = Mapping[str, np.ndarray]


@dataclass
class TrainConfig:
    """Settings of :func:`fit`; the defaults suit MovieLens-sized data.

    Attributes:
        epochs: Upper bound; early stopping usually ends training sooner.
        batch_size: Examples per step.
        learning_rate: Adam's initial learning rate.
        validation_fraction: Share of the training rows held out, at random, to pick the
            best epoch (unless validation data is given).
        patience: Epochs without validation improvement before stopping.
        lr_patience: Epochs without improvement before the learning rate is reduced.
        seed: Seeds the validation cut, shuffling and weight initialisation.
        monitor: Loss or compiled metric (without ``val_``) that early stopping and the
            learning-rate schedule watch; lower must be better. ``"loss"`` includes
            regularization penalties; name a metric to watch the fit alone.
        verbose: Keras verbosity (1 = progress bars, 2 = one line per epoch, 0 = silent).
        strategy: ``None``, ``"mirrored"`` or ``"multiworker"`` (see
            :mod:`kerasrec.distribute`); ``batch_size`` is then the global batch, split
            over the replicas.
    """

    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 2e-3
    validation_fraction: float = 0.1
    patience: int = 3
    lr_patience: int = 1
    seed: int = 0
    monitor: str = "loss"
    verbose: int = 2
    strategy: Optional[str] = None

    def __post_init__(self) -> None:
        from kerasrec.distribute import check_strategy

        check_strategy(self.strategy)


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

    Args:
        inputs: Model inputs by name.
        target: Targets, if training or evaluating.
        batch_size: Examples per batch.
        shuffle: Reshuffle every epoch (with ``seed``, so runs repeat).
        seed: Shuffle seed.
    """
    import tensorflow as tf

    elements = (dict(inputs),) if target is None else (dict(inputs), target)
    data = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle:
        n = len(next(iter(inputs.values())))
        data = data.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    # Every worker builds the same in-memory dataset, so under a multi-worker strategy
    # each takes its share of the batches (there are no files to shard by).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)


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
        callbacks=()):
    """Compile (if needed) and train ``model``, keeping the best validation epoch.

    Args:
        model: A Keras model; compiled with Adam and ``loss`` unless already compiled.
        inputs: Training inputs by name (extra arrays are ignored).
        target: Training targets.
        config: Training settings.
        validation: Explicit ``(inputs, target)``; by default a random
            ``validation_fraction`` of the training rows.
        loss: Keras loss, when compiling here.
        metrics: Metric names for compiling; "rmse" is RootMeanSquaredError.
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
    if validation is None and c.validation_fraction:
        train_idx, val_idx = validation_cut(len(target), c.validation_fraction, c.seed)
        validation = ({k: v[val_idx] for k, v in x.items()}, target[val_idx])
        x, target = {k: v[train_idx] for k, v in x.items()}, target[train_idx]
    if not model.compiled:
        from kerasrec.distribute import scope

        # Under a strategy the model must have been built in its scope too (see
        # kerasrec.distribute); compiling there puts the optimizer state beside it.
        with scope(c.strategy):
            named = {"rmse": keras.metrics.RootMeanSquaredError(name="rmse")}
            model.compile(optimizer=keras.optimizers.Adam(c.learning_rate), loss=loss,
                          metrics=[named.get(m, m) for m in metrics])
    watch = f"val_{c.monitor}" if validation is not None else c.monitor
    stop = [keras.callbacks.TerminateOnNaN(),
            keras.callbacks.EarlyStopping(watch, patience=c.patience, mode="min",
                                          restore_best_weights=True),
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
    # The dataset reshuffles itself each epoch (seeded), so Keras must not.
    history = model.fit(train, validation_data=val, epochs=c.epochs, verbose=c.verbose, shuffle=False,
                        callbacks=[*stop, *callbacks])
    last = history.history["loss"][-1]
    if not np.isfinite(last):
        epoch = len(history.history["loss"])
        value = "NaN" if np.isnan(last) else "infinite"
        raise TrainingError(f"training diverged: the loss became {value} in epoch {epoch}; lower "
                            f"the learning rate (now {c.learning_rate:g}) or check the inputs "
                            "for NaN")
    return history


def predict(model, inputs: Arrays, batch_size: int = 65536) -> np.ndarray:
    """Predict in large batches; returns a flat float32 array."""
    x = model_inputs(model, inputs)
    return np.asarray(model.predict(make_dataset(x, batch_size=batch_size), verbose=0)).reshape(-1)
