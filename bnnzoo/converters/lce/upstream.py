"""Known defects of Larq Compute Engine 0.16 and how bnnzoo avoids them before converting.

Three defects, one module each: zero padding on an input smaller than the kernel (here); the
quantized kernel of a layer LCE computes in float, which its converter folds into a constant
only up to a size and crashes on beyond it (``upstream_kernels``); and a BatchNorm fused after a
ReLU into a binary conv's float32 output transform, which loses the offset of nearly dead
channels (``upstream_batchnorm``). ``avoid_upstream_defects`` (here) rewrites all three in one
copy of the model.

**Zero padding on an input smaller than the kernel.** A binary convolution with padding
``same`` and pad value 0 computes the ``±1`` convolution with every padded position read as
``+1`` and then subtracts, at the border of the output, the kernel taps that stuck out (LCE's
``zero_padding_correction::ApplyCorrection``, used by its bgemm and indirect-bgemm kernels, the
ones every ARM build and LCE's x86 interpreter run). That correction is written for an image
larger than the kernel: it sorts each output pixel into one of four border cases, each with
one side per axis. Where the input is smaller than the effective kernel
``(kernel_size - 1) * dilation + 1`` along an axis, a window can stick out on both sides, or on
one side and touch the other, and the correction leaves out some taps or the whole pixel. The
output is then off by integers on every input (e.g. a 3×3 conv on a 2×2 input, 32 to 512
channels: 38 to 176). Measured with LCE 0.16 for strides 1 and 2, dilation 1 and 2, kernels 3
and 5, with and without a BatchNorm fused into the op, with channels that are not a multiple
of 32: wrong exactly when the input height or width is below the effective kernel; inputs of
at least the kernel's size and pad value 1 are right. With strides of 3 and more, some inputs
below the kernel size come out right; ``zero_padding_defects`` lists those too (the rewrite
below is exact for them as well). A BinaryResNetE18 built at 64×64 has a 2×2 last stage.

**The rewrite.** Padding with 0 instead of 1 changes the output by a constant: the taps that
stick out, summed, at each output position (it does not depend on the input). So
``same``-zero = ``same``-one minus that constant, and ``avoid_upstream_defects`` replaces each
affected layer by a ``same``-one convolution with the same kernel followed by the subtraction
of its border constant, computed from the layer itself. LCE converts the ``same``-one part into
an ``LceBconv2d`` (correct for any input size: no correction is needed) and the subtraction
into a float ``SUB``; a BatchNorm after the layer stays a float op instead of fused. Every
other layer and weight is copied unchanged. The sums are integers (times the kernel scale of a
magnitude-aware kernel), so the rewritten layer equals the original to float rounding.

A conv with a multi-bit or no input quantizer (DoReFa's) is not affected: LCE computes it as a
float ``CONV_2D`` with ordinary ``same`` padding, after ``upstream_kernels`` has folded its
kernel.

Example:
    >>> zero_padding_defects(zoo.BinaryResNetE18(input_shape=(64, 64, 3)))[0]
    ZeroPaddingDefect(layer='stage4_block2_conv', input_size=(2, 2), kernel=(3, 3), strides=(1, 1))
    >>> flatbuffer = lce.convert_keras_model(avoid_upstream_defects(model))  # what to_tflite does
"""

from __future__ import annotations

from dataclasses import dataclass

import larq as lq
import tensorflow as tf

from bnnzoo.converters.lce.upstream_batchnorm import (  # noqa: F401  (re-exported)
    as_depthwise,
    fill_affine,
    imprecise_fused_batchnorms,
)
from bnnzoo.converters.lce.upstream_kernels import (
    fill_folded,
    has_one_bit_input,
    kernel_attribute,
    quantized_kernels,
    without_kernel_quantizer,
)

LCE_VERSION = "0.16"


@dataclass(frozen=True)
class ZeroPaddingDefect:
    """A binary convolution that LCE 0.16 converts wrongly (see the module docstring).

    Attributes:
        layer: name of the layer, with the names of the nested models it sits in
            (``"outer/inner/conv"``).
        input_size: (height, width) of its input.
        kernel: the effective (dilated) kernel size, (height, width).
        strides: its strides.
    """

    layer: str
    input_size: tuple[int, int]
    kernel: tuple[int, int]
    strides: tuple[int, int]


