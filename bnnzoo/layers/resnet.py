"""The ResNetE / Bi-Real shortcut block (Bethge, Yang, Bornstein, Meinel 2019, "BinaryDenseNet:
Developing an Architecture for Binary Neural Networks", §3.2, Figure 1c–d).

ResNetE puts a shortcut around every single binary 3×3 convolution. Where the block changes
resolution or width, the shortcut downsamples: AvgPool 2 → 1×1 conv → BN, with a full-precision
1×1 conv (Bi-Real, the published models) or a binary one (Table 2). ``pooled_projection`` is that
shortcut alone, which the Bi-Real networks (``bnnzoo.zoo.bireal``) and the IGP-ResNet transitions
share.
"""

from __future__ import annotations

import tensorflow as tf

from bnnzoo._checks import one_of
from bnnzoo.layers.conv import DOWNSAMPLING, batch_norm, binary_conv


def shortcut_block(
    x: tf.Tensor,
    filters: int,
    *,
    strides: int = 1,
    downsampling: str = "full_precision",
    clip_value: float = 1.25,
    pad_value: float = 0.0,
    scaling: bool = False,
    name: str,
) -> tf.Tensor:
    """Binary 3×3 conv → BN, added to a shortcut of ``x``.

    Args:
        x: input feature map.
        filters: output channels.
        strides: 1, or 2 to halve the resolution.
        downsampling: the shortcut's 1×1 conv when the shape changes: ``"full_precision"`` or
            ``"binary"``.
        clip_value: ``t_clip`` of the binary convs (1.25 for ResNetE18).
        pad_value: pad value of the 3×3 binary conv (0.0 or 1.0).
        scaling: XNOR-Net scaling factors on the binary convs.
        name: prefix of the layer names.

    Example:
        >>> x = shortcut_block(x, 128, strides=2, name="stage2_block1")
    """
    one_of("downsampling", downsampling, DOWNSAMPLING)
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        # Built before the residual branch: the published weights list the shortcut first.
        shortcut = pooled_projection(
            x,
            filters,
            strides=strides,
            downsampling=downsampling,
            clip_value=clip_value,
            name=f"{name}_shortcut",
        )
    y = binary_conv(
        x,
        filters,
        3,
        strides=strides,
        clip_value=clip_value,
        pad_value=pad_value,
        scaling=scaling,
        name=f"{name}_conv",
    )
    y = batch_norm(name=f"{name}_bn")(y)
    return tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])


def pooled_projection(
    x: tf.Tensor,
    filters: int,
    *,
    strides: int,
    pool: bool = True,
    pool_padding: str = "valid",
    downsampling: str = "full_precision",
    clip_value: float = 1.25,
    bn_epsilon: float = 1e-5,
    name: str,
) -> tf.Tensor:
    """AvgPool ``strides`` → 1×1 conv to ``filters`` → BN: the shortcut of a block that changes
    resolution or width (Bi-Real Net, ResNetE), or a full-precision transition between stages.

    Args:
        x: input feature map.
        filters: output channels.
        strides: pool size and stride of the average pooling.
        pool: False leaves the pooling out (Bi-Real's shortcuts pool only where they stride).
        pool_padding: padding of the pooling, ``"valid"`` (ResNetE) or ``"same"`` (Bi-Real).
        downsampling: the 1×1 conv: ``"full_precision"`` (a glorot-normal ``Conv2D`` without
            bias) or ``"binary"`` (``binary_conv`` with ``clip_value``).
        clip_value: ``t_clip`` of the binary 1×1 conv.
        bn_epsilon: epsilon of the BatchNorm.
        name: prefix of the layer names ``{name}_pool``, ``{name}_conv``, ``{name}_bn``.

    Example:
        >>> shortcut = pooled_projection(x, 128, strides=2, name="stage2_block1_shortcut")
    """
    one_of("downsampling", downsampling, DOWNSAMPLING)
    if pool:
        x = tf.keras.layers.AveragePooling2D(
            strides, strides=strides, padding=pool_padding, name=f"{name}_pool"
        )(x)
    if downsampling == "binary":
        x = binary_conv(x, filters, 1, clip_value=clip_value, name=f"{name}_conv")
    else:
        x = tf.keras.layers.Conv2D(
            filters, 1, use_bias=False, kernel_initializer="glorot_normal", name=f"{name}_conv"
        )(x)
    return batch_norm(name=f"{name}_bn", epsilon=bn_epsilon)(x)
