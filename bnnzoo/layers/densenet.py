"""BinaryDenseNet building blocks (Bethge, Yang, Bornstein, Meinel 2019, "BinaryDenseNet:
Developing an Architecture for Binary Neural Networks", §4.2, Figure 3).

A dense layer appends ``growth_rate`` new channels computed by one binary 3×3 convolution from
everything before it. A transition between stages shrinks the feature map: BN → MaxPool 2 →
ReLU → full-precision 1×1 convolution (Figure 3e: pooling before the convolution needs 4× fewer
MACs than DenseNet's ReLU → 1×1 conv → AvgPool).
"""

from __future__ import annotations

import tensorflow as tf

from bnnzoo._checks import one_of
from bnnzoo.layers.conv import DOWNSAMPLING, batch_norm, binary_conv


def dense_layer(
    x: tf.Tensor,
    growth_rate: int = 64,
    *,
    dilation_rate: int = 1,
    clip_value: float = 1.3,
    pad_value: float = 0.0,
    scaling: bool = False,
    name: str,
) -> tf.Tensor:
    """BN → binary 3×3 conv with ``growth_rate`` filters → concatenate with the input.

    Example:
        >>> x = dense_layer(x, 64, name="stage1_layer1")  # channels: C -> C + 64
    """
    y = batch_norm(name=f"{name}_bn")(x)
    y = binary_conv(
        y,
        growth_rate,
        3,
        dilation_rate=dilation_rate,
        clip_value=clip_value,
        pad_value=pad_value,
        scaling=scaling,
        name=f"{name}_conv",
    )
    return tf.keras.layers.Concatenate(name=f"{name}_concat")([x, y])


def transition_filters(channels: int, reduction: float) -> int:
    """Output channels of a transition: ``channels / reduction`` rounded to a multiple of 32.

    This is the rounding of the published BinaryDenseNets (larq-zoo's weights): the quotient is
    floored first, then rounded to the nearest multiple of 32 (ties to even), e.g. 448 / 2.7 →
    160, 960 / 4 → 256, 928 / 3.3 → 288. A reduction of 1 keeps every channel.
    """
    if not reduction >= 1:
        raise ValueError(
            f"Expected a reduction rate >= 1 (Bethge et al.'s Table 7 uses 2.2 to 4). "
            f"Received: reduction={reduction!r}."
        )
    if reduction == 1:
        return int(channels)
    return max(32, int(round((channels // reduction) / 32)) * 32)


def transition(
    x: tf.Tensor,
    filters: int,
    *,
    pool: bool = True,
    downsampling: str = "full_precision",
    clip_value: float = 1.3,
    name: str,
) -> tf.Tensor:
    """BN → MaxPool 2 → ReLU → 1×1 conv, the BinaryDenseNet transition (Figure 3e).

    Args:
        x: input feature map.
        filters: output channels (see ``transition_filters``).
        pool: halve the resolution; the dilated BinaryDenseNet37 keeps it in its last stages.
        downsampling: ``"full_precision"`` (the published models) or ``"binary"`` (Table 4's
            "binary, low" variant). The binary 1×1 conv has no ReLU before it: the
            sign of a ReLU output is always +1, so it would see a constant input.
        clip_value: ``t_clip`` of the binary variant.
        name: prefix of the layer names.
    """
    one_of("downsampling", downsampling, DOWNSAMPLING)
    y = batch_norm(name=f"{name}_bn")(x)
    if pool:
        y = tf.keras.layers.MaxPooling2D(2, strides=2, name=f"{name}_pool")(y)
    if downsampling == "binary":
        return binary_conv(y, filters, 1, clip_value=clip_value, name=f"{name}_conv")
    y = tf.keras.layers.Activation("relu", name=f"{name}_relu")(y)
    return tf.keras.layers.Conv2D(
        filters, 1, use_bias=False, kernel_initializer="he_normal", name=f"{name}_conv"
    )(y)
