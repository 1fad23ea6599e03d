"""Top-N lists and rating accuracy of a model on a shared split, by the shared scorers.

Usage:
    python benchmarks/topn.py --model hybrid --split temporal
    python benchmarks/topn.py --table [--models hybrid mf ...] [--splits temporal random]
    python benchmarks/topn.py --table --models hybrid hybrid:history_attention=false ease
    python benchmarks/topn.py --table --models hybrid mf --dtype-policy mixed_bfloat16

A model may carry options after a colon (``NAME:KEY=VALUE,KEY=VALUE``), as
``kerasrec train --set`` takes them, to compare variants in one run.

Trains on ../shared/data/splits/movies_{random,temporal}80_train.csv (product features
from ../shared/data/data_movies.xlsx; Keras models pick their best epoch and settings on
10% of the training file cut as the split's test was: at random for ``random``, each
user's latest ratings for ``temporal``; never on the test file), then

* predicts the test ratings and scores them with ../shared/bench/score_predictions.py;
* writes each test user's top 20 over the whole catalog, movies rated in training
  excluded (``Recommender.recommend_many``), to DIR/lists_MODEL_SPLIT.csv and scores
  them with ../shared/bench/score_topn.py, whose JSON it prints last.

``--table`` does this for several models and both splits in one run, adds the
"most popular movies" reference list (every user gets the most rated unseen movies),
and prints a Markdown table (RMSE, watched/liked recall@10 and NDCG@10, coverage,
novelty) before one JSON object with every figure.

``--dtype-policy`` sets Keras' dtype policy before any model is built (e.g.
``mixed_bfloat16``: layers compute in 16 bits, variables stay float32), to measure what
mixed precision costs in stars and lists.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (REAL_XLSX, ROOT, SCORER, SHARED, emit, missing_real_data,  # noqa: E402
                     split_file)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import kerasrec as kr  # noqa: E402
from kerasrec.models import model_class, model_names  # noqa: E402

TOPN_SCORER = SHARED / "bench" / "score_topn.py"
POPULAR = "most popular (reference)"


def _score(scorer: Path, path: Path, *extra: str) -> dict:
    done = subprocess.run([sys.executable, str(scorer), str(path), *extra], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def model_spec(text: str):
    """``"hybrid:mf_dim=64,l2=0.01"`` -> ``("hybrid", {"mf_dim": 64, "l2": 0.01})``."""
    from kerasrec.cli import _options

    name, _, options = text.partition(":")
    if name not in model_names():
        raise argparse.ArgumentTypeError(f"unknown model {name!r}; choose from {model_names()}")
    try:
        return name, _options([o for o in options.split(",") if o])
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run_model(spec: str, split: str, data: kr.MovieData, out: Path, seed: int = 0) -> dict:
    """Fit ``spec`` (a model name, options after a colon) on the split's training file;
    score its ratings and its lists."""
    name, options = model_spec(spec)
    train_file, test_file = split_file(split), split_file(split, "test")
    train, test = kr.load_ratings(train_file), kr.load_ratings(test_file)
    start = time.perf_counter()
    # Settings are chosen on a validation cut made the way the split's test set was.
    train_config = model_class(name).train_config(
        seed=seed, validation_cut="temporal" if split == "temporal" else None)
    rec = kr.Recommender(name, seed=seed, train=train_config, **options)
    rec.fit(data.with_ratings(train))
    fit_seconds = time.perf_counter() - start
    name = spec.replace(":", "_").replace("=", "-").replace(",", "_")  # a file name
    predictions = out / f"predictions_{name}_{split}.csv"
    test.assign(prediction=rec.predict(test))[["userId", "movieId", "rating", "prediction"]] \
        .to_csv(predictions, index=False)
    start = time.perf_counter()
    users = np.intersect1d(test["userId"].unique(), train["userId"].unique())
    lists = rec.recommend_many(users, k=20)[["userId", "rank", "movieId"]]
    list_seconds = time.perf_counter() - start
    path = out / f"lists_{name}_{split}.csv"
    lists.to_csv(path, index=False)
    return {"model": spec, "split": split, "fit_seconds": round(fit_seconds, 1),
            "lists_seconds": round(list_seconds, 2),
            "chosen": {k: v for k, v in rec.model_.chosen.items()  # on validation
                       if not k.startswith("val_")},
            "ratings": _score(SCORER, predictions, "--test", str(test_file)),
            "topn": _score(TOPN_SCORER, path, "--test", str(test_file), "--train",
                           str(train_file))}


def run_popular(split: str, out: Path) -> dict:
    """Every user gets the most rated movies they have not rated."""
    train_file, test_file = split_file(split), split_file(split, "test")
    train, test = pd.read_csv(train_file), pd.read_csv(test_file)
    ranked = train["movieId"].value_counts().index.to_numpy()[:2000]
    seen = train.groupby("userId")["movieId"].apply(set)
    rows = []
    for user in np.intersect1d(test["userId"].unique(), train["userId"].unique()):
        top = [m for m in ranked if m not in seen[user]][:20]
        rows += [(user, r + 1, m) for r, m in enumerate(top)]
    path = out / f"lists_popular_{split}.csv"
    pd.DataFrame(rows, columns=["userId", "rank", "movieId"]).to_csv(path, index=False)
    return {"model": POPULAR, "split": split, "ratings": {},
            "topn": _score(TOPN_SCORER, path, "--test", str(test_file), "--train",
                           str(train_file))}


def markdown(results) -> str:
    """One row per model and split."""
    lines = ["| model | split | RMSE | watched recall@10 | watched NDCG@10 | liked recall@10 "
             "| liked NDCG@10 | coverage@10 | novelty@10 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        t, rmse = r["topn"], r["ratings"].get("rmse")
        lines.append(f"| {r['model']} | {r['split']} | {'—' if rmse is None else f'{rmse:.4f}'} "
                     f"| {t['watched_recall@10']:.3f} | {t['watched_ndcg@10']:.3f} "
                     f"| {t['liked_recall@10']:.3f} | {t['liked_ndcg@10']:.3f} "
                     f"| {t['coverage@10']} | {t['novelty@10']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, metavar="NAME[:KEY=VALUE,...]")
    parser.add_argument("--split", choices=("temporal", "random"), default="temporal")
    parser.add_argument("--table", action="store_true", help="several models, both splits")
    parser.add_argument("--models", nargs="+", default=None, metavar="NAME[:KEY=VALUE,...]")
    parser.add_argument("--splits", nargs="+", choices=("temporal", "random"),
                        default=["temporal", "random"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out"))
    parser.add_argument("--dtype-policy", default=None,
                        help="Keras dtype policy, e.g. mixed_bfloat16 (default: float32)")
    args = parser.parse_args(argv)
    if args.dtype_policy:
        import keras

        keras.config.set_dtype_policy(args.dtype_policy)
    for spec in [args.model] * bool(args.model) + list(args.models or []):
        try:
            model_spec(spec)
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    if missing_real_data():
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = kr.load_movies(REAL_XLSX)
    if not args.table:
        if args.model is None:
            parser.error("give --model NAME, or --table")
        result = run_model(args.model, args.split, data, out, args.seed)
        print(json.dumps({k: v for k, v in result.items() if k != "topn"}))
        emit(result["topn"])
        return 0
    results = []
    for split in args.splits:
        results.append(run_popular(split, out))
        for name in args.models or model_names():
            results.append(run_model(name, split, data, out, args.seed))
            print(json.dumps({"model": name, "split": split,
                              "rmse": results[-1]["ratings"]["rmse"],
                              "watched_recall@10": results[-1]["topn"]["watched_recall@10"]}),
                  flush=True)
    print(markdown(results))
    emit({"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
