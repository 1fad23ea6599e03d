"""Non-Keras baselines with one shape: ``fit(ratings, products)`` and ``predict(pairs)``.

All work on scipy sparse matrices (and scikit-learn, sparse_dot_topn); none builds a
dense users x items matrix. Predictions are in stars. Each starts from the shrunk baseline
``mu + b_u + b_i`` (Koren, 2008) and falls back to it for unknown users or movies.
"""

from __future__ import annotations

from typing import Callable, ClassVar, Optional

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kerasrec.models.base import RecModel, register


def shrunk_biases(u: np.ndarray, i: np.ndarray, r: np.ndarray, n_users: int, n_items: int,
                  user_shrinkage: float = 15.0, item_shrinkage: float = 10.0):
    """Global mean and shrunk user/item biases (Koren, 2008), from index arrays.

    Item biases are fitted first, then user biases on what they leave; each is a mean
    of deviations with ``shrinkage`` pseudo-counts at zero.

    Returns:
        ``(mean, user_bias[n_users], item_bias[n_items])``.
    """
    r = np.asarray(r, np.float64)
    mean = float(r.mean())
    item_bias = np.bincount(i, r - mean, n_items) / (
        item_shrinkage + np.bincount(i, minlength=n_items))
    user_bias = np.bincount(u, r - mean - item_bias[i], n_users) / (
        user_shrinkage + np.bincount(u, minlength=n_users))
    return mean, user_bias, item_bias


def rated_matrix(users: np.ndarray, items: np.ndarray, shape, value: float = 1.0) -> sp.csr_matrix:
    """Who rated what: a users x movies CSR matrix holding ``value`` where a user rated
    a movie (repeats count once)."""
    matrix = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=shape)
    matrix.data[:] = value
    return matrix


class BaselineStars:
    """Stars from the shrunk baseline ``mean + b_u + b_i``, for models that learn *which*
    movies users choose and rank lists by that (EASE, implicit ALS), not by stars.

    Mix in before :class:`RecModel`; call :meth:`fit_baseline` in ``fit`` and save
    :meth:`baseline_arrays` beside the model's own arrays.
    """

    scores_cold_pairs = True  # mean + biases, 0 for what it has not seen

    def fit_baseline(self, pipeline, ratings):
        """Fit the biases; returns the ratings' (user index, movie index, matrix shape)."""
        users = pipeline.user_index(ratings["userId"].to_numpy())
        items = pipeline.item_index(ratings["movieId"].to_numpy())
        shape = (pipeline.n_users, pipeline.n_items)
        self.mean, user_bias, item_bias = shrunk_biases(
            users, items, ratings["rating"].to_numpy(np.float64), *shape)
        self.user_bias, self.item_bias = user_bias.astype(np.float32), item_bias.astype(np.float32)
        return users, items, shape

    def score(self, block) -> np.ndarray:
        return (self.mean + self.user_bias[block["user_id"]]
                + self.item_bias[block["item_id"]]).astype(np.float64)

    def baseline_arrays(self) -> dict:
        return {"user_bias": self.user_bias, "item_bias": self.item_bias, "mean": self.mean}

    def load_baseline(self, stored) -> None:
        self.user_bias, self.item_bias = stored["user_bias"], stored["item_bias"]
        self.mean = float(stored["mean"])


