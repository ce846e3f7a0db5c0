"""The float side of the OpenVINO exporter: one emitter per Keras layer kind (float and
depthwise convs, BatchNorm, activations, pooling, flatten, reshape, dense, merges, TensorFlow's
``+`` between two tensors), larq's layers without quantizers among them.

Every emitter takes ``(graph, layer, inputs, output)`` (the ``Graph`` being built, the Keras
layer, its input and output Keras tensors) and returns the OpenVINO output, NCHW for 4-D
tensors. They differ from TensorFlow only by summation order: BatchNorm becomes a per-channel
scale and shift (computed in float64, stored in float32), average pooling over SAME padding
counts only the taps inside the image, as TensorFlow does. A max pool after a BatchNorm with
non-negative scales runs before it, so that the BatchNorm scales a quarter of the values (same
result, bit for bit).

Example:
    >>> y = dense(graph, layer, inputs, output)  # called by Graph for a Dense layer
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import tensorflow as tf

from bnnzoo.converters.openvino.nodes import (
    NCHW_TO_NHWC,
    NHWC_TO_NCHW,
    latent,
    per_channel,
    same_pads,
    transpose,
    unsupported,
)


def check_conv(layer, inputs) -> None:
    """A ValueError unless ``layer`` is a 2-D, channels_last conv of one 4-D input."""
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise unsupported(layer, "only 2-D convolutions of one 4-D input are supported")
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise unsupported(layer, f"data_format={layer.data_format!r}; use 'channels_last'")
    if layer.padding not in ("same", "valid"):
        raise unsupported(layer, f"padding={layer.padding!r}; use 'same' or 'valid'")


def conv(graph, layer, inputs, output) -> ov.Output:
    check_conv(layer, inputs)
    kernel = latent(layer.kernel)
    return float_conv(graph, layer, inputs[0], kernel, pad_value=0.0)


def float_conv(graph, layer, x_tensor, kernel: np.ndarray, pad_value: float) -> ov.Output:
    """A float convolution of ``kernel`` (Keras layout) padded with ``pad_value``."""
    x = graph.get(x_tensor)
    groups = getattr(layer, "groups", 1)
    pads_begin, pads_end = same_pads(layer, x_tensor.shape)
    if pad_value != 0.0 and any(pads_begin + pads_end):
        x = ops.pad(
            x,
            np.array([0, 0, *pads_begin], np.int64),
            np.array([0, 0, *pads_end], np.int64),
            "constant",
            np.float32(pad_value),
        ).output(0)
        pads_begin, pads_end = [0, 0], [0, 0]
    weights = np.transpose(kernel, (3, 2, 0, 1)).astype(np.float32)  # O, I/g, kh, kw
    common = dict(
        strides=list(layer.strides),
        pads_begin=pads_begin,
        pads_end=pads_end,
        dilations=list(layer.dilation_rate),
    )
    if groups == 1:
        y = ops.convolution(x, weights, **common, name=layer.name)
    else:
        o, i, kh, kw = weights.shape
        grouped = weights.reshape(groups, o // groups, i, kh, kw)
        y = ops.group_convolution(x, grouped, **common, name=layer.name)
    return bias_and_activation(layer, y.output(0))


def depthwise_conv(graph, layer, inputs, output) -> ov.Output:
    check_conv(layer, inputs)
    x = graph.get(inputs[0])
    kernel = latent(layer.depthwise_kernel)  # kh, kw, C, M
    kh, kw, c, m = kernel.shape
    weights = np.transpose(kernel, (2, 3, 0, 1)).reshape(c, m, 1, kh, kw).astype(np.float32)
    pads_begin, pads_end = same_pads(layer, inputs[0].shape)
    y = ops.group_convolution(
        x,
        weights,
        strides=list(layer.strides),
        pads_begin=pads_begin,
        pads_end=pads_end,
        dilations=list(layer.dilation_rate),
        name=layer.name,
    )
    return bias_and_activation(layer, y.output(0))


def check_float_quant_layer(layer, inputs) -> None:
    """A larq layer without quantizers computes what its Keras layer computes; any quantizer
    (a multi-bit or binary dense or depthwise layer) is refused, naming the layer."""
    quantizers = ("input_quantizer", "kernel_quantizer", "depthwise_quantizer")
    used = [q for q in quantizers if getattr(layer, q, None) is not None]
    if used:
        raise unsupported(
            layer,
            f"{', '.join(used)} set; the exporter runs {type(layer).__name__} only without "
            f"quantizers (binary convolutions must be QuantConv2D)",
        )


def quant_depthwise_conv(graph, layer, inputs, output) -> ov.Output:
    """larq's ``QuantDepthwiseConv2D`` without quantizers: a float depthwise conv."""
    check_float_quant_layer(layer, inputs)
    return depthwise_conv(graph, layer, inputs, output)


