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
    pads_begin, pads_end = same_pads(layer, inputs[0].shape)
    geometry = dict(
        strides=list(layer.strides),
        pads_begin=pads_begin,
        pads_end=pads_end,
        dilations=list(layer.dilation_rate),
        pad_value=pad_value,
    )
    y = bitwise(
        graph,
        layer,
        inputs[0],
        np.transpose(quantized > 0, (3, 2, 0, 1)),  # O, I, kh, kw
        magnitude,
        geometry,
        taps=lambda: taps_per_output(layer, inputs[0].shape, output.shape, pad_value),
    )
    return bias_and_activation(layer, y)


def bitwise(graph, layer, x_tensor, bits, magnitude, geometry: dict, taps) -> ov.Output:
    """``BinaryConvolution`` of the signs of ``x_tensor`` (binarized by ``binarize``) with the
    kernel ``bits`` (O, I, kh, kw; True for +1), times the per-output-channel ``magnitude``.

    ``geometry``: strides, pads, dilations and pad value of ``ops.binary_convolution``;
    ``taps()``: per output position, the taps inside the image (see ``taps_per_output``).
    """
    # OpenVINO 2026.4's CPU plugin packs a channel count that is not a multiple of 8
    # wrongly (measured); pad with constant +1 channels whose contributions cancel
    extra = -x_tensor.shape[-1] % 8
    bits_in = binarize(graph, layer, x_tensor, extra)
    if extra:
        o, _, kh, kw = bits.shape
        alternating = (np.arange(extra) % 2 == 0)[None, :, None, None]  # +1, -1, +1, ...
        bits = np.concatenate([bits, np.broadcast_to(alternating, (o, extra, kh, kw))], 1)
    y = ops.binary_convolution(
        bits_in, u1_constant(bits), mode="xnor-popcount", name=layer.name, **geometry
    ).output(0)
    if extra % 2:  # one unpaired +1 channel added +1 per tap inside the image (or pad 1)
        y = ops.subtract(y, taps(), name=f"{layer.name}/channel_padding").output(0)
    if not np.all(magnitude == 1.0):
        y = ops.multiply(y, per_channel(magnitude), name=f"{layer.name}/magnitude").output(0)
    return y


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

    ``extra`` constant channels of +1 are appended (see ``bitwise``). A rank-2 input (a dense
    layer's) is binarized as a 1x1 image of its features.
    """
    source, threshold, high = _sign_thresholds(conv, x_tensor)
    x = graph.get(source)
    spatial = tuple(x_tensor.shape[1:3])
    if len(x_tensor.shape) == 2:  # a dense layer's input: its features as a 1x1 image
        x = ops.reshape(x, np.array([0, -1, 1, 1], np.int64), True).output(0)
        spatial = (1, 1)
    if extra:
        ones = np.ones((graph.batch_size, extra, *spatial), np.float32)
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


def _sign_thresholds(layer, x_tensor) -> tuple:
    """The tensor that ``layer``'s input quantizer reads after folding (see
    ``folded_into_threshold``), and per channel the threshold and the bit above it."""
    quantizer = layer.input_quantizer
    source, folded = folded_into_threshold(x_tensor)
    rank = len(x_tensor.shape)

    def oracle(x: np.ndarray) -> np.ndarray:
        y = tf.constant(x[None, :, None, :] if rank == 4 else x)
        for folded_layer in folded:
            y = folded_layer(y, training=False)
        y = quantizer(y).numpy()
        return (y[0, :, 0, :] if rank == 4 else y) > 0

    threshold, high = sign_thresholds(oracle, x_tensor.shape[-1])
    return source, threshold, high


def quant_dense(graph, layer, inputs, output) -> ov.Output:
    """larq's ``QuantDense``. With a sign input quantizer and a binary kernel (Wu et al.'s head)
    it is a 1x1 ``BinaryConvolution`` of the features as a 1x1 image (1-bit weights, bitwise,
    exact like a binary conv); with a sign input and another kernel, a float MatMul of the
    quantized kernel on the input compared with the thresholds of ``sign`` (``+-1``); without
    an input quantizer, a float MatMul of the quantized kernel."""
    quantized = check_quant_dense(layer, inputs)
    magnitude = binary_magnitude(quantized) if layer.input_quantizer is not None else None
    if magnitude is not None:
        geometry = dict(strides=[1, 1], pads_begin=[0, 0], pads_end=[0, 0], dilations=[1, 1])
        bits = np.transpose(quantized > 0)[:, :, None, None]  # O, I, 1, 1
        y = bitwise(
            graph,
            layer,
            inputs[0],
            bits,
            magnitude,
            {**geometry, "pad_value": 0.0},
            taps=lambda: np.ones((1, 1, 1, 1), np.float32),
        )
        y = ops.reshape(y, np.array([0, -1], np.int64), True).output(0)
        return bias_and_activation(layer, y)
    if layer.input_quantizer is None:
        x = graph.get(inputs[0])
    else:
        source, threshold, high = _sign_thresholds(layer, inputs[0])
        # Greater/Select, not a FakeQuantize: the CPU plugin cannot fuse a two-level
        # FakeQuantize into the fully connected layer before it ("could not append an
        # elementwise post-op", OpenVINO 2026.4)
        above = ops.greater(graph.get(source), threshold[None, :].astype(np.float32))
        x = ops.select(
            above,
            (2.0 * high - 1.0)[None, :].astype(np.float32),
            (1.0 - 2.0 * high)[None, :].astype(np.float32),
            name=f"{layer.name}/sign",
        ).output(0)
    y = ops.matmul(x, quantized.astype(np.float32), False, False, name=layer.name).output(0)
    return bias_and_activation(layer, y)


def check_quant_dense(layer, inputs) -> np.ndarray:
    """The quantized kernel of a ``QuantDense`` on a rank-2 input whose input quantizer is None
    or a sign; a ValueError naming the layer otherwise."""
    if len(inputs) != 1 or len(inputs[0].shape) != 2:
        raise unsupported(layer, "only a dense layer of one rank-2 input (flatten it first)")
    if layer.input_quantizer is not None and not is_sign(layer.input_quantizer):
        raise unsupported(
            layer,
            f"input_quantizer {quantizer_name(layer.input_quantizer)}"
            f"{_bits(layer.input_quantizer)} is not a sign quantizer "
            f"({', '.join(SIGN_QUANTIZERS)}) or None",
        )
    kernel = tf.constant(latent(layer.kernel))
    return (layer.kernel_quantizer(kernel) if layer.kernel_quantizer else kernel).numpy()


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
    """Names of the layers the exporter turns into ``BinaryConvolution``: binary convolutions,
    and dense layers with a sign input quantizer and a binary kernel.

    Example:
        >>> missing = set(binary_conv_layers(model)) - set(binary_ops_in_runtime(compiled))
    """
    return [layer.name for layer in model.layers if _runs_bitwise(layer)]


def _runs_bitwise(layer) -> bool:
    if isinstance(layer, lq.layers.QuantConv2D):
        return is_sign(layer.input_quantizer)
    if isinstance(layer, lq.layers.QuantDense) and is_sign(layer.input_quantizer):
        kernel = tf.constant(latent(layer.kernel))
        quantized = layer.kernel_quantizer(kernel) if layer.kernel_quantizer else kernel
        return binary_magnitude(quantized.numpy()) is not None
    return False


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


def foldable_batch_norm(layer, rank: int = 4) -> bool:
    """True for a BatchNorm over the last (channel) axis of its rank-``rank`` input, which folds
    into the sign threshold."""
    if not isinstance(layer, tf.keras.layers.BatchNormalization):
        return False
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return len(axis) == 1 and axis[0] % rank == rank - 1


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
    rank = len(x_tensor.shape)
    is_rsign = lambda layer: isinstance(layer, RSign)  # noqa: E731
    for foldable in (is_rsign, lambda layer: foldable_batch_norm(layer, rank)):
        producer = tensor._keras_history.layer
        if foldable(producer):
            folded.insert(0, producer)
            tensor = producer._inbound_nodes[tensor._keras_history.node_index].keras_inputs[0]
    return tensor, folded
