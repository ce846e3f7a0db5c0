"""Binary convolution presets, built the way Larq Compute Engine fuses them.

LCE turns ``sign(x)`` followed by a binary-kernel convolution into one ``LceBconv2d`` op when the
convolution has a sign input quantizer, a binary kernel, no bias, and padding ``valid`` or
``same`` with ``pad_values`` of 0 or 1; the BatchNorm after it folds into the op's output
transform. Both pad values fuse in LCE 0.16 (checked by converting a one-layer model: one
``LceBconv2d`` either way). ``pad_value=0.0`` is what larq-zoo's published ImageNet weights were
trained with; ``1.0`` saves LCE a correction for the border.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnnzoo.layers.quantizers import magnitude_aware_quantizer, sign_quantizer, weight_clip
from bnnzoo.layers.scaling import XnorScaling

PAD_VALUES = (0.0, 1.0)
# the precision of a downsampling 1×1 conv (a BinaryDenseNet transition, a ResNetE shortcut)
DOWNSAMPLING = ("full_precision", "binary")


def binary_conv2d(
    filters: int,
    kernel_size: int | tuple[int, int] = 3,
    *,
    strides: int = 1,
    padding: str = "same",
    pad_value: float = 0.0,
    dilation_rate: int = 1,
    clip_value: float = 1.3,
    magnitude_aware: bool = False,
    kernel_initializer: str = "glorot_normal",
    name: str | None = None,
) -> lq.layers.QuantConv2D:
    """A larq ``QuantConv2D`` with binary inputs and weights, ready for LCE.

    Args:
        filters: number of output channels.
        kernel_size: spatial size of the kernel.
        strides: convolution stride.
        padding: ``"same"`` or ``"valid"``.
        pad_value: value the sign-quantized input is padded with under ``"same"``: 0.0 or 1.0.
        dilation_rate: dilation of the kernel.
        clip_value: STE gradient-cancelling threshold and weight clip (``t_clip`` of Bethge
            et al. 2019).
        magnitude_aware: scale the binary weights by their per-channel mean magnitude
            (XNOR-Net's ``alpha``) instead of plain ``sign``.
        kernel_initializer: initializer of the latent weights.
        name: layer name.

    Example:
        >>> conv = binary_conv2d(64, 3, clip_value=1.3, name="block1_conv")
        >>> y = conv(x)
    """
    if padding not in ("same", "valid"):
        raise ValueError(
            f"Expected padding to be 'same' or 'valid' (the two paddings LCE fuses). "
            f"Received: padding={padding!r}."
        )
    if float(pad_value) not in PAD_VALUES:
        raise ValueError(
            f"Expected pad_value to be 0.0 or 1.0 (the pad values LCE fuses into LceBconv2d). "
            f"Received: pad_value={pad_value!r}."
        )
    kernel_quantizer = (
        magnitude_aware_quantizer(clip_value) if magnitude_aware else sign_quantizer(clip_value)
    )
    return lq.layers.QuantConv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        pad_values=float(pad_value),
        dilation_rate=dilation_rate,
        input_quantizer=sign_quantizer(clip_value),
        kernel_quantizer=kernel_quantizer,
        kernel_constraint=weight_clip(clip_value),
        kernel_initializer=kernel_initializer,
        use_bias=False,
        name=name,
    )


def binary_conv(
    x: tf.Tensor,
    filters: int,
    kernel_size: int = 3,
    *,
    strides: int = 1,
    padding: str = "same",
    pad_value: float = 0.0,
    dilation_rate: int = 1,
    clip_value: float = 1.3,
    scaling: bool = False,
    name: str | None = None,
) -> tf.Tensor:
    """Apply a binary convolution to ``x``; with ``scaling``, XNOR-Net's ``alpha`` and ``K``.

    Without scaling this is exactly ``binary_conv2d(...)(x)``. With scaling the kernel is
    magnitude-aware and an ``XnorScaling`` layer multiplies in the activation scale (Bethge et
    al. 2019, §3.4, Table 2). Neither adds parameters.
    """
    conv = binary_conv2d(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        pad_value=pad_value,
        dilation_rate=dilation_rate,
        clip_value=clip_value,
        magnitude_aware=scaling,
        name=name,
    )
    y = conv(x)
    if scaling:
        y = XnorScaling(
            kernel_size,
            strides=strides,
            padding=padding,
            dilation_rate=dilation_rate,
            name=f"{name}_scaling" if name else None,
        )([y, x])
    return y


def batch_norm(
    name: str | None = None, *, epsilon: float = 1e-5
) -> tf.keras.layers.BatchNormalization:
    """The BatchNorm used after every convolution in the zoo: momentum 0.9, epsilon 1e-5 (the
    Bi-Real networks pass their ``Binarization``'s epsilon)."""
    return tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=epsilon, name=name)


def binary_dense(
    units: int,
    *,
    binary_weights: bool = True,
    clip_value: float = 1.0,
    kernel_initializer: str = "glorot_normal",
    name: str | None = None,
) -> lq.layers.QuantDense:
    """A larq ``QuantDense`` with sign-quantized inputs; binary weights unless asked otherwise.

    ``binary_weights=False`` keeps the "regular weights" of a BNN's last layer (Wu, Wu, Zhao
    2016) while its input stays binary.

    Example:
        >>> y = binary_dense(4096, name="fc1")(x)
    """
    return lq.layers.QuantDense(
        units,
        input_quantizer=sign_quantizer(clip_value),
        kernel_quantizer=sign_quantizer(clip_value) if binary_weights else None,
        kernel_constraint=weight_clip(clip_value) if binary_weights else None,
        kernel_initializer=kernel_initializer,
        use_bias=not binary_weights,
        name=name,
    )