def batch_norm(graph, layer, inputs, output) -> ov.Output:
    rank = len(inputs[0].shape)
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if [a % rank for a in axis] != [rank - 1] or rank not in (2, 4):
        raise unsupported(
            layer, f"axis={layer.axis} on a rank-{rank} input; only the channel axis (-1)"
        )
    scale, shift = batch_norm_scale_shift(layer)
    x = graph.get(inputs[0])
    if rank == 4:
        scale, shift = per_channel(scale), per_channel(shift)
    y = ops.multiply(x, scale, name=f"{layer.name}/scale")
    return ops.add(y, shift, name=layer.name).output(0)


def bias_and_activation(layer, y: ov.Output) -> ov.Output:
    """``y`` plus the layer's bias (if any), through the layer's activation."""
    if getattr(layer, "use_bias", False):
        bias = layer.bias.numpy().astype(np.float32)
        y = ops.add(y, per_channel(bias) if len(y.get_partial_shape()) == 4 else bias).output(0)
    return activation(layer, y, layer.activation)


def activation_layer(graph, layer, inputs, output) -> ov.Output:
    return activation(layer, graph.get(inputs[0]), layer.activation)


ACTIVATIONS = ("linear", "relu", "relu6", "sigmoid", "tanh", "softmax")


def check_activation(layer) -> None:
    """A ValueError naming the layer if its activation is not one of ``ACTIVATIONS``."""
    fn = getattr(layer, "activation", None)
    name = getattr(fn, "__name__", str(fn))
    if fn is not None and name not in ACTIVATIONS:
        raise unsupported(layer, f"activation {name!r} is not supported")


def activation(layer, x: ov.Output, fn) -> ov.Output:
    name = getattr(fn, "__name__", str(fn))
    channel_axis = 1  # NCHW for images, (batch, features) otherwise
    makers = {
        "linear": lambda: x,
        "relu": lambda: ops.relu(x).output(0),
        "relu6": lambda: ops.clamp(x, 0.0, 6.0).output(0),
        "sigmoid": lambda: ops.sigmoid(x).output(0),
        "tanh": lambda: ops.tanh(x).output(0),
        "softmax": lambda: ops.softmax(x, channel_axis).output(0),
    }
    if name not in makers:
        raise unsupported(layer, f"activation {name!r} is not supported")
    return makers[name]()


def softmax(graph, layer, inputs, output) -> ov.Output:
    """Keras' ``Softmax`` layer over the last axis (the channels, NCHW axis 1 of a 4-D tensor)."""
    rank = len(inputs[0].shape)
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if [a % rank for a in axes] != [rank - 1]:
        raise unsupported(layer, f"axis={layer.axis}; only the last axis (-1)")
    axis = 1 if rank == 4 else rank - 1
    return ops.softmax(graph.get(inputs[0]), axis, name=layer.name).output(0)


