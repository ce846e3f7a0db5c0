"""Walk a Keras functional graph layer by layer and build the OpenVINO model: one emitter per
layer kind (``float_layers``, ``binary_layers``), each Keras tensor mapped to an OpenVINO output.

Inputs stay NHWC float32 like the Keras model; inside, 4-D tensors are NCHW (OpenVINO's
layout) and transposed back at 4-D outputs. The batch size is static: the CPU plugin's
``BinaryConvolution`` refuses dynamic shapes.

Every layer is checked before any op is emitted (``check_supported``): a layer the exporter
cannot express is refused with a ValueError that names it, before any work.

Example:
    >>> ov_model = build_graph(model, batch_size=1)
"""

from __future__ import annotations

from collections.abc import Callable

import larq as lq
import numpy as np
import openvino as ov
import openvino.opset13 as ops
import tensorflow as tf

from bnnzoo.converters.openvino import binary_layers, float_layers, reactnet_layers
from bnnzoo.converters.openvino.nodes import NCHW_TO_NHWC, NHWC_TO_NCHW, transpose, unsupported
from bnnzoo.layers import (
    AddToLastChannels,
    ChannelSplit,
    FixedScaling,
    RPReLU,
    RSign,
    XnorScaling,
)

_layers = tf.keras.layers
# (Keras layer class, emitter), the first match wins; see ``emitter_for`` on subclasses
EMITTERS: tuple[tuple[type, Callable], ...] = (
    (XnorScaling, binary_layers.xnor_scaling),
    (RSign, reactnet_layers.rsign),
    (RPReLU, reactnet_layers.rprelu),
    (FixedScaling, float_layers.fixed_scaling),
    (ChannelSplit, float_layers.channel_split),
    (AddToLastChannels, float_layers.add_to_last_channels),
    (lq.layers.QuantConv2D, binary_layers.quant_conv),
    (lq.layers.QuantDepthwiseConv2D, float_layers.quant_depthwise_conv),
    (lq.layers.QuantDense, binary_layers.quant_dense),
    (_layers.DepthwiseConv2D, float_layers.depthwise_conv),
    (_layers.Conv2D, float_layers.conv),
    (_layers.BatchNormalization, float_layers.batch_norm),
    (_layers.Activation, float_layers.activation_layer),
    (_layers.ReLU, float_layers.relu),
    (_layers.Softmax, float_layers.softmax),
    (_layers.PReLU, float_layers.prelu),
    (_layers.MaxPooling2D, float_layers.pool),
    (_layers.AveragePooling2D, float_layers.pool),
    (_layers.GlobalAveragePooling2D, float_layers.global_pool),
    (_layers.GlobalMaxPooling2D, float_layers.global_pool),
    (_layers.Flatten, float_layers.flatten),
    (_layers.Reshape, float_layers.reshape),
    (_layers.Dense, float_layers.dense),
    (_layers.Concatenate, float_layers.concatenate),
    (_layers.Add, float_layers.merge),
    (_layers.Multiply, float_layers.merge),
    (_layers.Dropout, float_layers.identity),
    (_layers.Identity, float_layers.identity),
)
# emitters of layers with several outputs: they return one OpenVINO output per Keras output
MULTI_OUTPUT = (float_layers.channel_split,)
# layers matched by class name: Keras does not export their classes
NAMED_EMITTERS: dict[str, Callable] = {
    "TFOpLambda": float_layers.tf_op,
    # bnnzoo.zoo.bireal's shortcut, by name: the converters do not import the model families
    "ChannelPadShortcut": float_layers.channel_pad_shortcut,
}
# what an emitter checks before anything is emitted: (layer, node) -> None or a ValueError
CHECKS: dict[Callable, Callable] = {
    binary_layers.quant_conv: lambda layer, node: binary_layers.check_quant_conv(
        layer, list(node.keras_inputs)
    ),
    binary_layers.quant_dense: lambda layer, node: binary_layers.check_quant_dense(
        layer, list(node.keras_inputs)
    ),
    float_layers.quant_depthwise_conv: lambda layer, node: float_layers.check_float_quant_layer(
        layer, node.keras_inputs
    ),
    float_layers.tf_op: float_layers.check_tf_op,
}


def build_graph(model: tf.keras.Model, batch_size: int) -> ov.Model:
    """The OpenVINO model computing what ``model`` computes, for batches of ``batch_size``.

    Raises:
        ValueError: a subclassed model, an input without fixed height, width and channels, or
            a layer (setting) without an emitter; the message names the layer and its class.
    """
    check_supported(model)
    return Graph(model, batch_size).build()


