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
from kerasrec.errors import MissingDependencyError


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
    """Movies x item features (genres, old, year_unknown) from a fitted pipeline."""
    table = pipeline.item_feature_table()[1:max_movies + 1]
    fig, ax = _figure(8, 5)
    ax.imshow(table, aspect="auto", interpolation="nearest", cmap="Greys")
    ax.set_xticks(range(len(pipeline.feature_names)), pipeline.feature_names, rotation=70,
                  fontsize=8)
    ax.set(ylabel=f"movies (first {len(table)})", title="Item features")
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


def ratings_per_user(data: Union[MovieData, pd.DataFrame], bins: int = 50):
    """Histogram of how many ratings each user gave (log scale)."""
    ratings = data.ratings if isinstance(data, MovieData) else data
    per_user = ratings.groupby("userId").size()
    fig, ax = _figure()
    ax.hist(per_user, bins=np.logspace(0, np.log10(per_user.max() + 1), bins))
    ax.set(xscale="log", xlabel="ratings per user", ylabel="users",
           title=f"Ratings per user (median {per_user.median():.0f})")
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
        ValueError: If the history is empty.
    """
    logs: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    if not logs:
        raise ValueError("the history is empty: nothing was trained")
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
    """Predicted against true ratings: spread per true rating, with the diagonal."""
    truth, prediction = np.asarray(truth, float), np.asarray(prediction, float)
    if truth.shape != prediction.shape:
        raise ValueError(f"truth and prediction differ in shape: {truth.shape} vs "
                         f"{prediction.shape}")
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
