"""Pictures of the data, the features and the training, each a matplotlib ``Figure``.

Figures are built with the object API (``matplotlib.figure.Figure``), not pyplot, so
no global state or GUI backend is touched: notebooks show them inline, scripts call
``fig.savefig("x.png")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from kerasrec.data.movie_data import MovieData
from kerasrec.errors import ArgumentError, MissingDependencyError


def _figure(width: float = 7.0, height: float = 4.5):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _densest(ratings: pd.DataFrame, max_users: int, max_movies: int) -> pd.DataFrame:
    users = ratings["userId"].value_counts().index[:max_users]
    movies = ratings["movieId"].value_counts().index[:max_movies]
    return ratings[ratings["userId"].isin(users) & ratings["movieId"].isin(movies)]


def sparsity_heatmap(data: MovieData, max_users: int = 200, max_movies: int = 400):
    """Users x movies: who rated what (the most active users and most rated movies).

    Args:
        data: Ratings and products.
        max_users, max_movies: Size of the window shown.
    """
    ratings = _densest(data.ratings, max_users, max_movies)
    users = pd.Index(np.sort(ratings["userId"].unique()))
    movies = pd.Index(ratings["movieId"].value_counts().index)
    grid = np.full((len(users), len(movies)), np.nan)
    grid[users.get_indexer(ratings["userId"]), movies.get_indexer(ratings["movieId"])] = \
        ratings["rating"].to_numpy()
    fig, ax = _figure()
    image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis")
    fig.colorbar(image, ax=ax, label="rating")
    fill = np.isfinite(grid).mean()
    overall = len(data.ratings) / (data.ratings["userId"].nunique() *
                                   max(data.ratings["movieId"].nunique(), 1))
    ax.set(xlabel=f"movies (top {len(movies)} by ratings)",
           ylabel=f"users (top {len(users)} by ratings)",
           title=f"Ratings matrix: {fill:.1%} filled here, {overall:.2%} overall")
    return fig


def feature_heatmap(pipeline, max_movies: int = 60):
    """Movies x item features (genres, old, year_unknown) from a fitted pipeline: a dark
    cell means the movie has the feature."""
    table = pipeline.item_feature_table()[1:max_movies + 1]
    fig, ax = _figure(8, 5)
    image = ax.imshow(table, aspect="auto", interpolation="nearest", cmap="Greys", vmin=0,
                      vmax=1)
    fig.colorbar(image, ax=ax, label="feature value (1: has it)", ticks=[0, 1])
    ax.set_xticks(range(len(pipeline.feature_names)), pipeline.feature_names, rotation=70,
                  fontsize=8)
    ax.set(xlabel="item feature", ylabel=f"movies (first {len(table)} by movieId)",
           title="Item features: genres (multi-hot), old, year unknown")
    return fig


def rating_distribution(data: Union[MovieData, pd.DataFrame]):
    """Histogram of ratings in half stars."""
    ratings = data.ratings if isinstance(data, MovieData) else data
    counts = ratings["rating"].value_counts().sort_index()
    fig, ax = _figure()
    ax.bar(counts.index, counts.to_numpy(), width=0.4)
    ax.set(xlabel="rating (stars)", ylabel="ratings", xticks=counts.index,
           title=f"Rating distribution (mean {ratings['rating'].mean():.2f})")
    return fig


def ratings_per_user(data: Union[MovieData, pd.DataFrame], bins: int = 50,
                     which: str = "all"):
    """Histogram of how many ratings each user gave (log scale).

    Args:
        data: Ratings (or MovieData).
        bins: Log-spaced bins.
        which: Which ratings these are, for the title (e.g. ``"training"``).
    """
    from matplotlib.ticker import MaxNLocator

    ratings = data.ratings if isinstance(data, MovieData) else data
    per_user = ratings.groupby("userId").size()
    fig, ax = _figure()
    ax.hist(per_user, bins=np.logspace(0, np.log10(per_user.max() + 1), bins))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # users come whole
    ax.set(xscale="log", xlabel=f"{which} ratings per user", ylabel="users",
           title=f"Ratings per user, {which} ratings ({len(per_user):,} users, median "
                 f"{per_user.median():.0f})")
    return fig


def training_curves(history, metrics: Optional[Sequence[str]] = None):
    """Loss and metrics by epoch, training vs validation, with the epoch kept marked.

    Errors are drawn in stars where the history has them (``rmse_stars`` beside the
    scaled ``rmse``: see :func:`kerasrec.models.keras_model.history_in_stars`).

    Args:
        history: A Keras ``History``, its ``.history`` dict, or ``Recommender.history_``.
        metrics: Names to plot (without ``val_``); default: the loss and every metric,
            in stars where available.

    Raises:
        ArgumentError: If the history is empty.
    """
    logs: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    if not logs:
        raise ArgumentError("the history is empty: nothing was trained")
    names = metrics or [k for k in logs if not k.startswith("val_") and k != "learning_rate"
                        and f"{k}_stars" not in logs]
    watched = logs.get("val_loss") or logs.get("loss")
    best = int(np.argmin(watched)) + 1 if watched else None  # the weights kept
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5 * len(names), 3.8), layout="constrained")
    for k, name in enumerate(names, start=1):
        ax = fig.add_subplot(1, len(names), k)
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], marker="o", label="training")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], marker="o", label="validation")
        if best is not None:
            ax.axvline(best, color="grey", ls="--", lw=1, label=f"kept (epoch {best})")
        ax.set(xlabel="epoch", ylabel=_metric_label(name), title=name)
        ax.legend()
    return fig


def _metric_label(name: str) -> str:
    if name.endswith("_stars"):
        return f"{name[:-len('_stars')].rsplit('_', 1)[-1].upper()} (stars)"
    if name.endswith("loss"):
        return "loss (scaled units)"
    return f"{name} (scaled units)" if name.endswith(("rmse", "mae")) else name


def predicted_vs_true(truth, prediction, max_points: int = 20000, seed: int = 0):
    """Predicted against true ratings: spread per true rating, with the diagonal.

    Raises:
        ArgumentError: If the two differ in shape or are empty.
    """
    truth, prediction = np.asarray(truth, float), np.asarray(prediction, float)
    if truth.shape != prediction.shape:
        raise ArgumentError(f"truth and prediction differ in shape: {truth.shape} vs "
                            f"{prediction.shape}")
    if not truth.size:
        raise ArgumentError("no ratings to draw: truth and prediction are empty")
    levels = np.unique(truth)
    fig, ax = _figure()
    ax.violinplot([prediction[truth == v] for v in levels], positions=levels, widths=0.4,
                  showmedians=True)
    pick = np.random.default_rng(seed).permutation(len(truth))[:max_points]
    jitter = np.random.default_rng(seed + 1).uniform(-0.08, 0.08, len(pick))
    ax.scatter(truth[pick] + jitter, prediction[pick], s=2, alpha=0.15)
    ax.plot([levels.min(), levels.max()], [levels.min(), levels.max()], "k--", lw=1)
    rmse = float(np.sqrt(np.mean((truth - prediction) ** 2)))
    ax.set(xlabel="true rating", ylabel="predicted rating",
           title=f"Predicted vs true (RMSE {rmse:.3f})")
    return fig


# --- explaining a model ----------------------------------------------------------------

def explanation_waterfall(parts: pd.Series):
    """One prediction as a waterfall: each part's contribution, from zero to the total.

    Takes ``Recommender.explain``'s stars or ``Recommender.explain_relevance``'s
    relevance (what lists rank by); the axis and title say which, from the Series' name.

    Raises:
        ArgumentError: If ``parts`` is empty.

    Example:
        >>> plots.explanation_waterfall(rec.explain_relevance(414, 2571))
    """
    parts = parts[parts.abs() > 1e-9] if (parts.abs() > 1e-9).any() else parts
    if parts.empty:
        raise ArgumentError("no parts to draw")
    unit = "relevance" if parts.name == "relevance" else "stars"
    ends = parts.cumsum().to_numpy()
    starts = ends - parts.to_numpy()
    fig, ax = _figure(7, 0.45 * len(parts) + 1.6)
    rows = np.arange(len(parts))[::-1]
    colours = np.where(parts.to_numpy() >= 0, "tab:green", "tab:red")
    ax.barh(rows, parts.to_numpy(), left=starts, color=colours)
    for row, start, end, value in zip(rows, starts, ends, parts.to_numpy()):
        ax.text(max(start, end) + 0.02, row, f"{value:+.3f}", va="center", fontsize=8)
    ax.set_yticks(rows, parts.index)
    total = float(parts.sum())
    ax.axvline(total, color="k", ls="--", lw=1)
    title = parts.attrs.get("title") or "the prediction"
    heading = (f"Why {title} ranks where it does (relevance {total:.2f})"
               if unit == "relevance" else f"Why {total:.2f} stars for {title}")
    ax.set(xlabel=f"{unit} (running total)", ylabel="part", title=heading)
    return fig


def branch_contributions(explained: pd.DataFrame):
    """How much each part moves predictions over many pairs (``explain_many``'s output):
    the spread of each part's contribution, in stars.

    Raises:
        ArgumentError: If the frame holds no parts.
    """
    # The parts are the float columns beside their sum (ids are integers, the flags bool).
    parts = explained.select_dtypes("floating").drop(columns="prediction", errors="ignore")
    parts = parts.loc[:, parts.abs().max() > 1e-9]
    if parts.empty:
        raise ArgumentError("no parts to draw")
    order = parts.abs().mean().sort_values(ascending=False).index
    fig, ax = _figure(7, 0.4 * len(order) + 1.6)
    ax.boxplot([parts[c].to_numpy() for c in order][::-1], orientation="horizontal",
               showfliers=False, tick_labels=list(order)[::-1])
    ax.axvline(0, color="k", lw=0.8)
    ax.set(xlabel="contribution (stars)", ylabel="part",
           title=f"Parts of {len(explained):,} predictions (boxes: middle half, whiskers: "
                 "1.5 IQR)")
    return fig


def item_map(vectors: np.ndarray, movies: pd.DataFrame, labels: int = 12, seed: int = 0):
    """Learned movie vectors in two dimensions (PCA), coloured by first genre, with the
    most rated titles named.

    Args:
        vectors: One row per movie (``Recommender.item_vectors()``).
        movies: Aligned rows with ``title``, ``genres`` and ``n_ratings``
            (``Recommender.catalog_.movies``).
        labels: How many of the most rated movies to name.
        seed: PCA's seed.

    Raises:
        ArgumentError: If the rows do not line up.
    """
    from sklearn.decomposition import PCA

    if len(vectors) != len(movies):
        raise ArgumentError(f"{len(vectors)} vectors for {len(movies)} movies")
    pca = PCA(n_components=2, random_state=seed)
    xy = pca.fit_transform(np.asarray(vectors, np.float64))
    first = movies["genres"].astype(str).str.split("|").str[0].to_numpy()
    common = pd.Series(first).value_counts().index[:8]
    fig, ax = _figure(8, 6)
    for genre in [*common, "other"]:
        mask = np.isin(first, common, invert=True) if genre == "other" else first == genre
        ax.scatter(xy[mask, 0], xy[mask, 1], s=6, alpha=0.5, label=genre)
    counts = movies["n_ratings"].to_numpy()
    from kerasrec.schema import display_titles

    names = display_titles(movies["title"]).to_numpy()
    for i in np.argsort(-counts, kind="stable")[:labels]:
        ax.annotate(str(names[i])[:30], xy[i], fontsize=7)
    share = pca.explained_variance_ratio_
    ax.set(xlabel=f"component 1 ({share[0]:.0%} of the variance)",
           ylabel=f"component 2 ({share[1]:.0%})",
           title="Movie vectors (PCA), by first genre; the most rated named")
    ax.legend(fontsize=7, markerscale=2, title="first genre", title_fontsize=7)
    return fig


# --- the lists people see -----------------------------------------------------------------

def topn_curves(lists: pd.DataFrame, test: pd.DataFrame, train: pd.DataFrame,
                ks: Sequence[int] = tuple(range(1, 21)), liked: float = 4.0):
    """Precision, recall and NDCG of top-k lists against k, over the whole catalog.

    Args:
        lists: userId, rank, movieId (``Recommender.recommend_many(users, k=max(ks))``).
        test, train: Ratings; scored as :func:`kerasrec.metrics.topn_score` (every test
            user seen in training; a user without a list scores zero).
        ks: Cut-offs.
        liked: Rating from which a test movie counts as liked.
    """
    from kerasrec import metrics

    scores = metrics.topn_score(lists, test, train, ks=tuple(ks), liked=liked)
    users = np.intersect1d(test["userId"].unique(), train["userId"].unique())
    hits = lists.merge(test[["userId", "movieId"]], on=["userId", "movieId"])
    hits = hits[hits["userId"].isin(users)]
    precision = [float(np.sum(hits["rank"] <= k)) / (k * max(len(users), 1)) for k in ks]
    fig, ax = _figure()
    ax.plot(ks, precision, marker="o", label="precision (watched)")
    for name in ("watched_recall", "watched_ndcg", "liked_recall"):
        ax.plot(ks, [scores[f"{name}@{k}"] for k in ks], marker="o",
                label=name.replace("_", " "))
    ax.set(xlabel="k (list length)", ylabel="score (mean over users)", ylim=(0, None),
           title=f"Top-k lists over the whole catalog ({len(users):,} test users)")
    ax.legend()
    return fig


def error_by_activity(predictions: pd.DataFrame, train: pd.DataFrame, bins: int = 5):
    """RMSE by how active the user and how popular the movie were in training.

    Args:
        predictions: userId, movieId, rating, prediction.
        train: The training ratings.
        bins: Quantile bins of the training counts.
    """
    users = train.groupby("userId").size()
    movies = train.groupby("movieId").size()
    frame = predictions.assign(
        user_ratings=predictions["userId"].map(users).fillna(0).to_numpy(),
        movie_ratings=predictions["movieId"].map(movies).fillna(0).to_numpy(),
        error=(predictions["prediction"] - predictions["rating"]) ** 2)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    for k, (column, label) in enumerate((("user_ratings", "user's training ratings"),
                                         ("movie_ratings", "movie's training ratings")), 1):
        ax = fig.add_subplot(1, 2, k)
        groups = pd.qcut(frame[column], bins, duplicates="drop")
        table = frame.groupby(groups, observed=True)["error"].agg(["mean", "size"])
        names = [f"{int(i.left) + 1}-{int(i.right)}" for i in table.index]
        ax.bar(names, np.sqrt(table["mean"].to_numpy()))
        for x, (rmse, n) in enumerate(zip(np.sqrt(table["mean"]), table["size"])):
            ax.text(x, rmse, f"n={n:,}", ha="center", va="bottom", fontsize=7)
        ax.set(xlabel=label, ylabel="RMSE (stars)", title=f"Error by {label}")
        ax.tick_params(axis="x", labelrotation=30)
    return fig


def long_tail(lists: pd.DataFrame, train: pd.DataFrame):
    """How often each movie is recommended against how popular it was in training: do
    the lists reach beyond the blockbusters?"""
    popularity = train.groupby("movieId").size().sort_values(ascending=False)
    shown = lists.groupby("movieId").size()
    rank = np.arange(1, len(popularity) + 1)
    times = shown.reindex(popularity.index, fill_value=0).to_numpy()
    top = max(1, len(popularity) // 100)
    share = times[:top].sum() / max(times.sum(), 1)
    fig, ax = _figure()
    ax.plot(rank, times, lw=0.8)
    ax.set(xscale="log", xlabel="movies by training popularity (rank, log scale)",
           ylabel="times recommended",
           title=f"Long tail: {share:.0%} of recommendations go to the top 1% of movies")
    twin = ax.twinx()
    twin.plot(rank, popularity.to_numpy(), color="grey", lw=0.8, ls="--")
    twin.set(ylabel="training ratings (dashed)", yscale="log")
    return fig


def model_diagram(model, path: Union[str, Path] = "model.png", **options) -> Path:
    """Draw a Keras model with ``keras.utils.plot_model``.

    Args:
        model: A Keras model (e.g. ``Recommender.model_.keras_model``).
        path: Output image.
        **options: Passed to ``plot_model`` (defaults: shapes and layer names shown).

    Returns:
        The image path.

    Raises:
        MissingDependencyError: If pydot or the graphviz ``dot`` program is missing.
    """
    import shutil

    import keras

    try:
        import pydot  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "model diagrams need pydot and Graphviz: pip install pydot, and install the "
            "graphviz package of your system (it provides the 'dot' program)") from None
    if shutil.which("dot") is None:
        raise MissingDependencyError(
            "model diagrams need Graphviz's 'dot' program on PATH: install graphviz "
            "(apt install graphviz, brew install graphviz, conda install graphviz)")
    options = {"show_shapes": True, "show_layer_names": True, "dpi": 72, **options}
    keras.utils.plot_model(model, to_file=str(path), **options)
    return Path(path)
