"""Emitters of ReActNet's activations (Liu, Shen, Savvides, Cheng 2020, "ReActNet: Towards
Precise Binary Neural Network with Generalized Activation Functions"), ``bnnzoo.layers.RSign``
and ``bnnzoo.layers.RPReLU``.

``RSign``'s ``x - alpha`` feeds a binary convolution, whose binarization folds ``alpha`` into
its thresholds (``binary_layers.folded_into_threshold``): the ``Subtract`` emitted here is read
only by a consumer that does not binarize, and otherwise drops out of the model. ``RPReLU``
becomes ``Subtract`` → ``PReLU`` → ``Add``, the operations Keras computes, in its order.

Example:
    >>> y = rprelu(graph, layer, inputs, output)  # called by Graph for an RPReLU layer
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from bnnzoo.converters.openvino.nodes import per_channel, unsupported


def _per_channel(layer, inputs, values) -> np.ndarray:
    rank = len(inputs[0].shape)
    if rank not in (2, 4):
        raise unsupported(layer, f"an input of rank {rank}; only 2 or 4")
    values = np.asarray(values, np.float32)
    return per_channel(values) if rank == 4 else values


def rsign(graph, layer, inputs, output) -> ov.Output:
    """``RSign``: ``x - alpha`` per channel."""
    alpha = _per_channel(layer, inputs, layer.alpha.numpy())
    return ops.subtract(graph.get(inputs[0]), alpha, name=layer.name).output(0)


def rprelu(graph, layer, inputs, output) -> ov.Output:
    """``RPReLU``: ``PReLU(x - gamma) + zeta``, one slope per channel."""
    gamma = _per_channel(layer, inputs, layer.gamma.numpy())
    zeta = _per_channel(layer, inputs, layer.zeta.numpy())
    x = ops.subtract(graph.get(inputs[0]), gamma, name=f"{layer.name}/shift_in")
    x = ops.prelu(x, layer.slope.numpy().astype(np.float32), name=f"{layer.name}/prelu")
    return ops.add(x, zeta, name=layer.name).output(0)