def nearest_rows(rows: sp.csr_matrix, pool: int, block: int = 4096,
                 progress: Optional[Callable[[int, int], None]] = None):
    """Each row's ``pool`` most cosine-similar other rows, never an all-pairs matrix.

    The rows are scaled to unit length and multiplied by their transpose a ``block``
    of rows at a time, each row keeping its best ``pool + 1`` products as it goes
    (``sparse_dot_topn``: a threaded sparse product with a per-row top-k). On
    25M ratings (59k movies rated by 162k users) the movies' search takes about 20 s
    on 2 cores (``benchmarks/scale.py``).

    Args:
        rows: ``(n_rows, n_columns)`` sparse rows.
        pool: Neighbours kept per row.
        block: Rows multiplied at a time (memory: ``block`` x ``n_rows`` at most).
        progress: Called as ``progress(rows_done, n_rows)`` after each block.

    Returns:
        ``(neighbours, similarity)``, both ``(n_rows, min(pool, n_rows - 1))``, best
        first, ties by the smaller row; a row never lists itself. Rows that share
        nothing with enough others are padded with -1 and similarity 0.
    """
    import os

    from sparse_dot_topn import sp_matmul_topn

    rows = sp.csr_matrix(rows, dtype=np.float64)
    n = rows.shape[0]
    width = max(0, min(int(pool), n - 1))
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    unit = sp.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)) @ rows
    unit = unit.tocsr()
    other = unit.T.tocsr()
    neighbours = np.full((n, width), -1, np.int64)
    similarity = np.zeros((n, width), np.float64)
    threads = max(1, min(8, os.cpu_count() or 1))
    for lo in range(0, n, block):
        found = sp_matmul_topn(unit[lo:lo + block], other, top_n=width + 1, n_threads=threads)
        found = found.tocsr()
        counts = np.diff(found.indptr)
        row = np.repeat(np.arange(lo, lo + found.shape[0]), counts)
        column, value = found.indices.astype(np.int64), found.data
        keep = column != row  # a row is not its own neighbour
        row, column, value = row[keep], column[keep], value[keep]
        # Best first, ties by the smaller row: one sort over the block.
        order = np.lexsort((column, -value, row))
        row, column, value = row[order], column[order], value[order]
        starts = np.searchsorted(row, np.arange(lo, lo + found.shape[0]))
        rank = np.arange(len(row)) - starts[row - lo]
        kept = rank < width
        neighbours[row[kept], rank[kept]] = column[kept]
        similarity[row[kept], rank[kept]] = value[kept]
        if progress is not None:
            progress(min(lo + block, n), n)
    return neighbours, similarity