def relu(graph, layer, inputs, output) -> ov.Output:
    x = graph.get(inputs[0])
    negative_slope = float(layer.negative_slope)
    threshold = float(layer.threshold)
    if negative_slope != 0.0 or threshold != 0.0:
        raise unsupported(
            layer,
            f"negative_slope={negative_slope}, threshold={threshold}; only 0 is supported",
        )
    if layer.max_value is not None:
        return ops.clamp(x, 0.0, float(layer.max_value), name=layer.name).output(0)
    return ops.relu(x, name=layer.name).output(0)


def prelu(graph, layer, inputs, output) -> ov.Output:
    """``PReLU``: its slopes (Keras NHWC layout, 1 on shared axes) moved to NCHW: one slope per
    channel (``shared_axes=[1, 2]``, the Bi-Real ResNets and Real-to-Binary Net) becomes a 1-D
    slope on the channel axis, otherwise a (C, H, W) slope."""
    if len(inputs[0].shape) not in (2, 4):
        raise unsupported(layer, f"an input of rank {len(inputs[0].shape)}; only 2 or 4")
    slope = latent(layer.alpha).astype(np.float32)
    if slope.ndim == 3:
        slope = np.transpose(slope, (2, 0, 1))  # H, W, C -> C, H, W
        if slope.shape[1:] == (1, 1):
            slope = slope.reshape(-1)
    return ops.prelu(graph.get(inputs[0]), slope, name=layer.name).output(0)


def pool(graph, layer, inputs, output) -> ov.Output:
    """Max or average pooling; a max pool right after a BatchNorm whose scales are all >= 0 runs
    before it (``batch_norm_after_max_pool``)."""
    if len(inputs[0].shape) != 4 or layer.data_format != "channels_last":
        raise unsupported(layer, "only 2-D pooling of a channels_last 4-D input")
    moved = batch_norm_after_max_pool(layer, inputs[0])
    x = graph.get(inputs[0] if moved is None else moved[0])
    pads_begin, pads_end = same_pads(layer, inputs[0].shape)
    common = dict(
        strides=list(layer.strides),
        pads_begin=pads_begin,
        pads_end=pads_end,
        kernel_shape=list(layer.pool_size),
        rounding_type="floor",
    )
    if isinstance(layer, tf.keras.layers.MaxPooling2D):
        y = ops.max_pool(x, dilations=[1, 1], **common, name=layer.name)
    else:  # TensorFlow averages over the valid (unpadded) taps only
        y = ops.avg_pool(x, exclude_pad=True, **common, name=layer.name)
    if moved is not None:
        _, norm, scale, shift = moved
        y = ops.multiply(y.output(0), per_channel(scale), name=f"{norm.name}/scale")
        y = ops.add(y, per_channel(shift), name=norm.name)
    return y.output(0)


def batch_norm_after_max_pool(layer, x_tensor):
    """``(BatchNorm input, BatchNorm layer, scale, shift)`` when ``layer`` max-pools the output
    of a channel BatchNorm whose scales are all >= 0, else None.

    ``x * scale + shift`` rounds monotonically in ``x`` when ``scale >= 0``, so the max of the
    normalized taps equals the normalized max, bit for bit: pooling first normalizes a quarter of
    the values (BinaryDenseNet's transitions, BN → MaxPool 2).
    """
    norm = x_tensor._keras_history.layer
    if not isinstance(layer, tf.keras.layers.MaxPooling2D) or not isinstance(
        norm, tf.keras.layers.BatchNormalization
    ):
        return None
    axis = norm.axis if isinstance(norm.axis, (list, tuple)) else [norm.axis]
    if [a % 4 for a in axis] != [3]:
        return None
    scale, shift = batch_norm_scale_shift(norm)
    if not np.all(scale >= 0):
        return None
    source = norm._inbound_nodes[x_tensor._keras_history.node_index].keras_inputs[0]
    return source, norm, scale, shift


