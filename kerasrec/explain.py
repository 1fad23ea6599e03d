"""Per-branch contributions of a hybrid's prediction, exact because the head is linear.

The hybrid ends in one linear unit over the concatenated branches, so its score is
``bias + sum_k w_k . h_k`` where ``h_k`` is branch k's output. :class:`BranchParts`
reads that layout from the model, computes each branch's share in one pass and
converts it to stars; a non-linear output (sigmoid) and clipping to the rating range
become named parts of their own, so the parts always add up to the prediction.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Tuple

import numpy as np

from kerasrec.errors import CapabilityError

# Branch output layer -> part name; the order is the order of explanation.
PARTS: Dict[str, str] = {
    "mf_dot": "mf",
    "mlp": "mlp",
    "item_features_dense": "item_features",
    "context_dense": "context",
    "item_neighbourhood": "item_neighbours",
    "user_neighbourhood": "user_neighbours",
    "user_bias": "user_bias",
    "item_bias": "item_bias",
    "session_bias": "session_bias",
}
# Parts that use what the model learned about a user / a movie id. For a user (movie)
# the model never saw in training these carry no information and are dropped.
USER_PARTS = ("mf", "mlp", "item_neighbours", "user_neighbours", "user_bias", "session_bias")
ITEM_PARTS = ("mlp", "item_neighbours", "user_neighbours", "item_bias")


def _part_of(layer_name: str) -> str:
    if layer_name.startswith("mlp_"):
        return "mlp"
    if layer_name not in PARTS:
        raise CapabilityError(f"branch layer {layer_name!r} has no known meaning")
    return PARTS[layer_name]


class BranchParts:
    """Computes a hybrid's per-branch contributions.

    Args:
        model: A model from :func:`~kerasrec.models.build_hybrid` (any branch subset).

    Raises:
        CapabilityError: If the model does not end in a linear ``rating`` unit over
            named branches.
    """

    def __init__(self, model) -> None:
        import keras

        try:
            head = model.get_layer("rating")
        except ValueError:
            raise CapabilityError(f"model {model.name!r} has no 'rating' layer; only the "
                                  "hybrid can be explained") from None
        if not isinstance(head, keras.layers.Dense) or head.get_config()["activation"] != "linear":
            raise CapabilityError("the 'rating' layer must be a linear Dense unit")
        try:
            branch_tensors = list(model.get_layer("branches").input)
        except ValueError:
            branch_tensors = [head.input]
        self.columns: List[Tuple[str, int, int]] = []
        start = 0
        for tensor in branch_tensors:
            width = int(tensor.shape[-1])
            self.columns.append((_part_of(tensor._keras_history.operation.name), start,
                                 start + width))
            start += width
        merged = model.get_layer("branches").output if len(branch_tensors) > 1 else head.input
        self.model = keras.Model(model.inputs, [merged, model.output])
        import tensorflow as tf

        # One traced graph for every batch size: eager op-by-op calls cost 3x more.
        self._call = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)
        kernel, bias = head.get_weights()
        self.kernel, self.bias = kernel[:, 0].astype(np.float64), float(bias[0])
        self.sigmoid = model.output is not head.output
        self.names = list(dict.fromkeys(name for name, _, _ in self.columns))

    def scores(self, inputs: Mapping[str, np.ndarray], batch_size: int = 16384):
        """Branch contributions in score units.

        Returns:
            ``(parts, bias, output)``: a dict of per-part arrays, the head's bias and the
            model's output (after any output activation).
        """
        from kerasrec.training import model_inputs

        x = model_inputs(self.model, inputs)
        n = len(next(iter(x.values())))
        # Direct calls of the traced graph, chunk by chunk: less overhead than predict().
        chunks = [self._call({k: v[i:i + batch_size] for k, v in x.items()})
                  for i in range(0, n, batch_size)]
        merged = np.concatenate([np.asarray(c[0]) for c in chunks])
        output = np.concatenate([np.asarray(c[1]) for c in chunks])
        merged = np.asarray(merged, np.float64)
        parts = {name: np.zeros(n) for name in self.names}
        for name, lo, hi in self.columns:
            parts[name] += merged[:, lo:hi] @ self.kernel[lo:hi]
        return parts, self.bias, np.asarray(output, np.float64).reshape(-1)
