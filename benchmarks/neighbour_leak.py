"""Why the hybrid picks neighbours by co-rating, not by rating values.

Usage:
    python benchmarks/neighbour_leak.py [--pool 100]

On a random 90/10 cut (seed 1) of ../shared/data/splits/movies_random80_train.csv,
computes the item-KNN column of the hybrid's ``item_neighbourhood`` layer twice: with
neighbours chosen by residual cosine (the classic item-KNN choice) and by co-rating
cosine (``neighbourhood_data``, the library's choice). For each it prints the
correlation of the column with the baseline residual on the training pairs and on the
held-out pairs. A feature far more correlated on training pairs than on new ones
leaks the target. Last line: JSON.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, SPLITS, emit  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import kerasrec as kr  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=100)
    args = parser.parse_args(argv)
    import keras

    from kerasrec.models import Neighbourhood, neighbourhood_data
    from kerasrec.models.baselines import nearest_rows, shrunk_biases

    ratings = kr.load_ratings(SPLITS / "movies_random80_train.csv")
    fit_part, val = kr.random_split(ratings, 0.1, seed=1)
    data = kr.load_movies(REAL_XLSX)
    pipeline = kr.FeaturePipeline(rating_scaling="none").fit(data.with_ratings(fit_part))
    x, v = pipeline.transform(fit_part), pipeline.transform(val)
    n_users, n_items = pipeline.n_users, pipeline.n_items
    chosen = neighbourhood_data(x["user_id"], x["item_id"], x["rating"], n_users, n_items,
                                "item", args.pool)
    columns = sp.csr_matrix((chosen["residuals"], (x["item_id"], x["user_id"])),
                            shape=(n_items, n_users))
    by_value = dict(chosen, **dict(zip(("neighbours", "similarity"),
                                       nearest_rows(columns, args.pool))))
    mean, bu, bi = shrunk_biases(x["user_id"], x["item_id"], x["rating"], n_users, n_items)
    result = {}
    for name, data in (("residual_cosine", by_value), ("co_rating", chosen)):
        layer = Neighbourhood(n_users, n_items, len(data["users"]), pool=args.pool,
                              learn_weights=False, dense=True)
        u, i = keras.Input((), dtype="int32"), keras.Input((), dtype="int32")
        model = keras.Model([u, i], layer([u, i]))
        layer.set_neighbourhood(**data)
        for part, inputs, truth in (("train", x, x["rating"]), ("heldout", v, val["rating"])):
            knn = model.predict([inputs["user_id"], inputs["item_id"]], batch_size=8192,
                                verbose=0)[:, 0]
            residual = truth - (mean + bu[inputs["user_id"]] + bi[inputs["item_id"]])
            result[f"{name}_{part}_corr"] = round(float(np.corrcoef(knn, residual)[0, 1]), 3)
        print(f"{name:16s} correlation with the residual: train "
              f"{result[f'{name}_train_corr']:.3f}, held out {result[f'{name}_heldout_corr']:.3f}")
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
