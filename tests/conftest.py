"""Shared fixtures: tiny in-memory datasets, and the real data when ../shared exists."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kerasrec as kr

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL_XLSX = SHARED / "data" / "data_movies.xlsx"
SPLITS = SHARED / "data" / "splits"
SCORER = SHARED / "bench" / "score_predictions.py"


def pytest_configure(config):
    """Give each test worker its share of the cores: TensorFlow's default of a thread
    per core in every worker oversubscribes the machine (on two cores and two workers the
    suite took 10 min 15 s with this and 11 min 28 s without, one after the other)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        # TensorFlow reads these when its runtime starts (the first op, after this
        # hook), in the worker and in the CLI's subprocesses alike; a user's own wins.
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            os.environ.setdefault(name, threads)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def real_data() -> kr.MovieData:
    """The real MovieLens latest-small workbook from ../shared (skips when absent)."""
    if not REAL_XLSX.is_file():
        pytest.skip(f"real data not available: {REAL_XLSX} is missing (../shared is not "
                    "beside this checkout)")
    return kr.load_movies(REAL_XLSX)


@pytest.fixture
def products() -> pd.DataFrame:
    return pd.DataFrame({
        "movieId": [1, 2, 3, 4],
        "title": ["Toy Story (1995)", "Heat (1995)  ", "Inception (2010)", "Babylon 5"],
        "genres": ["Adventure|Animation|Children", "Action|Crime|Thriller",
                   "Action|Sci-Fi", "(no genres listed)"],
    })


@pytest.fixture
def ratings() -> pd.DataFrame:
    return pd.DataFrame({
        "userId": [1, 1, 2, 2, 3],
        "movieId": [1, 2, 2, 3, 4],
        "rating": [4.0, 3.5, 5.0, 0.5, 3.0],
        "timestamp": [964982703, 964981247, 1445714994, 1445715000, 1200000000],
    })


@pytest.fixture
def tiny(products, ratings) -> kr.MovieData:
    return kr.MovieData.from_frames(products, ratings)


@pytest.fixture(scope="session")
def sample() -> kr.MovieData:
    """The bundled sample workbook, loaded once."""
    return kr.load_sample()


@pytest.fixture(scope="session")
def prepared(sample):
    """The sample split 80/20 with a fitted pipeline and transformed inputs."""
    train, test = kr.random_split(sample.ratings, 0.2, seed=0)
    pipeline = kr.FeaturePipeline().fit(sample.with_ratings(train))
    return dict(data=sample, train=train, test=test, pipeline=pipeline,
                x=pipeline.transform(train), t=pipeline.transform(test))


def write_xlsx(path: Path, sheets: dict) -> Path:
    """Write ``{sheet name: frame}`` as a workbook."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


def largest_graph_constant(path: Path) -> int:
    """The most elements any constant in a SavedModel's graph (functions included) holds."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    nodes = [*graph.node, *(n for f in graph.library.function for n in f.node_def)]
    return max(int(np.prod([d.size for d in n.attr["value"].tensor.tensor_shape.dim]))
               for n in nodes if n.op == "Const")


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


@pytest.fixture(scope="session")
def sample_split(sample):
    """The sample, split 80/20 at random (seed 0): (MovieData with train ratings, test)."""
    train, test = kr.random_split(sample.ratings, 0.2, seed=0)
    return sample.with_ratings(train), test


@pytest.fixture(scope="session")
def hybrid(sample_split):
    """The default hybrid Recommender, trained briefly on the sample split."""
    from kerasrec.training import TrainConfig

    fast = TrainConfig(epochs=6, batch_size=256, learning_rate=3e-3, verbose=0)
    return kr.Recommender(train=fast).fit(sample_split[0])


def generated_data(rows, catalog: int) -> kr.MovieData:
    """Generated ratings, ``(userId, movieId, rating, timestamp)`` tuples, with a catalog
    of ``catalog`` dramas numbered from 1."""
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    products = pd.DataFrame({"movieId": np.arange(1, catalog + 1),
                             "title": [f"Movie {m} (2000)" for m in range(1, catalog + 1)],
                             "genres": "Drama"})
    return kr.MovieData.from_frames(products, ratings)


def taste_groups(seed=0, n_users=120, n_movies=80):
    """Users in four taste groups, each watching mostly its own quarter of the catalog
    (and some popular movies): who watches what is the signal, not the stars."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 4, n_users)
    rows = []
    for user in range(n_users):
        own = np.arange(n_movies)[np.arange(n_movies) % 4 == group[user]]
        picks = np.concatenate([rng.choice(own, 12, replace=False),
                                rng.choice(np.arange(n_movies), 4, replace=False)])
        for t, movie in enumerate(dict.fromkeys(picks.tolist())):
            rows.append((user + 1, movie + 1, float(rng.integers(1, 11)) / 2, 10 ** 9 + t))
    return generated_data(rows, n_movies)


def drifting_tastes(seed=0, n_users=150, n_movies=120, groups=6):
    """Each user watches 12 movies of one taste group, then 12 of another chosen at
    random, an hour apart, starting on a day of one year: what comes next follows the
    recent movies, not the whole history."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        first, then = rng.choice(groups, 2, replace=False)
        picks = [rng.choice(np.flatnonzero(np.arange(n_movies) % groups == g), 12, replace=False)
                 for g in (first, then)]
        start = 10 ** 9 + 86400 * int(rng.integers(0, 365))
        for t, movie in enumerate(np.concatenate(picks)):
            rows.append((user + 1, movie + 1, float(rng.integers(2, 11)) / 2, start + 3600 * t))
    return generated_data(rows, n_movies)


