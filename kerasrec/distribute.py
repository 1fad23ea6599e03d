"""TensorFlow distribution strategies by name, for training on several devices or machines.

kerasrec does not distribute anything itself: it builds and compiles the model under
the chosen ``tf.distribute`` strategy's scope, feeds ``model.fit`` batches of the
*global* batch size, and lets TensorFlow split each batch over the replicas and shard
the data over the workers.

* ``"mirrored"``: ``tf.distribute.MirroredStrategy`` over the devices of one machine
  (all GPUs, else the CPU; more logical CPUs can be configured for testing).
* ``"multiworker"``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the machines
  listed in the ``TF_CONFIG`` environment variable, each running the same command.
  Every worker reads the data; each processes its own shard of every epoch.
"""

from __future__ import annotations

import contextlib
import os
from typing import Optional, Tuple

from kerasrec.errors import ArgumentError

STRATEGIES = ("mirrored", "multiworker")


def check_strategy(name: Optional[str]) -> Optional[str]:
    """Return ``name`` if it is ``None`` or one of :data:`STRATEGIES`.

    Raises:
        ArgumentError: For another name, or ``"multiworker"`` without a usable TF_CONFIG.
    """
    if name is None:
        return None
    if name not in STRATEGIES:
        raise ArgumentError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    if name == "multiworker":
        worker_task()
    return name


def worker_task() -> Tuple[str, int]:
    """This process's ``(task type, index)``, read from ``TF_CONFIG`` by TensorFlow's
    ``TFConfigClusterResolver``.

    Raises:
        ArgumentError: If ``TF_CONFIG`` is missing or malformed.
    """
    if not os.environ.get("TF_CONFIG"):
        raise ArgumentError("strategy 'multiworker' needs the TF_CONFIG environment variable "
                            "(the cluster's workers and this worker's index); see docs/guide.md")
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    try:
        if not resolver.cluster_spec().as_dict().get("worker"):
            raise KeyError("cluster.worker")
        if resolver.task_type is None or resolver.task_id is None:
            raise KeyError("task")
        return resolver.task_type, int(resolver.task_id)
    except (ValueError, KeyError, TypeError) as exc:
        raise ArgumentError(f"TF_CONFIG is not valid ({type(exc).__name__}: {exc}); expected "
                            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": '
                            '"worker", "index": 0}}') from None


def is_chief(name: Optional[str]) -> bool:
    """Whether this process writes the results: always, except non-chief workers."""
    if name != "multiworker":
        return True
    task_type, index = worker_task()
    return task_type == "chief" or (task_type == "worker" and index == 0)


# MultiWorkerMirroredStrategy may be created only once per process (it starts the
# worker's gRPC server), so each named strategy is created once and reused.
_STRATEGY_CACHE: dict = {}


def get_strategy(name: Optional[str]):
    """The ``tf.distribute`` strategy called ``name`` (``None``: TensorFlow's default).

    Created once per process and reused (see above).
    """
    import tensorflow as tf

    check_strategy(name)
    if name is None:
        return tf.distribute.get_strategy()
    if name not in _STRATEGY_CACHE:
        _STRATEGY_CACHE[name] = (tf.distribute.MirroredStrategy() if name == "mirrored"
                                 else tf.distribute.MultiWorkerMirroredStrategy())
    return _STRATEGY_CACHE[name]


def scope(name: Optional[str]):
    """``strategy.scope()`` of the strategy called ``name``; a no-op context for ``None``."""
    return contextlib.nullcontext() if name is None else get_strategy(name).scope()


def patch_symbolic_build(model) -> None:
    """Work around keras-team/keras#20329 on a model trained under ``"multiworker"``.

    Before its first step, Keras 3's TensorFlow trainer averages one input batch over
    the workers (``strategy.reduce``) only to learn its shapes and dtypes, and the
    collective reduce of ``MultiWorkerMirroredStrategy`` rejects nested batches such
    as ``({"user_id": ..., ...}, rating)``. The shapes and dtypes of this worker's own
    first replica are the same, so the model is built from those instead; training
    itself is untouched.
    """
    import tensorflow as tf
    from keras import tree

    strategy = model.distribute_strategy

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tree.map_structure(
                    lambda v: (strategy.experimental_local_results(v)[0]
                               if isinstance(v, tf.distribute.DistributedValues) else v), batch)
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build


def patch_multiworker_reduction() -> None:
    """Work around tensorflow/tensorflow#72388 (Keras 3 with ``"multiworker"``).

    After each step Keras 3 averages the logged loss and metrics over the workers with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails for those scalars
    ("Invalid reduction dimension 0"). Averaging them with ``axis=None`` is what was
    meant. Only the multi-worker path of Keras' TensorFlow trainer changes; applying
    the patch twice is harmless.
    """
    from keras import tree
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "kerasrec_patched", False):
        return

    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction=reduction)

    reduce_per_replica.kerasrec_patched = True
    trainer.reduce_per_replica = reduce_per_replica
