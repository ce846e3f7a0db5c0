"""The gradient-path metric of Zhu, Hofstee, Lee, Al-Ars 2022, "Improving Gradient Paths for
Binary Convolutional Neural Networks" (IGP), computed on the layer graph of any Keras model.

A gradient path is a path in the model's layer graph from a model output back to a layer. The
IGP paper rates the quality of the paths by the binary layers on them: every binary layer a
gradient passes backwards adds noise; full-precision layers (BatchNorm, pooling, full-precision
convolutions, merges) count 0. Per path this module counts

- L, the path length in binary layers: how many binary layers the path passes;
- N, the number of binary operations on the path: the sum of the binary MACs of those layers
  (the backward pass of a layer to its input costs as many MACs as its forward pass).

and reports, for the network input and for every binary layer (``is_binary``: 1-bit input and
1-bit kernel, convolution or dense):

- ``l = (L_1st, L_2nd, L_3rd)``: the three shortest distinct path lengths;
- ``n = (N_1st, N_2nd, N_3rd)``: for each of those lengths, the fewest binary operations among
  the paths of that length;
- ``paths``: the number of distinct gradient paths.

Ranking paths by their length in binary layers is the reading that gives every value the paper
states for its blocks of two binary layers (Fig. 2), where it treats the layers of one block as
equally costly (N^R, N^BR, N^BD): a binary ResNet block (shortcut around two convs) has
``n = (0, 2·N^R, None)``; a Bi-Real block (a shortcut around each conv) ``(0, N^BR, 2·N^BR)``,
although two of its four paths pass one conv (so the paper counts *distinct* values, not the
multiset of path costs); a BinaryDenseNet block ``(0, N_1 or N_2, N_1 + N_2)``; and "for N_2nd,
L_2nd = 1" pairs ``N_k`` with ``L_k``. When the layers that compete cost the same, ``N_k`` is also
the k-th smallest distinct operation count over all paths.

The figures of a binary layer describe the gradient that reaches its weights: the paths from a
model output to the layer's output, so the layer itself does not count (the last binary layer
before a full-precision head has ``l = (0, None, None)``). The network input's figures count
every binary layer on the way, as the paper's block figures count the block's layers. A value
is ``None`` where the layer has fewer distinct path lengths than that (a plain chain has one).

Nested functional and Sequential models are flattened into the graph (a binary layer inside a
nested model called twice is reported per call); a subclassed model nested inside counts as one
full-precision layer. The values are computed by dynamic programming over a topological order,
keeping the three shortest lengths per layer call, so no path is ever enumerated: a DenseNet
with astronomically many paths takes milliseconds.

Example:
    >>> paths = gradient_paths(larq_zoo.literature.BiRealNet(weights=None))
    >>> paths.input.n, paths.input.l  # a shortcut, one stride-2 conv, two of them
    ((0, 57802752, 115605504), (0, 1, 2))
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import tensorflow as tf

from bnnzoo._checks import one_of
from bnnzoo.analysis.counting import call_macs, is_binary

K = 3  # the paper's N_1st, N_2nd, N_3rd


@dataclass(frozen=True)
class PathFigures:
    """The gradient paths from the model outputs to one layer call (or a model input).

    Attributes:
        name: the layer's name, prefixed with the names of the nested models it sits in
            (``"block/conv"``) and suffixed with ``@i`` when it is called more than once.
        n: (N_1st, N_2nd, N_3rd), binary MACs; None where fewer path lengths exist.
        l: (L_1st, L_2nd, L_3rd), binary layers; None where fewer path lengths exist.
        paths: the number of distinct gradient paths.
        macs: the layer call's own binary MACs (0 for a model input).
    """

    name: str
    n: tuple[int | None, ...]
    l: tuple[int | None, ...]  # noqa: E741 (the paper's L)
    paths: int
    macs: int

    def metric(self, metric: str) -> int | None:
        """One figure by its short name: ``"n1"``..``"n3"`` or ``"l1"``..``"l3"``."""
        one_of("metric", metric, METRICS, hint='Pass e.g. metric="n2".')
        return (self.n if metric[0] == "n" else self.l)[int(metric[1]) - 1]


METRICS = tuple(f"{kind}{k}" for kind in "nl" for k in range(1, K + 1))


@dataclass(frozen=True)
class GradientPaths:
    """Gradient-path figures of a model: its inputs and its binary layers (input side first)."""

    inputs: tuple[PathFigures, ...]
    layers: tuple[PathFigures, ...]

    @property
    def input(self) -> PathFigures:
        """The figures of the (first) model input."""
        return self.inputs[0]

    def values(self, metric: str) -> list[int]:
        """``metric`` (``"n2"``, ``"l1"``, ...) over the binary layers that have it."""
        return [v for v in (f.metric(metric) for f in self.layers) if v is not None]

    def mean(self, metric: str) -> float | None:
        """Mean of ``metric`` over the binary layers that have it; None if none has."""
        values = self.values(metric)
        return sum(values) / len(values) if values else None

    def worst(self, metric: str) -> int | None:
        """Largest ``metric`` over the binary layers that have it; None if none has."""
        values = self.values(metric)
        return max(values) if values else None

    def missing(self, metric: str) -> int:
        """How many binary layers have fewer path lengths than ``metric`` needs."""
        return len(self.layers) - len(self.values(metric))


def gradient_paths(model: tf.keras.Model) -> GradientPaths:
    """N_1st..N_3rd, L_1st..L_3rd and the path count of a model's inputs and binary layers.

    Args:
        model: a functional or Sequential Keras model built with a fixed input shape.

    Raises:
        TypeError: for anything but a tf.keras.Model.
        ValueError: for a model without a layer graph (subclassed, or Sequential not built on
            an input), or with an unknown spatial size.
    """
    if not isinstance(model, tf.keras.Model):
        raise TypeError(
            f"Expected a tf.keras.Model (Keras 2, from tf_keras). Received: {type(model).__name__}."
        )
    if not _has_graph(model):
        raise ValueError(
            f"Cannot trace gradient paths in model {model.name!r}: it has no layer graph "
            f"(a subclassed model, or a Sequential model not built on an input). Build it with "
            f"the functional API or give its first layer an input_shape."
        )
    graph = _Graph(model)
    order = graph.topological_order()
    consumers: dict[tuple, list[tuple]] = {key: [] for key in order}
    for key in order:
        for producer in graph.producers[key]:
            consumers[producer].append(key)  # once per use: Add()([x, x]) is two paths
    outputs = {graph.resolve(t, ()) for t in model.outputs}
    best: dict[tuple, dict[int, int]] = {}  # key -> {length: fewest operations}, K lengths
    paths: dict[tuple, int] = {}
    for key in reversed(order):  # every consumer before its producers
        candidates = {0: 0} if key in outputs else {}
        count = 1 if key in outputs else 0
        for consumer in consumers[key]:
            length, ops = graph.weight(consumer)
            for l, n in best[consumer].items():  # noqa: E741
                candidates[l + length] = min(candidates.get(l + length, n + ops), n + ops)
            count += paths[consumer]
        best[key] = {l: candidates[l] for l in sorted(candidates)[:K]}  # noqa: E741
        paths[key] = count
    names = graph.names(order)

    def figures(key) -> PathFigures:
        lengths = sorted(best[key]) + [None] * K
        return PathFigures(
            name=names[key],
            n=tuple(best[key].get(l) for l in lengths[:K]),  # noqa: E741
            l=tuple(lengths[:K]),
            paths=paths[key],
            macs=graph.weight(key)[1],
        )

    def unreached(key) -> PathFigures:  # an input that no output depends on
        return PathFigures(graph.objects[key[1]].name, (None,) * K, (None,) * K, 0, 0)

    sources = [graph.resolve(t, ()) for t in model.inputs]
    return GradientPaths(
        inputs=tuple(figures(key) if key in best else unreached(key) for key in sources),
        layers=tuple(figures(key) for key in order if graph.weight(key)[0]),
    )


def _has_graph(layer) -> bool:
    return isinstance(layer, tf.keras.Model) and bool(getattr(layer, "_is_graph_network", False))


class _Graph:
    """The calls of a model's layers, nested graph models expanded, as nodes of a DAG.

    A node is ``(context, id(layer), node_index)``: ``layer._inbound_nodes[node_index]`` is the
    call, and ``context`` names the calls of the nested models it sits in, outermost first, as
    ``(id(model), node_index)`` pairs (a nested model called twice runs its layers twice).
    """

    def __init__(self, model: tf.keras.Model):
        self.model = model
        self.objects: dict[int, tf.keras.layers.Layer] = {}
        self.producers: dict[tuple, list[tuple]] = {}
        self._weights: dict[tuple, tuple[int, int]] = {}

    def resolve(self, tensor, context: tuple) -> tuple:
        """The node that computes ``tensor``, seen from inside the nested calls ``context``."""
        layer, node_index, tensor_index = tensor._keras_history
        while True:
            if _has_graph(layer):  # step into the nested model's output
                self.objects[id(layer)] = layer
                context = (*context, (id(layer), node_index))
                tensor = tf.nest.flatten(layer.outputs)[tensor_index]
            elif isinstance(layer, tf.keras.layers.InputLayer) and context:
                # a nested model's input: step out to the tensor its call received
                model_id, outer_index = context[-1]
                nested = self.objects[model_id]
                position = next(
                    i for i, t in enumerate(nested.inputs) if t._keras_history.layer is layer
                )
                tensor = nested._inbound_nodes[outer_index].keras_inputs[position]
                context = context[:-1]
            else:
                self.objects[id(layer)] = layer
                return (context, id(layer), node_index)
            layer, node_index, tensor_index = tensor._keras_history

    def topological_order(self) -> list[tuple]:
        """The nodes that lead to an output, every producer before its consumers."""
        order, seen = [], set()
        stack = [(self.resolve(t, ()), False) for t in self.model.outputs]
        while stack:
            key, expanded = stack.pop()
            if expanded:
                order.append(key)
                continue
            if key in seen:
                continue
            seen.add(key)
            stack.append((key, True))
            context, layer_id, node_index = key
            node = self.objects[layer_id]._inbound_nodes[node_index]
            self.producers[key] = [self.resolve(t, context) for t in node.keras_inputs]
            # first input on top: its side of the graph comes first in the order
            stack.extend((p, False) for p in reversed(self.producers[key]) if p not in seen)
        return order

    def weight(self, key: tuple) -> tuple[int, int]:
        """(binary layers, binary MACs) that the call ``key`` adds to a path through it."""
        if key not in self._weights:
            _, layer_id, node_index = key
            layer = self.objects[layer_id]
            binary = is_binary(layer)
            self._weights[key] = (1, call_macs(layer, node_index)) if binary else (0, 0)
        return self._weights[key]

    def names(self, keys) -> dict[tuple, str]:
        """Readable unique names: nested models as a path prefix, repeated calls as ``@i``."""
        names = {}
        for key in keys:
            context, layer_id, _ = key
            prefix = "".join(f"{self.objects[m].name}/" for m, _ in context)
            names[key] = prefix + self.objects[layer_id].name
        repeated = {n for n, count in Counter(names.values()).items() if count > 1}
        calls: dict[str, int] = {}
        for key in keys:
            if names[key] in repeated:
                calls[names[key]] = calls.get(names[key], -1) + 1
                names[key] = f"{names[key]}@{calls[names[key]]}"
        return names
