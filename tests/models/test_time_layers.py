"""The hybrid's time layers (:mod:`kerasrec.models.hybrid.time_layers`) against
hand-computed values on tiny inputs; the window rule itself is held to its NumPy form
in ``test_recent.py``."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasrec.models.hybrid.sessions import training_sessions
from kerasrec.models.hybrid.time_layers import RecentResiduals, SessionBias
from tests.models.conftest import layer_model


@pytest.mark.parametrize("n_users", [0, 5], ids=["all-keys", "own-keys"])
def test_session_bias_only_for_known_sessions(n_users):
    hour = 3600
    users = np.array([1, 1, 2])
    stamps = np.array([10 * hour, 11 * hour, 10 * hour])
    layer = SessionBias(n_sessions=2, session_hours=6, n_users=n_users)
    _, call = layer_model(layer, np.zeros(1, "int32"), np.zeros(1, "int64"))
    keys = training_sessions(np.append(users, 3), np.append(stamps, -1), 6)
    assert len(keys) == 2  # 10 h and 11 h share a window; no time, no session
    layer.set_sessions(keys)
    layer.session_bias.assign(np.array([[0.3], [-0.2]], "float32"))
    out = call(np.array([1, 1, 2, 2, 1, 3], "int32"),
               np.array([7 * hour, 40 * hour, 11 * hour, -1, 0, 10 * hour], "int64"))
    # same window as training, a later window, user 2's window, unknown time,
    # an earlier window, an unknown user
    np.testing.assert_allclose(out.ravel(), [0.3, 0, -0.2, 0, 0, 0])
    with pytest.raises(ValueError, match="expected 2 sessions"):
        layer.set_sessions(keys[:1])


def test_recent_residuals_are_zero_in_training_and_the_shrunk_mean_of_the_past_after(tmp_path):
    hour = 3600
    users = np.array([1, 1, 1, 2, 1])
    stamps = np.array([1, 2, 3, 1, 4]) * hour
    residuals = np.array([0.4, -0.2, 0.6, 1.0, 0.8], "float32")
    layer = RecentResiduals(n_pairs=5, length=2, n_users=4)
    u, t = keras.Input((), dtype="int32"), keras.Input((), dtype="int64")
    model = keras.Model([u, t], layer([u, t]))
    query = [np.array([1, 1, 1, 2, 3], "int32"),
             np.array([3 * hour, -1, hour, -1, -1], "int64")]
    assert not np.asarray(model(query)).any()  # empty until filled
    layer.set_residuals(users, stamps, residuals, shrink=1.0)
    out = np.asarray(model(query)).ravel()
    # before 3 h: 0.4, -0.2; now: 0.6, 0.8; before 1 h: none; user 2: 1.0; user 3: none
    np.testing.assert_allclose(out, [0.2 / 3, 1.4 / 3, 0.0, 0.5, 0.0], rtol=1e-6)
    assert not np.asarray(model(query, training=True)).any()  # fitted after training
    model.save(tmp_path / "r.keras")
    loaded = keras.saving.load_model(tmp_path / "r.keras")
    np.testing.assert_allclose(np.asarray(loaded(query)).ravel(), out)
    # Faded by the time since the window's last rating; "now" is the latest rating (4 h).
    layer.set_residuals(users, stamps, residuals, shrink=1.0, half_life=1 / 24)
    fade = 0.5 ** np.array([1, 0, 0, 3, 0])  # hours since: 3 h - 2 h; 4 h - 1 h for user 2
    np.testing.assert_allclose(np.asarray(model(query)).ravel(), out * fade, rtol=1e-6)
    with pytest.raises(ValueError, match="expected 5 ratings"):
        layer.set_residuals(users[:2], stamps[:2], residuals[:2])