def global_pool(graph, layer, inputs, output) -> ov.Output:
    if len(inputs[0].shape) != 4 or layer.data_format != "channels_last":
        raise unsupported(layer, "only a channels_last 4-D input")
    keepdims = bool(getattr(layer, "keepdims", False))
    reduce = (
        ops.reduce_mean
        if isinstance(layer, tf.keras.layers.GlobalAveragePooling2D)
        else ops.reduce_max
    )
    return reduce(
        graph.get(inputs[0]), np.array([2, 3], np.int64), keep_dims=keepdims, name=layer.name
    ).output(0)


def flatten(graph, layer, inputs, output) -> ov.Output:
    x = graph.get(inputs[0])
    if len(inputs[0].shape) == 4:  # Keras flattens in NHWC order
        x = transpose(x, NCHW_TO_NHWC)
    return ops.reshape(x, np.array([0, -1], np.int64), True, name=layer.name).output(0)


def reshape(graph, layer, inputs, output) -> ov.Output:
    """Keras' ``Reshape`` reorders NHWC elements: to NHWC, reshape, back to NCHW if 4-D."""
    x = graph.get(inputs[0])
    if len(inputs[0].shape) == 4:
        x = transpose(x, NCHW_TO_NHWC)
    target = np.array([0, *layer.target_shape], np.int64)
    y = ops.reshape(x, target, True, name=layer.name).output(0)
    if len(output.shape) == 4:
        y = transpose(y, NHWC_TO_NCHW)
    return y


def dense(graph, layer, inputs, output) -> ov.Output:
    if len(inputs[0].shape) != 2:
        raise unsupported(layer, f"a rank-{len(inputs[0].shape)} input; flatten it first")
    kernel = latent(layer.kernel).astype(np.float32)
    y = ops.matmul(graph.get(inputs[0]), kernel, False, False, name=layer.name).output(0)
    return bias_and_activation(layer, y)


def concatenate(graph, layer, inputs, output) -> ov.Output:
    rank = len(output.shape)
    axis = layer.axis % rank
    if rank == 4:
        axis = {0: 0, 1: 2, 2: 3, 3: 1}[axis]
    return ops.concat([graph.get(t) for t in inputs], axis, name=layer.name).output(0)


def merge(graph, layer, inputs, output) -> ov.Output:
    shapes = [tuple(1 if d is None else d for d in t.shape) for t in inputs]
    if len({len(shape) for shape in shapes}) != 1 or not _broadcastable(shapes):
        listed = sorted({tuple(t.shape) for t in inputs})
        raise unsupported(layer, f"inputs of shapes {listed} that do not broadcast")
    combine = ops.add if isinstance(layer, tf.keras.layers.Add) else ops.multiply
    y = graph.get(inputs[0])
    for i, t in enumerate(inputs[1:], start=1):
        last = i == len(inputs) - 1
        y = combine(y, graph.get(t), name=layer.name if last else None).output(0)
    return y


def _broadcastable(shapes) -> bool:
    """Same rank, and per axis one size or 1 (Keras' and OpenVINO's numpy broadcasting; the
    layouts are transposed alike, so the NCHW tensors broadcast as the NHWC ones do)."""
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return False
    return True


# TensorFlow functions applied to Keras tensors (``TFOpLambda`` layers) that the exporter runs
TF_OPS = ("__operators__.add", "math.add")


def check_tf_op(layer, node) -> None:
    """A ``TFOpLambda`` must be ``a + b`` of two Keras tensors of the same shape: ``(a, b)``, or
    ``(a, y=b)`` as Keras writes it in a saved ``.keras`` file and reads it back."""
    symbol = getattr(layer, "symbol", "?")
    tensors = list(node.keras_inputs)
    extra = {k: v for k, v in (node.call_kwargs or {}).items() if k != "name" and v is not None}
    operands = (len(node.call_args) == 2 and not extra) or (
        len(node.call_args) == 1 and set(extra) == {"y"}
    )
    if (
        symbol not in TF_OPS
        or len(tensors) != 2
        or not operands
        or tuple(tensors[0].shape) != tuple(tensors[1].shape)
    ):
        raise unsupported(
            layer,
            f"the TensorFlow function tf.{symbol} applied to {len(tensors)} Keras tensors; only "
            f"a + b of two tensors of the same shape is supported",
        )


