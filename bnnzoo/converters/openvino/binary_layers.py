"""The binary side of the OpenVINO exporter: every binary convolution becomes::

    FakeQuantize(levels=2, per-channel threshold, outputs {0, 1})  ->  BinaryConvolution

which OpenVINO's CPU plugin executes as a bit-packing ("binarization") kernel followed by its
JIT ``xnor-popcount`` convolution. How the result stays exact:

* ``sign(0) = +1`` and a BatchNorm directly before the conv, a ReActNet ``RSign`` threshold, or
  both (BatchNorm → RSign) are folded into the per-channel threshold, found by bisection over
  all float32 values (``thresholds.sign_thresholds``).
* Padding: ``BinaryConvolution`` with ``pad_value=0.0`` lets padded taps contribute 0 and with
  ``pad_value=1.0`` contributes ``+sign(w)``, exactly larq's ``pad_values`` 0.0 and 1.0 (checked
  by tests against Keras at strides 1 and 2, dilation 1 and 2).
* Weights: ``kernel_quantizer(kernel)`` is evaluated by larq, then split into bits (``w > 0``)
  and a per-output-channel magnitude (1 for ``ste_sign``, mean ``|w|`` for
  ``MagnitudeAwareSign``), applied as a Multiply after the convolution. The u1 weights are packed
  with the first element in the least significant bit, the order the CPU plugin reads.
* Channel counts: OpenVINO 2026.4's CPU plugin computes wrong results when the binarized input
  has a channel count that is not a multiple of 8 (measured: 4, 12, 20, 37 and 100 channels
  fail; every multiple of 8 tried, 8 to 448, passes). Such inputs get constant +1 channels
  appended whose weights alternate +1/-1, so their contributions cancel; an odd count leaves one
  +1 channel whose per-position contribution (the number of taps inside the image) is
  subtracted. The zoo's models never need this (their widths are multiples of 32).
* The binary convolution's integer result is exact; BatchNorm after it becomes a per-channel
  scale and shift (one float rounding away from Keras).
* Sums: OpenVINO 2026.4's CPU plugin fuses ``BinaryConvolution → Add (a residual) →
  FakeQuantize`` into one node that adds in place and writes bits, and converts the residual
  to u1 for it (a ``ref_any_f32`` Reorder): wrong results (measured: WideResNet's binary
  variant 46 % of the largest logit off Keras). A binarization that reads an ``Add`` gets one
  threshold constant for both of its threshold inputs, which keeps the plugin from fusing it;
  binarizations elsewhere still fuse into the convolution before them (BitNet's trees).

Example:
    >>> binary_conv_layers(model)  # the layers that become BinaryConvolution
    ['stage1_layer1_conv', 'stage1_layer2_conv', ...]
"""

from __future__ import annotations

import larq as lq
import numpy as np
import openvino as ov
import openvino.opset13 as ops
import tensorflow as tf

from bnnzoo.converters.openvino.float_layers import bias_and_activation, check_conv, float_conv
from bnnzoo.converters.openvino.nodes import latent, per_channel, same_pads, unsupported
from bnnzoo.converters.openvino.thresholds import FLOAT_MIN, sign_thresholds
from bnnzoo.layers import RSign

# larq quantizers whose forward pass is larq.math.sign (sign(0) = +1)
SIGN_QUANTIZERS = ("SteSign", "ApproxSign", "SwishSign", "ste_sign", "approx_sign", "swish_sign")


def quant_conv(graph, layer, inputs, output) -> ov.Output:
    """A larq ``QuantConv2D``: ``FakeQuantize`` → ``BinaryConvolution`` when it is binary, a float
    conv of the quantized kernel when it has no input quantizer."""
    quantized, magnitude = check_quant_conv(layer, inputs)
    pad_value = float(getattr(layer, "pad_values", 0.0))
    if magnitude is None:
        return float_conv(graph, layer, inputs[0], quantized, pad_value)
    # OpenVINO 2026.4's CPU plugin packs a channel count that is not a multiple of 8
    # wrongly (measured); pad with constant +1 channels whose contributions cancel
    extra = -inputs[0].shape[-1] % 8
    bits_in = binarize(graph, layer, inputs[0], extra)
    bits = np.transpose(quantized > 0, (3, 2, 0, 1))  # O, I, kh, kw
    if extra:
        o, _, kh, kw = bits.shape
        alternating = (np.arange(extra) % 2 == 0)[None, :, None, None]  # +1, -1, +1, ...
        bits = np.concatenate([bits, np.broadcast_to(alternating, (o, extra, kh, kw))], 1)
    pads_begin, pads_end = same_pads(layer, inputs[0].shape)
    y = ops.binary_convolution(
        bits_in,
        u1_constant(bits),
        strides=list(layer.strides),
        pads_begin=pads_begin,
        pads_end=pads_end,
        dilations=list(layer.dilation_rate),
        mode="xnor-popcount",
        pad_value=pad_value,
        name=layer.name,
    ).output(0)
    if extra % 2:  # one unpaired +1 channel added +1 per tap inside the image (or pad 1)
        taps = taps_per_output(layer, inputs[0].shape, output.shape, count_padding=pad_value)
        y = ops.subtract(y, taps, name=f"{layer.name}/channel_padding").output(0)
    if not np.all(magnitude == 1.0):
        y = ops.multiply(y, per_channel(magnitude), name=f"{layer.name}/magnitude").output(0)
    return bias_and_activation(layer, y)


