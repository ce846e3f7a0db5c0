"""Binary ResNetE (Bethge, Yang, Bornstein, Meinel 2019, "BinaryDenseNet: Developing an
Architecture for Binary Neural Networks", §3.2): ResNet with an extra shortcut around every binary
conv, the block design of Bi-Real Net.

Stem (full precision) → BN → stages of ``shortcut_block`` (binary 3×3 conv → BN → add) →
ReLU → global average pooling → full-precision classifier. The first block of stages 2–4 halves
the resolution and doubles the width; its shortcut is AvgPool 2 → 1×1 conv → BN. ResNetE18 uses
``t_clip = 1.25`` and is weight-compatible with larq-zoo's BinaryResNetE18 (``weights="imagenet"``
loads larq-zoo's ImageNet weights).

Ablations of Table 2 as arguments: ``downsampling="binary"`` (binary 1×1 shortcut conv) and
``scaling=True`` (XNOR-Net scaling factors).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from bnnzoo._checks import positive_ints
from bnnzoo.layers import batch_norm, shortcut_block
from bnnzoo.zoo import _common
from bnnzoo.zoo.papers import BETHGE_2019
from bnnzoo.zoo.pretrained import IMAGENET
from bnnzoo.zoo.registry import register_model

PAPER = BETHGE_2019


@_common.builder
def BinaryResNetE(
    *,
    blocks_per_stage: Sequence[int] = (4, 4, 4, 4),
    filters: Sequence[int] = (64, 128, 256, 512),
    downsampling: str = "full_precision",
    scaling: bool = False,
    clip_value: float = 1.25,
    pad_value: float = 0.0,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "binary_resnet_e",
    larq_zoo_name: str | None = None,
) -> tf.keras.Model:
    """Build a binary ResNetE of any depth and width.

    Args:
        blocks_per_stage: single-conv blocks in each stage; (4, 4, 4, 4) is ResNetE18.
        filters: width of each stage.
        downsampling: ``"full_precision"`` or ``"binary"`` 1×1 conv in downsampling shortcuts.
        scaling: XNOR-Net scaling factors on the binary 3×3 convs.
        clip_value: ``t_clip`` of the STE and the weight clip.
        pad_value: pad value of the binary 3×3 convs (0.0 or 1.0).
        input_shape, input_tensor, weights, include_top, num_classes, classifier_activation,
        pooling, name, larq_zoo_name: as in ``BinaryDenseNet``; ``include_top=False`` ends after the
            final ReLU.

    Example:
        >>> model = BinaryResNetE(input_shape=(32, 32, 3), num_classes=10,
        ...                       downsampling="binary")
    """
    blocks_per_stage = positive_ints("blocks_per_stage", blocks_per_stage)
    filters = positive_ints("filters", filters)
    if len(blocks_per_stage) != len(filters):
        raise ValueError(
            f"Expected blocks_per_stage and filters of the same length, one entry per stage. "
            f"Received: blocks_per_stage={blocks_per_stage}, filters={filters}."
        )
    inputs = _common.check_inputs(
        model_name=name,
        min_size=2 ** (len(filters) - 1),
        imagenet=_common.imagenet_weights(larq_zoo_name),
        **_common.application_args(locals()),
    )

    x_in = _common.model_input(inputs)
    x = _common.stem(x_in, small=inputs.small, filters=filters[0])
    x = batch_norm(name="stem_bn2")(x)
    for stage, (n_blocks, width) in enumerate(zip(blocks_per_stage, filters)):
        for block in range(n_blocks):
            x = shortcut_block(
                x,
                width,
                strides=2 if stage > 0 and block == 0 else 1,
                downsampling=downsampling,
                clip_value=clip_value,
                pad_value=pad_value,
                scaling=scaling,
                name=f"stage{stage + 1}_block{block + 1}",
            )
    x = tf.keras.layers.Activation("relu", name="final_relu")(x)
    x = _common.top(x, inputs, kernel_initializer="glorot_normal")
    return _common.finish(x_in, x, inputs, name=name)


@register_model(
    "binary_resnet_e18",
    family="resnet_e",
    paper=PAPER,
    published_params=11_699_368,
    pretrained={"imagenet": IMAGENET["BinaryResNetE18"]},
)
def BinaryResNetE18(**kwargs) -> tf.keras.Model:
    """Binary ResNetE18: four stages of four blocks, 64–512 filters, FP downsampling; 58.1% top-1
    (Bethge et al. 2019, Table 3). Keyword arguments are those of ``BinaryResNetE``."""
    kwargs.setdefault("name", "binary_resnet_e18")
    return BinaryResNetE(larq_zoo_name="BinaryResNetE18", **kwargs)
