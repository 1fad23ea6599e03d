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
    with pytest.raises(ValueError, match="empty"):
        plots.training_curves({})
    with pytest.raises(ValueError, match="differ in shape"):
        plots.predicted_vs_true([1, 2], [1])


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