def check_quant_conv(layer, inputs) -> tuple[np.ndarray, np.ndarray | None]:
    """The quantized kernel and, for a binary conv, its per-output-channel magnitude (None for
    a float conv); a ValueError naming the layer for a setting the exporter cannot express."""
    check_conv(layer, inputs)
    kernel = tf.constant(latent(layer.kernel))
    quantized = (layer.kernel_quantizer(kernel) if layer.kernel_quantizer else kernel).numpy()
    pad_value = float(getattr(layer, "pad_values", 0.0))
    if layer.input_quantizer is None:
        return quantized, None
    if not is_sign(layer.input_quantizer):
        raise unsupported(
            layer,
            f"input_quantizer {quantizer_name(layer.input_quantizer)}"
            f"{_bits(layer.input_quantizer)} is not a sign "
            f"quantizer ({', '.join(SIGN_QUANTIZERS)}); multi-bit activations have no "
            f"OpenVINO binary convolution",
        )
    magnitude = binary_magnitude(quantized)
    if magnitude is None:
        raise unsupported(
            layer,
            f"kernel_quantizer {quantizer_name(layer.kernel_quantizer)} does not give a "
            f"binary kernel (values +-alpha per output channel)",
        )
    if getattr(layer, "groups", 1) != 1:
        raise unsupported(layer, "grouped binary convolutions are not supported")
    if pad_value not in (0.0, 1.0):
        raise unsupported(layer, f"pad_values={pad_value!r}; use 0.0 or 1.0")
    return quantized, magnitude


def binarize(graph, conv, x_tensor, extra: int = 0) -> ov.Output:
    """``FakeQuantize`` giving bit 1 exactly where Keras computes ``sign(...) = +1``.

    ``extra`` constant channels of +1 are appended (see ``quant_conv``).
    """
    channels = x_tensor.shape[-1]
    quantizer = conv.input_quantizer
    source, folded = folded_into_threshold(x_tensor)

    def oracle(x: np.ndarray) -> np.ndarray:
        y = tf.constant(x[None, :, None, :])
        for layer in folded:
            y = layer(y, training=False)
        return quantizer(y).numpy()[0, :, 0, :] > 0

    threshold, high = sign_thresholds(oracle, channels)
    x = graph.get(source)
    if extra:
        ones = np.ones((graph.batch_size, extra, *x_tensor.shape[1:3]), np.float32)
        x = ops.concat([x, ops.constant(ones)], 1, name=f"{conv.name}/pad_channels").output(0)
        threshold = np.concatenate([threshold, np.full(extra, -FLOAT_MIN, np.float32)])
        high = np.concatenate([high, np.ones(extra, np.float32)])
    low = 1.0 - high
    threshold = ops.constant(per_channel(threshold))
    # A sum must not be binarized inside a BinaryConvolution (see the module docstring): the
    # plugin fuses a FakeQuantize only if each of its constants has no other consumer, so
    # after an Add the two threshold inputs share one constant.
    after_add = x.get_node().get_type_name() == "Add"
    return ops.fake_quantize(
        x,
        threshold,
        threshold if after_add else ops.constant(threshold.get_data()),
        per_channel(low),
        per_channel(high),
        levels=2,
        name=f"{conv.name}/sign",
    ).output(0)


def xnor_scaling(graph, layer, inputs, output) -> ov.Output:
    """``XnorScaling``: the binary conv's output times a box filter over mean ``|input|``."""
    conv_output, conv_input = (graph.get(t) for t in inputs)
    magnitude = ops.reduce_mean(
        ops.abs(conv_input), np.array([1], np.int64), keep_dims=True
    ).output(0)
    kh, kw = layer.kernel_size
    box = np.full((1, 1, kh, kw), 1.0 / (kh * kw), np.float32)
    pads_begin, pads_end = same_pads(layer, inputs[1].shape)
    scale = ops.convolution(
        magnitude,
        box,
        strides=list(layer.strides),
        pads_begin=pads_begin,
        pads_end=pads_end,
        dilations=list(layer.dilation_rate),
        name=f"{layer.name}/box",
    )
    return ops.multiply(conv_output, scale, name=layer.name).output(0)


