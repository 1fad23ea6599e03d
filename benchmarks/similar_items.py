"""Do similar movies share their audience, or only their genres?

Usage:
    python benchmarks/similar_items.py [--movies 200] [--min-common 20]

Fits the default hybrid on ../shared/data/splits/movies_random80_train.csv and, for the
``--movies`` most rated movies, takes the 10 most similar by cosine over

* ``rating``: the rating model's item factors (MF embedding + genre projection), what
  ``similar_items`` used before the retrieval branch;
* ``retrieval``: the retrieval branch's movie vectors (``e_i + W f_i``), learned from
  which movies each user chooses;

and reports the share of those neighbours that at least ``--min-common`` users rated
together with the movie, the share with exactly the movie's genres (clones), and, for
Toy Story (movieId 1), the neighbours. ``Recommender.similar_items`` uses the model's
``item_vectors``. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REAL_XLSX, SPLITS, emit, missing_real_data  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402


def neighbours(vectors: np.ndarray, rows: np.ndarray, k: int = 10) -> np.ndarray:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit[rows] @ unit.T
    similarity[np.arange(len(rows)), rows] = -np.inf
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=200)
    parser.add_argument("--min-common", type=int, default=20)
    args = parser.parse_args()
    if missing_real_data():
        sys.exit(2)
    import kerasrec as kr

    data = kr.load_movies(REAL_XLSX)
    train = kr.load_ratings(SPLITS / "movies_random80_train.csv")
    start = time.perf_counter()
    rec = kr.Recommender(verbose=0).fit(data.with_ratings(train))
    fit_seconds = time.perf_counter() - start
    catalog = rec.catalog_
    movies = catalog.movie_ids
    block = rec._block(__import__("pandas").DataFrame({"userId": 0, "movieId": movies}))
    block["item_features"] = rec.pipeline_.item_features(movies)
    backbone = rec.model_.backbone
    retrieval_rows = np.asarray(backbone.catalog_scores.item_vectors())
    factors = backbone.mf_item_embedding.get_weights()[0][block["item_id"]]
    if backbone.item_feature_factors is not None:
        factors = factors + block["item_features"] @ backbone.item_feature_factors.get_weights()[0]
    sets = {"rating": factors, "retrieval": retrieval_rows[block["item_id"]],
            "similar_items": rec.item_vectors()}
    users = rec.pipeline_.user_index(train["userId"].to_numpy())
    cols = catalog.position(train["movieId"].to_numpy())
    seen = sp.csr_matrix((np.ones(len(train), np.float32), (users, cols)),
                         shape=(rec.pipeline_.n_users, len(movies)))
    rows = np.argsort(-catalog.n_ratings, kind="stable")[:args.movies]
    common = (seen[:, rows].T @ seen).toarray()  # (movies asked, catalog)
    genres = catalog.movies["genres"].to_numpy()
    result = {"fit_seconds": round(fit_seconds, 1), "movies": args.movies,
              "min_common": args.min_common}
    toy = int(np.flatnonzero(movies == 1)[0]) if 1 in movies else rows[0]
    for name, vectors in sets.items():
        near = neighbours(np.asarray(vectors, np.float64), rows)
        shared = np.take_along_axis(common, near, axis=1) >= args.min_common
        clones = genres[near] == genres[rows][:, None]
        result[name] = {"co_rated_share": round(float(shared.mean()), 3),
                        "same_genres_share": round(float(clones.mean()), 3)}
        toy_near = neighbours(np.asarray(vectors, np.float64), np.array([toy]))[0]
        titles = catalog.describe(movies[toy_near])["title"].tolist()
        print(f"{name:>13}: co-rated by >= {args.min_common}: {shared.mean():.1%}, "
              f"same genres: {clones.mean():.1%}; Toy Story -> {titles[:5]}")
    emit(result)


if __name__ == "__main__":
    main()
