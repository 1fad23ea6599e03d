"""Every plot renders to a PNG; the model diagram explains what it needs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import kerasrec as kr
from kerasrec import plots


def _png(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000
    return path


def test_data_plots_render(sample, tmp_path):
    pipeline = kr.FeaturePipeline().fit(sample)
    for name, fig in {"sparsity": plots.sparsity_heatmap(sample, 50, 80),
                      "features": plots.feature_heatmap(pipeline),
                      "ratings": plots.rating_distribution(sample),
                      "per_user": plots.ratings_per_user(sample)}.items():
        _png(fig, tmp_path, name)
    title = plots.sparsity_heatmap(sample, 50, 80).axes[0].get_title()
    assert "filled" in title


def test_training_and_prediction_plots_render(tmp_path):
    history = {"loss": [0.9, 0.7, 0.6], "val_loss": [0.95, 0.8, 0.82], "rmse": [1, 0.9, 0.8],
               "val_rmse": [1, 0.95, 0.9], "learning_rate": [1e-3] * 3}
    fig = plots.training_curves(history)
    assert len(fig.axes) == 2  # loss and rmse; learning_rate is left out
    _png(fig, tmp_path, "curves")
    loss_axis = fig.axes[0]
    assert loss_axis.get_xlabel() == "epoch" and loss_axis.get_ylabel() == "loss (scaled units)"
    assert "kept (epoch 2)" in [t.get_text() for t in loss_axis.get_legend().get_texts()]
    in_stars = plots.training_curves({**history, "rmse_stars": [4.5, 4.05, 3.6],
                                      "val_rmse_stars": [4.5, 4.3, 4.05]})
    assert [a.get_title() for a in in_stars.axes] == ["loss", "rmse_stars"]
    assert in_stars.axes[1].get_ylabel() == "RMSE (stars)"
    assert in_stars.axes[1].lines[1].get_ydata().tolist() == [4.5, 4.3, 4.05]
    rng = np.random.default_rng(0)
    truth = rng.choice(np.arange(1, 11) / 2, 500)
    _png(plots.predicted_vs_true(truth, truth + rng.normal(0, 0.5, 500)), tmp_path, "pvt")
    with pytest.raises(kr.ArgumentError, match="empty"):
        plots.training_curves({})
    with pytest.raises(kr.ArgumentError, match="differ in shape"):
        plots.predicted_vs_true([1, 2], [1])
    with pytest.raises(kr.ArgumentError, match="no ratings to draw"):
        plots.predicted_vs_true([], [])


def test_model_diagram_or_a_clear_message(tmp_path):
    import keras

    inputs = keras.Input((3,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(1, name="rating")(inputs))
    try:
        import pydot  # noqa: F401
        have = shutil.which("dot") is not None
    except ImportError:
        have = False
    if have:
        assert plots.model_diagram(model, tmp_path / "m.png").stat().st_size > 0
    else:
        with pytest.raises(kr.MissingDependencyError, match="graphviz|Graphviz"):
            plots.model_diagram(model, tmp_path / "m.png")


def _labelled(fig):
    """Every axes of a figure has an x label, a y label and a title."""
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        assert ax.get_ylabel(), ax
        assert ax.get_xlabel() or ax.get_title() == "", ax  # twin axes share the x label
    assert any(ax.get_title() for ax in fig.axes)


def test_every_plot_carries_axis_labels(sample, hybrid, sample_split, tmp_path):
    train, test = sample_split
    rec = hybrid
    pipeline = kr.FeaturePipeline().fit(sample)
    users = test["userId"].unique()[:80]
    lists = rec.recommend_many(users, k=20)
    predictions = test.assign(prediction=rec.predict(test))
    explained = rec.explain_many(test.head(300))
    why = rec.explain(int(test.userId.iloc[0]), int(test.movieId.iloc[0]))
    ranked = rec.explain_relevance(int(test.userId.iloc[0]), int(test.movieId.iloc[0]))
    figures = {
        "sparsity": plots.sparsity_heatmap(sample, 50, 80),
        "features": plots.feature_heatmap(pipeline),
        "ratings": plots.rating_distribution(sample),
        "per_user": plots.ratings_per_user(train.ratings, which="training"),
        "curves": plots.training_curves(rec.history_),
        "pvt": plots.predicted_vs_true(predictions["rating"], predictions["prediction"]),
        "waterfall": plots.explanation_waterfall(why),
        "relevance": plots.explanation_waterfall(ranked),
        "branches": plots.branch_contributions(explained),
        "map": plots.item_map(rec.item_vectors(), rec.catalog_.movies),
        "topn": plots.topn_curves(lists, test[test.userId.isin(users)], train.ratings),
        "activity": plots.error_by_activity(predictions, train.ratings),
        "tail": plots.long_tail(lists, train.ratings),
    }
    for name, fig in figures.items():
        _labelled(fig)
        _png(fig, tmp_path, name)
    assert figures["per_user"].axes[0].get_xlabel() == "training ratings per user"
    ticks = figures["per_user"].axes[0].get_yticks()
    assert np.allclose(ticks, np.round(ticks))  # whole users
    waterfall = figures["waterfall"].axes[0]
    assert waterfall.get_title().startswith(f"Why {why.sum():.2f} stars")
    assert {t.get_text() for t in waterfall.get_yticklabels()} <= set(why.index)
    assert waterfall.get_xlabel() == "stars (running total)"
    relevance = figures["relevance"].axes[0]  # what lists rank by, not stars
    assert relevance.get_xlabel() == "relevance (running total)"
    assert relevance.get_title().endswith(f"ranks where it does (relevance {ranked.sum():.2f})")
    assert "mf" in {t.get_text() for t in figures["branches"].axes[0].get_yticklabels()}
    texts = {t.get_text() for t in figures["map"].axes[0].texts}
    most_rated = rec.catalog_.describe([rec.catalog_.movies["n_ratings"].idxmax()])["title"][0]
    assert most_rated[:30] in texts
    topn = figures["topn"].axes[0]
    assert [line.get_label() for line in topn.lines] == [
        "precision (watched)", "watched recall", "watched ndcg", "liked recall"]
    scored = kr.metrics.topn_score(lists, test[test.userId.isin(users)], train.ratings,
                                   ks=(10,))
    assert topn.lines[1].get_ydata()[9] == pytest.approx(scored["watched_recall@10"])
    assert all(0 <= v <= 1 for line in topn.lines for v in line.get_ydata())
    assert "top 1% of movies" in figures["tail"].axes[0].get_title()
