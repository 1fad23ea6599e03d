"""Where a training step of a Keras model goes, layer by layer, on a shared split.

Usage:
    pip install xprof   # reads TensorFlow's profile; not a kerasrec dependency
    python benchmarks/step_profile.py [--model hybrid:history_attention=false]
                                      [--split temporal] [--steps 20]

Fits the model for one epoch on the split's training file (settings as
``benchmarks/topn.py``: the validation cut made as the split's test was), records
``--steps`` training steps with ``tf.profiler`` after 40 steps of warm-up, and sums
the recorded op time by the layer it belongs to (``history_attention``,
``catalog_scores``, the optimizer, the losses). Op times add over the threads that run
them, so on 2 cores they exceed the wall time; the shares are what to compare. Prints
one JSON object last: milliseconds of op time a step per layer, largest first, its
share, the 25 most costly ops, and the time of an attention projection's product
with its kernel gradient as Keras computes it and flattened to 2-D.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, emit, missing_real_data, split_file  # noqa: E402

WARM_UP = 40


def op_times(folder: Path) -> list:
    """``[(op name, op type, self-time in microseconds)]`` of a ``tf.profiler`` folder."""
    from xprof.convert import raw_to_tool_data

    files = [str(p) for p in folder.rglob("*.xplane.pb")]
    data, _ = raw_to_tool_data.xspace_to_tool_data(files, "framework_op_stats", {})
    table = json.loads(data)[0]
    names = [c["id"] for c in table["cols"]]
    rows = [{k: (c or {}).get("v") for k, c in zip(names, row["c"])} for row in table["rows"]]
    return [(r["operation"], r["type"], r["total_self_time"]) for r in rows
            if r["type"] != "IDLE"]


def by_layer(ops: list, steps: int) -> dict:
    """Op time a step in milliseconds, summed by layer (the name under the model's
    scope), loss (under ``compile_loss``) or the optimizer's scope."""
    totals = collections.Counter()
    for name, _, micros in ops:
        layer = re.search(r"functional(?:_\d+)?/([^/]+)", name)
        loss = re.search(r"compile_loss/([^/]+)", name)
        key = (re.sub(r"_\d+$", "", layer.group(1)) if layer
               else f"loss: {re.sub(r'_[0-9]+$', '', loss.group(1))}" if loss
               else name.split("/")[1] if name.count("/") else "other")
        totals[key] += micros / 1000.0 / steps
    return dict(totals.most_common())


def projection_gradient_ms(batch: int = 512, length: int = 20, dim: int = 64,
                           calls: int = 200) -> dict:
    """Milliseconds a call, forward and kernel gradient, of an attention projection's
    product: as Keras runs ``EinsumDense`` (a 3-D by 2-D ``tf.matmul``) and on the
    flattened ``(batch x length, dim)`` input."""
    import time

    import tensorflow as tf

    x = tf.random.stateless_normal((batch, length, dim), seed=(0, 0))
    kernel = tf.Variable(tf.random.stateless_normal((dim, dim), seed=(0, 1)))

    def timed(product) -> float:
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(product()))
            return tape.gradient(loss, kernel)

        step()
        start = time.perf_counter()
        for _ in range(calls):
            step()
        return round((time.perf_counter() - start) / calls * 1000.0, 2)

    return {"as_keras_3d_matmul": timed(lambda: tf.matmul(x, kernel)),
            "flattened_2d_matmul": timed(lambda: tf.matmul(tf.reshape(x, (-1, dim)), kernel))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="hybrid", help="NAME[:KEY=VALUE,...]")
    parser.add_argument("--split", choices=("temporal", "random"), default="temporal")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if missing_real_data():
        return 2
    if importlib.util.find_spec("xprof") is None:
        print("needs xprof to read the profile: pip install xprof", file=sys.stderr)
        return 2
    import keras
    import tensorflow as tf

    import kerasrec as kr
    from kerasrec.models import model_class
    from topn import model_spec

    name, options = model_spec(args.model)
    folder = Path(tempfile.mkdtemp(prefix="step_profile_"))
    last = WARM_UP + args.steps - 1

    class Profile(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == WARM_UP:
                tf.profiler.experimental.start(str(folder))

        def on_train_batch_end(self, batch, logs=None):
            if batch == last:
                tf.profiler.experimental.stop()

    train = kr.load_ratings(split_file(args.split))
    config = model_class(name).train_config(
        seed=args.seed, epochs=1, catch_up=False, callbacks=(Profile(),),
        validation_cut="temporal" if args.split == "temporal" else None)
    kr.Recommender(name, seed=args.seed, train=config, **options).fit(
        kr.load_movies(REAL_XLSX).with_ratings(train))
    ops = op_times(folder)
    layers = by_layer(ops, args.steps)
    total = sum(layers.values())
    top = sorted(ops, key=lambda op: -op[2])[:25]
    emit({"model": args.model, "split": args.split, "steps": args.steps,
          "op_ms_per_step": round(total, 1),
          "by_layer_ms_per_step": {k: round(v, 1) for k, v in layers.items() if v >= 0.5},
          "by_layer_share": {k: round(v / total, 3) for k, v in layers.items()
                             if v / total >= 0.01},
          "top_ops_ms_per_step": [[n, t, round(us / 1000.0 / args.steps, 1)]
                                  for n, t, us in top],
          "projection_product_ms_per_call": projection_gradient_ms()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
