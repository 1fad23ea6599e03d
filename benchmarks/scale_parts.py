"""What each part of the hybrid costs at scale: build seconds and ms per training step.

Usage:
    python benchmarks/scale_parts.py [--rows 1000000] [--parts core user_history ...]
                                     [--steps 20] [--batch-size 16384]

Generates ``--rows`` MovieLens-25M-shaped ratings (as ``benchmarks/scale.py``), then
for the article's four branches with the biases (``core``) and for each part added to
them alone (``session_bias``, ``item_neighbours``, ``user_neighbours``,
``user_history``, ``retrieval``: the tower with in-batch negatives, without its
sequence branch and co-watch part; ``sequence``: the tower as the sequence branch alone,
``pooled_history=False``, on 256 rows of each batch against each other's movies;
``co_watch``: that tower plus the co-watch part, its closed-form fit timed with the
build) builds the backbone from the ratings (the build
seconds: neighbour search, sessions, stored pairs) and times ``--steps`` training
steps after a warm-up. ``kerasrec.models.hybrid.budget`` quotes these figures for the
parts it switches off on large data (``scale_parts``). Prints one JSON line per part;
the last line holds them all.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

PARTS = {
    "core": {},
    "session_bias": {"session_bias": True},
    "item_neighbours": {"neighbours": ("item",)},
    "user_neighbours": {"neighbours": ("user",)},
    "user_history": {"user_history": True},
    "retrieval": {"retrieval": True, "history_attention": False, "co_watch": False,
                  "retrieval_negatives": "in_batch"},
    "sequence": {"retrieval": True, "pooled_history": False, "history_rows": 256,
                 "co_watch": False, "retrieval_negatives": "in_batch"},
    "co_watch": {"retrieval": True, "pooled_history": False, "history_rows": 256,
                 "co_watch": True, "retrieval_negatives": "in_batch"},
}


def cost(pipeline, x, part: str, steps: int, batch_size: int) -> dict:
    from kerasrec.models.hybrid.backbone import HybridBackbone
    from kerasrec.models.hybrid.config import HybridConfig
    from kerasrec.models.hybrid.retrieval_layers import InBatchSoftmax
    from kerasrec.optimizers import get_optimizer
    from kerasrec.training import make_dataset, model_inputs

    from scale import CORE_HYBRID

    config = HybridConfig(**{**CORE_HYBRID, **PARTS[part], "scale_parts": False})
    start = time.perf_counter()
    backbone = HybridBackbone.from_training(pipeline, x, config)
    if backbone.co_watch is not None:
        from kerasrec.models.hybrid.co_watch import fit_co_watch

        backbone.co_watch.set_weights_from(*fit_co_watch(
            x["user_id"], x["item_id"], pipeline.n_items, config.co_watch_l2,
            backbone.co_watch.n_weights, config.co_watch_max_items,
            min_ratings=config.co_watch_min_ratings, timestamps=x["timestamp"],
            window=config.co_watch_window, after_weight=1.0))
    build = time.perf_counter() - start
    optimizer = get_optimizer("lazy_adam", 4e-3)
    if config.retrieval:
        model = backbone.training_model()
        model.compile(optimizer=optimizer,
                      loss={"rating": "mse", "retrieval": InBatchSoftmax()},
                      loss_weights={"rating": 1.0, "retrieval": config.retrieval_weight})
        targets = {"rating": x["rating"], "retrieval": x["item_id"]}
    else:
        model = backbone
        model.compile(optimizer=optimizer, loss="mse")
        targets = x["rating"]
    data = make_dataset(model_inputs(backbone, x), targets, batch_size=batch_size, shuffle=True)
    model.fit(data.take(3), epochs=1, verbose=0)  # traces the graph
    start = time.perf_counter()
    model.fit(data.take(steps), epochs=1, verbose=0)
    step = (time.perf_counter() - start) / steps
    return {"part": part, "build_seconds": round(build, 1), "step_ms": round(1000 * step, 1),
            "epoch_seconds_estimate": round(step * len(x["rating"]) / batch_size, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parts", nargs="+", choices=tuple(PARTS), default=list(PARTS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16384)
    args = parser.parse_args(argv)
    import json

    from _common import emit
    from scale import generate

    import kerasrec as kr

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        generate(args.rows, Path(tmp) / "ratings")
        data = kr.load_movies(Path(tmp) / "ratings")
    pipeline = kr.FeaturePipeline().fit(data)
    x = pipeline.transform(data.ratings, item_features=False)
    del data
    for part in args.parts:
        results.append(cost(pipeline, x, part, args.steps, args.batch_size))
        print(json.dumps(results[-1]), flush=True)
    emit({"rows": args.rows, "batch_size": args.batch_size, "parts": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