class BaselineRecommender:
    """Global mean plus shrunk user and item biases.

    Args:
        user_shrinkage: Pseudo-count pulling user biases towards 0.
        item_shrinkage: Pseudo-count pulling item biases towards 0.
        use_biases: ``False`` predicts the global mean alone.
    """

    name = "baseline"

    def __init__(self, user_shrinkage: float = 15.0, item_shrinkage: float = 10.0,
                 use_biases: bool = True) -> None:
        self.user_shrinkage = user_shrinkage
        self.item_shrinkage = item_shrinkage
        self.use_biases = use_biases

    def fit(self, ratings: pd.DataFrame, products: Optional[pd.DataFrame] = None):
        """Learn from training ratings (and, for content models, products). Returns self."""
        self.users_ = pd.Index(np.unique(ratings["userId"]))
        self.items_ = pd.Index(np.unique(ratings["movieId"]))
        u = self.users_.get_indexer(ratings["userId"])
        i = self.items_.get_indexer(ratings["movieId"])
        r = ratings["rating"].to_numpy(np.float64)
        self.mean_, self.user_bias_, self.item_bias_ = shrunk_biases(
            u, i, r, len(self.users_), len(self.items_), self.user_shrinkage,
            self.item_shrinkage)
        if not self.use_biases:
            self.user_bias_[:], self.item_bias_[:] = 0.0, 0.0
        self._fit_residuals(u, i, r - self._baseline(u, i), ratings, products)
        return self

    def _fit_residuals(self, u, i, residual, ratings, products) -> None:
        """Subclasses model what the baseline leaves."""

    def _baseline(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        bu = np.where(u >= 0, self.user_bias_[np.maximum(u, 0)], 0.0)
        bi = np.where(i >= 0, self.item_bias_[np.maximum(i, 0)], 0.0)
        return self.mean_ + bu + bi

    def _residual(self, u: np.ndarray, i: np.ndarray, pairs: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(u))

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Predicted stars for the (userId, movieId) rows of ``pairs``."""
        u = self.users_.get_indexer(pairs["userId"])
        i = self.items_.get_indexer(pairs["movieId"])
        return (self._baseline(u, i) + self._residual(u, i, pairs)).astype(np.float32)

    def _residual_matrix(self, u, i, residual) -> sp.csr_matrix:
        return sp.csr_matrix((residual, (u, i)), shape=(len(self.users_), len(self.items_)))


class TruncatedSVDRecommender(BaselineRecommender):
    """Truncated SVD (scikit-learn) of the sparse, baseline-centred user x item matrix.

    Unobserved cells count as "no deviation from the baseline".

    Args:
        n_components: Rank of the factorization.
        seed: Seeds the randomized SVD.
    """

    name = "svd"

    def __init__(self, n_components: int = 20, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_components = n_components
        self.seed = seed

    def _fit_residuals(self, u, i, residual, ratings, products) -> None:
        from sklearn.decomposition import TruncatedSVD

        matrix = self._residual_matrix(u, i, residual)
        k = max(1, min(self.n_components, min(matrix.shape) - 1))
        svd = TruncatedSVD(k, random_state=self.seed)
        self.user_factors_ = svd.fit_transform(matrix)
        self.item_factors_ = svd.components_.T

    def _residual(self, u, i, pairs) -> np.ndarray:
        known = (u >= 0) & (i >= 0)
        out = np.zeros(len(u))
        out[known] = np.einsum("nk,nk->n", self.user_factors_[u[known]],
                               self.item_factors_[i[known]])
        return out


class KNNRecommender(BaselineRecommender):
    """Neighbourhood collaborative filtering on baseline-centred ratings.

    ``kind="item"``: the prediction for (u, i) adds the similarity-weighted residuals
    of u's ratings on the ``k`` items most similar to i among those u rated.
    ``kind="user"``: the same over the ``k`` most similar users who rated i.
    Similarities are cosine over the sparse residual vectors; each row keeps its
    ``pool`` nearest neighbours (:func:`nearest_rows`), never a dense all-pairs
    matrix.

    Args:
        kind: ``"item"`` or ``"user"``.
        k: Neighbours used per prediction.
        pool: Neighbours kept per row.
        shrinkage: Damps the weighted average when few neighbours are found.
    """

    def __init__(self, kind: str = "item", k: int = 40, pool: int = 200,
                 shrinkage: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if kind not in ("item", "user"):
            raise ValueError(f"kind must be 'item' or 'user', got {kind!r}")
        self.kind, self.k, self.pool, self.shrinkage = kind, k, pool, shrinkage
        self.name = f"{kind}_knn"

    def _fit_residuals(self, u, i, residual, ratings, products) -> None:
        matrix = self._residual_matrix(u, i, residual)
        rows = matrix.T.tocsr() if self.kind == "item" else matrix
        self.neighbours_, self.similarity_ = nearest_rows(rows, self.pool)
        n_cols = matrix.shape[1]
        # Observed residuals, looked up by the flat key user * n_items + item.
        self.keys_ = pd.Index(u.astype(np.int64) * n_cols + i)
        self.values_ = residual
        self.n_cols_ = n_cols

    def _residual(self, u, i, pairs) -> np.ndarray:
        known = (u >= 0) & (i >= 0)
        out = np.zeros(len(u))
        if not known.any():
            return out
        uk, ik = u[known], i[known]
        anchor, other = (ik, uk) if self.kind == "item" else (uk, ik)
        neighbours, sims = self.neighbours_[anchor], self.similarity_[anchor]
        if self.kind == "item":
            keys = other[:, None].astype(np.int64) * self.n_cols_ + neighbours
        else:
            keys = neighbours.astype(np.int64) * self.n_cols_ + other[:, None]
        found = self.keys_.get_indexer(keys.ravel()).reshape(keys.shape)
        found[neighbours < 0] = -1  # padding
        sims = np.where((found >= 0) & (sims > 0), sims, 0.0)
        # Keep the k most similar neighbours that rated the item.
        if sims.shape[1] > self.k:
            cut = np.partition(sims, -self.k, axis=1)[:, -self.k][:, None]
            sims = np.where(sims >= cut, sims, 0.0)
        values = np.where(found >= 0, self.values_[np.maximum(found, 0)], 0.0)
        out[known] = (sims * values).sum(axis=1) / (sims.sum(axis=1) + self.shrinkage)
        return out


class ContentBasedRecommender(BaselineRecommender):
    """The article's content-based baseline: user genre profile vs item genres, cosine.

    A user's profile is the sum of the genre vectors of the movies they rated,
    weighted by how much they liked each (rating minus baseline). The cosine between
    profile and a movie's genres, times a scale fitted by least squares on the
    training ratings, is added to the baseline.
    """

    name = "content"

    def _fit_residuals(self, u, i, residual, ratings, products) -> None:
        from sklearn.preprocessing import normalize

        from kerasrec.features.genres import encode_genres, genre_vocabulary

        if products is None:
            raise ValueError("the content-based model needs the products table")
        vocab = genre_vocabulary(products["genres"])
        self.catalog_ = pd.Index(products["movieId"])
        self.genres_ = normalize(sp.csr_matrix(encode_genres(products["genres"], vocab),
                                               dtype=np.float64))
        rows = self.genres_[self.catalog_.get_indexer(self.items_[i])]
        profile = sp.csr_matrix((residual, (u, np.arange(len(u)))),
                                shape=(len(self.users_), len(u))) @ rows
        self.profiles_ = normalize(sp.csr_matrix(profile))
        cosine = self._cosine(u, self.items_[i].to_numpy())
        denom = float(cosine @ cosine)
        self.scale_ = float(cosine @ residual) / denom if denom else 0.0

    def _cosine(self, u: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        rows = self.catalog_.get_indexer(movie_ids)
        ok = (u >= 0) & (rows >= 0)
        out = np.zeros(len(u))
        if ok.any():
            out[ok] = np.asarray(self.profiles_[u[ok]].multiply(self.genres_[rows[ok]])
                                 .sum(axis=1)).ravel()
        return out

    def _residual(self, u, i, pairs) -> np.ndarray:
        return self.scale_ * self._cosine(u, pairs["movieId"].to_numpy())


# --- the baselines under the model contract ---------------------------------------------

_STATE_FILE = "state.npz"


class SparseBaseline(RecModel):
    """A baseline algorithm above as a registered model.

    The algorithm sees users by their pipeline index (so an unseen user, index 0, is
    unknown to it) and movies by movieId (so the content model knows the genres of
    movies nobody rated). Its fitted state is saved as plain arrays (no pickle).
    """

    scores_cold_pairs = True  # each falls back to mean + shrunk biases by itself
    tabulate = False  # KNN over every user x movie would take minutes; pairs are cheap
    algorithm: ClassVar[Callable[..., BaselineRecommender]]

    @classmethod
    def _parameters(cls) -> dict:
        """The algorithm's constructor parameters (its base classes' too), by name."""
        import inspect

        found = {}
        # A lambda (global_mean, the KNNs) hides its class; the KNN's is the widest, and
        # option_names() keeps only the names the model takes.
        for klass in inspect.getmro(cls.algorithm if inspect.isclass(cls.algorithm)
                                    else KNNRecommender):
            if klass is not object and "__init__" in vars(klass):
                for name, parameter in inspect.signature(klass.__init__).parameters.items():
                    if name not in ("self", "kwargs", "kind", "use_biases"):
                        found.setdefault(name, parameter)
        return found

    @classmethod
    def option_names(cls):
        return tuple(cls._parameters())

    @classmethod
    def option_defaults(cls):
        return {name: p.default for name, p in cls._parameters().items()
                if name in cls.option_names()}

    def _frame(self, users, movies) -> pd.DataFrame:
        return pd.DataFrame({"userId": users, "movieId": movies})

    def fit(self, pipeline, ratings, products, train=None, seed: int = 0) -> "SparseBaseline":
        frame = ratings.assign(userId=pipeline.user_index(ratings["userId"].to_numpy()))
        self.algo = type(self).algorithm(**self.options).fit(frame, products)
        return self

    def score(self, block) -> np.ndarray:
        return np.asarray(self.algo.predict(self._frame(block["user_id"], block["movie_id"])),
                          np.float64)

    def save_parts(self, folder) -> None:
        arrays = {}
        for name, value in vars(self.algo).items():
            if not name.endswith("_"):
                continue
            if sp.issparse(value):
                value = value.tocsr()
                arrays.update({f"csr:{name}:data": value.data, f"csr:{name}:indices": value.indices,
                               f"csr:{name}:indptr": value.indptr,
                               f"csr:{name}:shape": np.asarray(value.shape)})
            elif isinstance(value, pd.Index):
                arrays[f"index:{name}"] = value.to_numpy()
            else:
                arrays[f"array:{name}"] = np.asarray(value)
        np.savez(folder / _STATE_FILE, **arrays)

    def load_parts(self, folder, pipeline) -> None:
        self.algo = type(self).algorithm(**self.options)
        with np.load(folder / _STATE_FILE) as stored:  # allow_pickle stays False
            arrays = {k: stored[k] for k in stored.files}
        for key, value in arrays.items():
            kind, name = key.split(":")[:2]
            if kind == "index":
                setattr(self.algo, name, pd.Index(value))
            elif kind == "array":
                setattr(self.algo, name, value.item() if value.ndim == 0 else value)
            elif key.endswith(":data"):
                parts = {p: arrays[f"csr:{name}:{p}"] for p in ("data", "indices", "indptr")}
                setattr(self.algo, name, sp.csr_matrix(
                    (parts["data"], parts["indices"], parts["indptr"]),
                    shape=tuple(arrays[f"csr:{name}:shape"])))


@register("global_mean")
class GlobalMean(SparseBaseline):
    """The mean training rating for every pair."""

    summary = "the mean training rating, for every pair"
    trivial = True
    algorithm = staticmethod(lambda **o: BaselineRecommender(use_biases=False, **o))

    @classmethod
    def option_names(cls):
        return ()


@register("baseline")
class Baseline(SparseBaseline):
    """Mean plus shrunk user and item biases (Koren, 2008)."""

    summary = "mean + shrunk user and item biases (Koren, 2008)"
    algorithm = BaselineRecommender


@register("content")
class Content(SparseBaseline):
    """The article's content-based model: genre profile vs movie genres."""

    summary = "content-based: the user's genre profile against the movie's genres"
    algorithm = ContentBasedRecommender