def is_zero_padded_binary_conv(layer: tf.keras.layers.Layer) -> bool:
    """True for a larq ``QuantConv2D`` that LCE makes an ``LceBconv2d`` with ``same``-zero
    padding: 1-bit input quantizer, quantized kernel, padding ``same``, pad value 0."""
    return (
        isinstance(layer, lq.layers.QuantConv2D)
        and layer.padding == "same"
        and not tf.is_tensor(layer.pad_values)
        and float(layer.pad_values) == 0.0
        and has_one_bit_input(layer)
        and layer.kernel_quantizer is not None
    )


def effective_kernel(layer: tf.keras.layers.Layer) -> tuple[int, int]:
    """The (height, width) a dilated kernel spans: ``(k - 1) * dilation + 1`` per axis."""
    return tuple((k - 1) * d + 1 for k, d in zip(layer.kernel_size, layer.dilation_rate))


def _input_sizes(layer: tf.keras.layers.Layer) -> set[tuple[int, int]]:
    """The (height, width) of every call of ``layer`` in a graph (channels-last inputs)."""
    sizes = set()
    for node in layer.inbound_nodes:
        shape = tf.TensorShape(node.input_shapes)
        if shape.rank == 4 and None not in shape[1:3]:
            sizes.add((int(shape[1]), int(shape[2])))
    return sizes


def zero_padding_defects(model: tf.keras.Model, *, _prefix: str = "") -> list[ZeroPaddingDefect]:
    """The binary convolutions of ``model`` (nested models included) that LCE 0.16 converts
    wrongly: ``same``-zero padded, with an input smaller than the effective kernel in height or
    width (see the module docstring).

    Example:
        >>> [d.layer for d in zero_padding_defects(zoo.BinaryResNetE18(input_shape=(64, 64, 3)))]
        ['stage4_block2_conv', 'stage4_block3_conv', 'stage4_block4_conv']
    """
    defects = []
    for layer in model.layers:
        name = f"{_prefix}{layer.name}"
        if isinstance(layer, tf.keras.Model):
            defects += zero_padding_defects(layer, _prefix=f"{name}/")
        else:
            defects += _layer_defects(layer, name)
    return defects


def _layer_defects(layer: tf.keras.layers.Layer, name: str) -> list[ZeroPaddingDefect]:
    if not is_zero_padded_binary_conv(layer):
        return []
    kernel = effective_kernel(layer)
    return [
        ZeroPaddingDefect(name, size, kernel, tuple(layer.strides))
        for size in sorted(_input_sizes(layer))
        if size[0] < kernel[0] or size[1] < kernel[1]
    ]


class OnePaddedWithBorderCorrection(lq.layers.QuantConv2D):
    """A ``same``-zero binary convolution computed as the ``same``-one convolution with the same
    kernel minus a constant ``border`` (the padded taps, summed per output position): the form
    of the layer that LCE 0.16 converts correctly on any input size. Conversion only."""

    def build(self, input_shape):
        super().build(input_shape)
        output_shape = self.compute_output_shape(input_shape)
        self.border = self.add_weight(
            name="border",
            shape=tuple(output_shape[1:]),
            initializer="zeros",
            trainable=False,
        )

    def call(self, inputs):
        outputs = super().call(inputs)
        height, width, channels = self.border.shape
        border = tf.cast(self.border, outputs.dtype)
        if height * width == 1:  # one value per channel: LCE fuses it into the op's bias
            return outputs - tf.reshape(border, (channels,))
        # LCE 0.16 fuses an ADD or SUB of a constant right after an LceBconv2d into the op's
        # per-channel bias without checking the constant's shape, and its interpreter then
        # refuses the file. On a flat view the constant cannot be moved before the reshape.
        flat = tf.reshape(outputs, (-1, height * width * channels))
        flat -= tf.reshape(border, (1, -1))
        return tf.reshape(flat, (-1, height, width, channels))


def _one_padded(layer: lq.layers.QuantConv2D) -> OnePaddedWithBorderCorrection:
    config = layer.get_config()
    config["pad_values"] = 1.0
    return OnePaddedWithBorderCorrection.from_config(config)


