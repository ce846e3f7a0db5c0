"""What every layer emitter of the OpenVINO exporter shares: the NCHW layout (Keras is NHWC),
per-channel constants, TensorFlow's padding, and the error for a layer it cannot export.

Example:
    >>> pads_begin, pads_end = same_pads(conv_layer, input_shape=(None, 9, 11, 64))
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)

SUPPORTED_LAYERS = (
    "InputLayer",
    "QuantConv2D (binary: sign input quantizer and binary kernel; or float: no input quantizer)",
    "Conv2D",
    "QuantDense (sign or no input quantizer, any kernel quantizer)",
    "QuantDepthwiseConv2D (without quantizers)",
    "DepthwiseConv2D",
    "BatchNormalization",
    "Activation (linear, relu, relu6, sigmoid, tanh, softmax)",
    "ReLU",
    "Softmax (last axis)",
    "PReLU",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Flatten",
    "Reshape",
    "Dense",
    "Concatenate",
    "Add",
    "Multiply",
    "Dropout",
    "Identity",
    "XnorScaling",
    "ChannelPadShortcut (bnnzoo's Bi-Real shortcut without parameters)",
    "RSign (ReActNet's learnable threshold, folded into the next binary conv's)",
    "RPReLU (ReActNet's shifted PReLU)",
    "FixedScaling",
    "ChannelSplit and AddToLastChannels (MeliusNet's channel groups and merge)",
    "a + b of two tensors (TFOpLambda)",
)


def unsupported(layer, why: str) -> ValueError:
    """The error for a layer, or a layer setting, that the exporter cannot export."""
    return ValueError(
        f"Cannot export layer {layer.name!r} ({type(layer).__name__}) to OpenVINO: {why}. "
        f"Supported layers: {', '.join(SUPPORTED_LAYERS)}."
    )


def transpose(x: ov.Output, order: tuple[int, ...]) -> ov.Output:
    """``x`` with its axes in ``order`` (``NHWC_TO_NCHW``, ``NCHW_TO_NHWC``)."""
    return ops.transpose(x, np.array(order, np.int64)).output(0)


def latent(variable) -> np.ndarray:
    """The stored value of a (possibly larq-quantized) variable, before quantization."""
    return getattr(variable, "latent_variable", variable).numpy()


def per_channel(values: np.ndarray) -> np.ndarray:
    """Per-channel values shaped ``[1, C, 1, 1]`` to broadcast over an NCHW tensor."""
    return np.asarray(values, np.float32).reshape(1, -1, 1, 1)


def same_pads(layer, input_shape) -> tuple[list[int], list[int]]:
    """TensorFlow's SAME padding (the extra pixel goes at the end), or zeros for VALID."""
    if layer.padding == "valid":
        return [0, 0], [0, 0]
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    dilation = getattr(layer, "dilation_rate", (1, 1))
    begin, end = [], []
    for size, k, s, d in zip(input_shape[1:3], kernel, layer.strides, dilation):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin, end