def binary_conv_layers(model: tf.keras.Model) -> list[str]:
    """Names of the layers the exporter turns into ``BinaryConvolution``.

    Example:
        >>> missing = set(binary_conv_layers(model)) - set(binary_ops_in_runtime(compiled))
    """
    return [
        layer.name
        for layer in model.layers
        if isinstance(layer, lq.layers.QuantConv2D) and is_sign(layer.input_quantizer)
    ]


def taps_per_output(layer, input_shape, output_shape, count_padding: float) -> np.ndarray:
    """How many kernel taps of each output position fall inside the image, shape
    ``[1, 1, H_out, W_out]``; padded taps count as ``count_padding`` (0 or 1)."""
    pads_begin, _ = same_pads(layer, input_shape)
    counts = []
    for axis in range(2):
        size, out = input_shape[1 + axis], output_shape[1 + axis]
        k, s, d = layer.kernel_size[axis], layer.strides[axis], layer.dilation_rate[axis]
        position = np.arange(out)[:, None] * s - pads_begin[axis] + np.arange(k)[None, :] * d
        inside = (position >= 0) & (position < size)
        counts.append(np.where(inside, 1.0, count_padding).sum(axis=1))
    return np.outer(counts[0], counts[1]).astype(np.float32)[None, None]


def u1_constant(bits: np.ndarray) -> ov.Node:
    """A u1 constant; the CPU plugin reads element i from bit ``i % 8`` (LSB first)."""
    tensor = ov.Tensor(ov.Type.u1, ov.Shape(list(bits.shape)))
    tensor.data[:] = np.packbits(bits.astype(np.uint8).ravel(), bitorder="little")
    return ov.op.Constant(tensor)


def quantizer_name(quantizer) -> str:
    """A quantizer's name for messages (``SteSign``, ``ste_sign``...)."""
    if quantizer is None:
        return "None"
    return getattr(quantizer, "__name__", type(quantizer).__name__)


def _bits(quantizer) -> str:
    precision = getattr(quantizer, "precision", None)
    return f" ({precision}-bit)" if isinstance(precision, int) and precision != 1 else ""


def is_sign(quantizer) -> bool:
    """True for larq's sign quantizers, checked by name and on probe values."""
    if quantizer is None or quantizer_name(quantizer) not in SIGN_QUANTIZERS:
        return False
    probe = np.array([-np.inf, -2.0, -1e-30, -0.0, 0.0, 1e-30, 2.0, np.inf], np.float32)
    expected = np.array([-1, -1, -1, 1, 1, 1, 1, 1], np.float32)
    return bool(np.array_equal(quantizer(tf.constant(probe)).numpy(), expected))


def binary_magnitude(quantized: np.ndarray) -> np.ndarray | None:
    """Per-output-channel ``alpha`` if every weight is ``+-alpha``, else None."""
    magnitude = np.abs(quantized).reshape(-1, quantized.shape[-1])
    alpha = magnitude.max(axis=0)
    if not np.all(magnitude == alpha) or not np.all(alpha > 0):
        return None
    return alpha.astype(np.float32)


def foldable_batch_norm(layer) -> bool:
    """True for a BatchNorm over the channel axis, which folds into the sign threshold."""
    if not isinstance(layer, tf.keras.layers.BatchNormalization):
        return False
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return len(axis) == 1 and axis[0] in (-1, 3)


def folded_into_threshold(x_tensor) -> tuple:
    """The tensor a binarization of ``x_tensor`` reads, and the per-channel monotone layers
    between the two that fold into its thresholds, in the order they apply: a ReActNet
    ``RSign`` (``x - alpha``) that produced ``x_tensor``, and a channel BatchNorm before it
    (or one that produced ``x_tensor`` directly).

    Example:
        >>> source, folded = folded_into_threshold(conv_input)  # stem_bn -> RSign -> conv
        >>> [layer.name for layer in folded]
        ['stem_bn', 'block1_conv3x3_rsign']
    """
    folded, tensor = [], x_tensor
    for foldable in (lambda layer: isinstance(layer, RSign), foldable_batch_norm):
        producer = tensor._keras_history.layer
        if foldable(producer):
            folded.insert(0, producer)
            tensor = producer._inbound_nodes[tensor._keras_history.node_index].keras_inputs[0]
    return tensor, folded