def drifting_scale(seed=0, n_users=150, n_movies=60, per_user=40):
    """Each user rates ``per_user`` movies an hour apart, a day of one year; their stars
    are the movie's quality plus an offset of the user's that jumps to a new value half
    way through: the latest ratings show the scale a user rates on now, the whole
    history does not."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0.0, 0.7, n_movies)
    rows = []
    for user in range(n_users):
        offsets = rng.normal(0.0, 0.9, 2)
        taste = rng.integers(0, 3)  # a third of the movies suits each user better
        start = 10 ** 9 + 86400 * int(rng.integers(0, 365))
        for t, movie in enumerate(rng.choice(n_movies, per_user, replace=False)):
            stars = (3.0 + quality[movie] + 0.6 * (movie % 3 == taste)
                     + offsets[int(t >= per_user // 2)] + rng.normal(0, 0.3))
            rows.append((user + 1, movie + 1, float(np.clip(np.round(stars * 2) / 2, 0.5, 5.0)),
                         start + 3600 * t))
    return generated_data(rows, n_movies + 5)  # five movies nobody rated


def fading_scale(seed=0, n_users=150, n_movies=60, per_user=40, sitting=4):
    """Like :func:`drifting_scale`, but the offset is a mood that passes: users rate in
    sittings of ``sitting`` movies an hour apart, days apart from each other, and their
    offset carries over between sittings halved every 10 days (and renewed by chance):
    the last ratings tell the scale of tonight's, less of one a month later."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0.0, 0.7, n_movies)
    rows = []
    for user in range(n_users):
        taste = rng.integers(0, 3)
        t, mood = 10 ** 9 + 86400 * int(rng.integers(0, 365)), rng.normal(0.0, 0.9)
        for i, movie in enumerate(rng.choice(n_movies, per_user, replace=False)):
            if i and i % sitting == 0:
                gap = rng.exponential(20.0)
                keep = 0.5 ** (gap / 10.0)
                mood = keep * mood + np.sqrt(1.0 - keep ** 2) * rng.normal(0.0, 0.9)
                t += int(86400 * gap)
            stars = (3.0 + quality[movie] + 0.6 * (movie % 3 == taste) + mood
                     + rng.normal(0, 0.3))
            rows.append((user + 1, movie + 1, float(np.clip(np.round(stars * 2) / 2, 0.5, 5.0)),
                         t))
            t += 3600
    return generated_data(rows, n_movies)


def movie_standing(seed=0, n_users=150, n_movies=60, per_user=30):
    """Stars are a movie's standing (spread 1 star) plus the user's offset and noise:
    what a heavily penalised model leaves unlearned is each movie's standing."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0.0, 1.0, n_movies)
    rows = []
    for user in range(n_users):
        offset = rng.normal(0.0, 0.5)
        start = 10 ** 9 + 86400 * int(rng.integers(0, 365))
        for t, movie in enumerate(rng.choice(n_movies, per_user, replace=False)):
            stars = 3.0 + quality[movie] + offset + rng.normal(0.0, 0.4)
            rows.append((user + 1, movie + 1, float(np.clip(np.round(stars * 2) / 2, 0.5, 5.0)),
                         start + 3600 * t))
    return generated_data(rows, n_movies)


@pytest.fixture(scope="session")
def scale_drift():
    """:func:`drifting_scale` with each user's latest quarter held out, and a small
    hybrid fitted with ``recent_stars`` on and off (settings chosen on each user's
    latest ratings): ``(data, train, test, {on: Recommender})``."""
    from kerasrec.training import TrainConfig

    fast = TrainConfig(epochs=15, batch_size=64, learning_rate=5e-3, verbose=0,
                       validation_cut="temporal")
    data = drifting_scale()
    train, test = kr.temporal_split(data.ratings, 0.25)
    fitted = {on: kr.Recommender(train=fast, recent_stars=on, retrieval=False, neighbours=(),
                                 mlp=False, seed=0).fit(data.with_ratings(train))
              for on in (True, False)}
    return data, train, test, fitted


def drift_fits(switch: str, train_config, **options):
    """:func:`drifting_tastes` with each user's latest quarter held out, and the hybrid
    fitted with option ``switch`` on and off (``options`` alike):
    ``(data, train, test, {on: Recommender})``."""
    data = drifting_tastes()
    train, test = kr.temporal_split(data.ratings, 0.25)
    fitted = {on: kr.Recommender(train=train_config, **{switch: on}, **options).fit(
        data.with_ratings(train)) for on in (True, False)}
    return data, train, test, fitted


def watched_recall(train: pd.DataFrame, test: pd.DataFrame, fitted) -> tuple:
    """Watched recall@10 of each fitted model's lists (a dict like ``fitted``) and of
    :func:`popular_lists`, over the test users seen in training."""
    from kerasrec import metrics

    users = np.intersect1d(test["userId"], train["userId"])
    reference = metrics.topn_score(popular_lists(train, users), test, train, ks=(10,))
    return ({on: metrics.topn_score(rec.recommend_many(users, k=10), test, train,
                                    ks=(10,))["watched_recall@10"]
             for on, rec in fitted.items()}, reference["watched_recall@10"])


def popular_lists(train: pd.DataFrame, users, k: int = 10) -> pd.DataFrame:
    """The reference lists: each user's ``k`` most rated movies they have not rated."""
    ranked = train["movieId"].value_counts().index
    seen = train.groupby("userId")["movieId"].apply(set)
    return pd.DataFrame([(u, r + 1, m) for u in users for r, m in enumerate(
        [m for m in ranked if m not in seen[u]][:k])], columns=["userId", "rank", "movieId"])