def check_supported(model: tf.keras.Model) -> None:
    """Refuse, before any op is emitted, a model with a layer the exporter cannot express.

    Raises:
        ValueError: for the first such layer in graph order (its name, class and why), with
            the names of the others.
    """
    problems = []
    for node in _nodes(model):
        layer = node.layer
        if isinstance(layer, tf.keras.layers.InputLayer) or node.is_input:
            continue
        try:
            emitter = emitter_for(layer)
            outputs = tf.nest.flatten(node.outputs)
            if len(outputs) != 1 and emitter not in MULTI_OUTPUT:
                raise unsupported(layer, f"it has {len(outputs)} outputs; one is supported")
            CHECKS.get(emitter, lambda *_: None)(layer, node)
            float_layers.check_activation(layer)
        except ValueError as err:
            problems.append((layer.name, err))
    if problems:
        (_, first), others = problems[0], [name for name, _ in problems[1:]]
        if not others:
            raise first
        listed = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise ValueError(
            f"{first} {len(others)} more layers cannot be exported either: {listed}."
        ) from first


def emitter_for(layer) -> Callable:
    """The emitter of ``layer``'s kind, or a ValueError that lists the supported layers.

    The conv family matches by exact class: QuantConv2D, DepthwiseConv2D and
    Conv1D/Conv3D/Conv2DTranspose are related by inheritance but differ in meaning.
    """
    for cls, emitter in EMITTERS:
        exact_only = cls in (_layers.Conv2D, _layers.DepthwiseConv2D)
        if type(layer) is cls or (not exact_only and isinstance(layer, cls)):
            return emitter
    if type(layer).__name__ in NAMED_EMITTERS:
        return NAMED_EMITTERS[type(layer).__name__]
    raise unsupported(layer, "this layer type has no OpenVINO converter")


class Graph:
    """Maps every Keras tensor of ``model`` to an OpenVINO output (NCHW for 4-D tensors).

    Emitters read their inputs with ``get`` and the static ``batch_size``.
    """

    def __init__(self, model: tf.keras.Model, batch_size: int):
        self.model = model
        self.batch_size = batch_size
        self.values: dict[int, ov.Output] = {}
        self.parameters: list = []

    def get(self, tensor) -> ov.Output:
        """The OpenVINO output already built for a Keras tensor."""
        return self.values[id(tensor)]

    def build(self) -> ov.Model:
        """Emit every node, deepest first (inputs before their consumers), then the results."""
        for node in _nodes(self.model):
            self._emit(node)
        results = []
        for tensor in self.model.outputs:
            out = self.get(tensor)
            if len(tensor.shape) == 4:
                out = transpose(out, NCHW_TO_NHWC)
            result = ops.result(out, name=tensor._keras_history.layer.name)
            result.output(0).get_tensor().set_names({tensor._keras_history.layer.name})
            results.append(result)
        return ov.Model(results, self.parameters, self.model.name)

    def _emit(self, node) -> None:
        layer = node.layer
        inputs = list(node.keras_inputs)
        outputs = tf.nest.flatten(node.outputs)
        if isinstance(layer, tf.keras.layers.InputLayer) or node.is_input:
            self.values[id(outputs[0])] = self._input(layer, outputs[0])
            return
        emitter = emitter_for(layer)
        if emitter in MULTI_OUTPUT:
            for tensor, value in zip(outputs, emitter(self, layer, inputs, outputs), strict=True):
                self.values[id(tensor)] = value
            return
        self.values[id(outputs[0])] = emitter(self, layer, inputs, outputs[0])

    def _input(self, layer, tensor) -> ov.Output:
        shape = tuple(tensor.shape)
        if len(shape) != 4 or any(d is None for d in shape[1:]):
            raise ValueError(
                f"Expected the model input {layer.name!r} to be an image batch (None, height, "
                f"width, channels) with fixed height, width and channels. Received: {shape}. "
                f"Rebuild the model with a fixed input_shape, e.g. input_shape=(224, 224, 3)."
            )
        parameter = ops.parameter([self.batch_size, *shape[1:]], np.float32, name=layer.name)
        parameter.output(0).get_tensor().set_names({layer.name})
        self.parameters.append(parameter)
        return transpose(parameter.output(0), NHWC_TO_NCHW)


def _nodes(model: tf.keras.Model):
    """The model's nodes, deepest first (inputs before their consumers)."""
    nodes_by_depth = getattr(model, "_nodes_by_depth", None)
    if not nodes_by_depth:
        raise ValueError(
            f"Expected a functional or Sequential Keras model with a layer graph. Received: "
            f"{type(model).__name__} {model.name!r} (a subclassed model has no "
            f"graph to walk). Build it with tf.keras.Model(inputs, outputs)."
        )
    for depth in sorted(nodes_by_depth, reverse=True):
        yield from nodes_by_depth[depth]