def _fill_border(original, rewritten: OnePaddedWithBorderCorrection) -> None:
    """Copy the kernel and set ``border`` so that ``rewritten`` equals ``original``."""
    rewritten.kernel.assign(original.kernel)
    rewritten.border.assign(tf.zeros_like(rewritten.border))
    (size,) = _input_sizes(original)
    probe = tf.ones((1, *size, original.kernel.shape[2] * original.groups), original.dtype)
    border = rewritten(probe) - original(probe)  # independent of the probe's values
    rewritten.border.assign(tf.cast(border[0], rewritten.border.dtype))


def avoid_upstream_defects(model: tf.keras.Model, *, target: str = "arm") -> tf.keras.Model:
    """``model`` itself when it has neither defect; otherwise a copy in which every layer of
    ``zero_padding_defects`` is rewritten exactly (see the module docstring), every layer of
    ``upstream_kernels.quantized_kernels`` has its quantized kernel folded in, every BatchNorm of
    ``upstream_batchnorm.imprecise_fused_batchnorms`` is a 1×1 depthwise conv, and every other
    layer and weight is the same.

    ``target="xcore"`` folds the kernels only: LCE makes no ``LceBconv2d`` for XMOS, so neither
    the zero-padding defect nor the fused BatchNorm arises, while its converter fails on large
    kernels the same way.

    Raises:
        ValueError: a zero-padding layer that cannot be rewritten (called on several input
            sizes, or inside a subclassed model), before anything is converted.

    Example:
        >>> lce.convert_keras_model(avoid_upstream_defects(model))
    """
    padding = target == "arm"
    if not _needs_rewrite(model, padding):
        return model
    return _rewrite(model, prefix="", padding=padding)


def _needs_rewrite(model: tf.keras.Model, padding: bool) -> bool:
    kernels = quantized_kernels(model, binary_convs=padding)
    arm_only = padding and (zero_padding_defects(model) or imprecise_fused_batchnorms(model))
    return bool(kernels or arm_only)


def _rewrite(model: tf.keras.Model, *, prefix: str, padding: bool) -> tf.keras.Model:
    """A copy of a functional or Sequential model with its affected layers rewritten (zero
    padding only where ``padding``); a subclassed model as it is when only its kernels would be
    folded."""
    if not (isinstance(model, tf.keras.Sequential) or getattr(model, "_is_graph_network", False)):
        defects = zero_padding_defects(model, _prefix=prefix) if padding else []
        if not defects:
            return model  # its layers cannot be replaced; LCE folds their kernels as it can
        _refuse(defects[0], f"it sits in the subclassed model {model.name!r}")
    pairs = []
    imprecise = {b.layer for b in imprecise_fused_batchnorms(model)} if padding else set()

    def clone(layer):
        if isinstance(layer, tf.keras.Model) and _needs_rewrite(layer, padding):
            return _rewrite(layer, prefix=f"{prefix}{layer.name}/", padding=padding)
        if layer.name in imprecise:
            new = as_depthwise(layer)
            pairs.append((layer, new, fill_affine))
            return new
        affected = _layer_defects(layer, f"{prefix}{layer.name}") if padding else []
        if kernel_attribute(layer, binary_convs=padding) is not None and not affected:
            new = without_kernel_quantizer(layer, binary_dense_as_conv=padding)
            pairs.append((layer, new, fill_folded))
            return new
        if affected and len(_input_sizes(layer)) > 1:
            _refuse(affected[0], "it is called on several input sizes")
        if affected:
            new = _one_padded(layer)
            pairs.append((layer, new, _fill_border))
        else:
            new = layer.__class__.from_config(layer.get_config())
            pairs.append((layer, new, _copy_weights))
        return new

    rewritten = tf.keras.models.clone_model(model, clone_function=clone)
    for original, new, fill in pairs:  # nested models come back built, with their weights
        fill(original, new)
    return rewritten


def _copy_weights(original, new) -> None:
    new.set_weights(original.get_weights())


def _refuse(defect: ZeroPaddingDefect, reason: str):
    (h, w), (kh, kw) = defect.input_size, defect.kernel
    raise ValueError(
        f"Cannot convert binary conv {defect.layer!r} correctly: it has a {h}x{w} input, smaller "
        f"than its {kh}x{kw} kernel, which Larq Compute Engine {LCE_VERSION} computes wrongly "
        f"with pad value 0 (its zero-padding correction assumes an input at least the kernel's "
        f"size), and bnnzoo cannot rewrite it ({reason}). Build the model at an input size where "
        f"every binary conv's input is at least {kh}x{kw}, or use pad_value=1.0."
    )