@register("user_knn")
class UserKNN(SparseBaseline):
    """User-based neighbourhood CF on baseline residuals."""

    summary = "user-based k-nearest neighbours on baseline residuals"
    algorithm = staticmethod(lambda **o: KNNRecommender("user", **o))
    sizes = ("k", "pool")

    @classmethod
    def option_names(cls):
        return ("k", "pool", "shrinkage", "user_shrinkage", "item_shrinkage")


@register("item_knn")
class ItemKNN(UserKNN):
    """Item-based neighbourhood CF on baseline residuals."""

    summary = "item-based k-nearest neighbours on baseline residuals"
    algorithm = staticmethod(lambda **o: KNNRecommender("item", **o))


@register("svd")
class SVD(SparseBaseline):
    """Truncated SVD of the baseline-centred rating matrix."""

    summary = "truncated SVD (scikit-learn) of the baseline-centred rating matrix"
    algorithm = TruncatedSVDRecommender
    sizes = ("n_components",)

    def item_vectors(self, block) -> np.ndarray:
        """The SVD item factors of movies rated in training (zeros for the rest)."""
        rows = self.algo.items_.get_indexer(block["movie_id"])
        return np.where(rows[:, None] >= 0, self.algo.item_factors_[np.maximum(rows, 0)], 0.0)