def tf_op(graph, layer, inputs, output) -> ov.Output:
    """``a + b`` written with TensorFlow on Keras tensors (a ``TFOpLambda`` layer)."""
    a, b = (graph.get(t) for t in inputs)
    return ops.add(a, b, name=layer.name).output(0)


def identity(graph, layer, inputs, output) -> ov.Output:
    return graph.get(inputs[0])


def fixed_scaling(graph, layer, inputs, output) -> ov.Output:
    """``bnnzoo.layers.FixedScaling``: times a constant."""
    return ops.multiply(graph.get(inputs[0]), np.float32(layer.scale), name=layer.name).output(0)


def channel_split(graph, layer, inputs, outputs) -> list[ov.Output]:
    """``bnnzoo.layers.ChannelSplit``: ``groups`` equal parts of the channels (NCHW axis 1 of a
    4-D tensor); one OpenVINO output per Keras output."""
    axis = 1 if len(inputs[0].shape) == 4 else len(inputs[0].shape) - 1
    split = ops.split(graph.get(inputs[0]), np.int64(axis), layer.groups, name=layer.name)
    return list(split.outputs())


def add_to_last_channels(graph, layer, inputs, output) -> ov.Output:
    """``bnnzoo.layers.AddToLastChannels``: ``x + y`` with ``y`` zero-padded in front along the
    channels (NCHW axis 1 of a 4-D tensor)."""
    x_tensor, y_tensor = inputs
    rank = len(x_tensor.shape)
    axis = 1 if rank == 4 else rank - 1
    pads_begin = np.zeros(rank, np.int64)
    pads_begin[axis] = x_tensor.shape[-1] - y_tensor.shape[-1]
    y = ops.pad(graph.get(y_tensor), pads_begin, np.zeros(rank, np.int64), "constant").output(0)
    return ops.add(graph.get(x_tensor), y, name=layer.name).output(0)


def channel_pad_shortcut(graph, layer, inputs, output) -> ov.Output:
    """bnnzoo's parameter-free shortcut (``bnnzoo.zoo.bireal.ChannelPadShortcut``, the Bi-Real
    ResNets of Xue et al. 2023): every ``strides``-th pixel from the first, then the channels
    zero-padded (or cut) to ``filters``. Slice and Pad on the NCHW tensor."""
    x = graph.get(inputs[0])
    if layer.strides > 1:
        x = ops.slice(
            x,
            np.array([0, 0], np.int64),
            np.array([np.iinfo(np.int64).max] * 2, np.int64),
            np.array([layer.strides] * 2, np.int64),
            np.array([2, 3], np.int64),
        ).output(0)
    channels = inputs[0].shape[-1]
    if channels > layer.filters:
        x = ops.slice(
            x,
            np.array([0], np.int64),
            np.array([layer.filters], np.int64),
            np.array([1], np.int64),
            np.array([1], np.int64),
        ).output(0)
    elif channels < layer.filters:
        x = ops.pad(
            x,
            np.array([0, 0, 0, 0], np.int64),
            np.array([0, layer.filters - channels, 0, 0], np.int64),
            "constant",
            np.float32(0.0),
        ).output(0)
    return x


def batch_norm_scale_shift(layer) -> tuple[np.ndarray, np.ndarray]:
    """Inference BatchNorm as ``x * scale + shift`` (computed in float64, stored in float32)."""
    gamma = layer.gamma.numpy() if layer.scale else 1.0
    beta = layer.beta.numpy() if layer.center else 0.0
    mean = layer.moving_mean.numpy().astype(np.float64)
    variance = layer.moving_variance.numpy().astype(np.float64)
    scale = np.asarray(gamma, np.float64) / np.sqrt(variance + layer.epsilon)
    shift = np.asarray(beta, np.float64) - mean * scale
    return scale.astype(np.float32), shift.astype(np.float32)
