"""ReActNet (Liu, Shen, Savvides, Cheng 2020, "ReActNet: Towards Precise Binary Neural Network
with Generalized Activation Functions"): ReActNet-A and the Bi-Real-based ReActNet.

Both put RSign (a learnable threshold before the sign) before every binary convolution and
RPReLU (a shifted PReLU) after every residual addition (``bnnzoo.layers.reactnet``).

* ReActNet-A (69.4 % top-1, 4.82×10⁹ BOPs, 0.12×10⁸ FLOPs, 0.87×10⁸ OPs):
  MobileNetV1's layout, each depthwise 3×3 a full binary 3×3 and each pointwise 1×1 binary,
  a shortcut around every binary conv. Full-precision stem: 3×3 stride-2 conv to 32 channels →
  BN. Thirteen blocks of 64, 128, 128, 256, 256, 512 ×6, 1024, 1024 channels; the 3×3 has
  stride 2 in every block that doubles the width except the first (32 → 64), and its shortcut
  is then average-pooled 2×2; a block that doubles its width has two 1×1 convs, concatenated
  (``bnnzoo.layers.reactnet_block``). Global average pooling and a full-precision classifier.
* The Bi-Real-based ReActNet (65.9 %, 1.63×10⁸ OPs): Bi-Real Net's ResNet-18 (7×7/2
  stem → BN → 3×3/2 max pool, [2, 2, 2, 2] basic blocks, a shortcut around each binary 3×3,
  AvgPool 2 → full-precision 1×1 → BN where the shortcut downsamples), with RSign before and
  RPReLU after every binary conv.

Where the paper is silent:

* Inputs under 50 px (the zoo's CIFAR convention) get a stride-1 stem: ReActNet-A's 3×3 stem
  keeps its kernel, the Bi-Real stem becomes 3×3 stride 1 without pooling.
* The binary convs pad with 0 (``same``), use a magnitude-aware kernel (the per-channel mean
  ``|w|`` of the authors' code) and ``clip_value=1`` (``bnnzoo.layers.reactnet``).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from bnnzoo._checks import positive_int, positive_ints, true_or_false
from bnnzoo.layers import batch_norm, reactnet_block, rsign_residual
from bnnzoo.layers.resnet import pooled_projection
from bnnzoo.zoo import _common
from bnnzoo.zoo.papers import LIU_2020
from bnnzoo.zoo.registry import register_model

PAPER = LIU_2020
FAMILY = "reactnet"
# ReActNet-A's block widths: MobileNetV1's pointwise widths
REACTNET_A_WIDTHS = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)


def block_strides(stem_width: int, widths: Sequence[int]) -> tuple[int, ...]:
    """Each block's stride: 2 where it doubles the width, except the first block; else 1.

    Raises:
        ValueError: a block that neither keeps nor doubles the width before it.

    Example:
        >>> block_strides(32, (64, 128, 128))
        (1, 2, 1)
    """
    strides, before = [], stem_width
    for i, width in enumerate(widths):
        if width not in (before, 2 * before):
            raise ValueError(
                f"Expected every ReActNet-A block to keep or double the width before it "
                f"(stem_width={stem_width}, then each entry of widths). Received: widths[{i}]="
                f"{width} after {before}. Pass e.g. widths=(64, 128, 128, 256)."
            )
        strides.append(2 if i > 0 and width == 2 * before else 1)
        before = width
    return tuple(strides)


def _functions(rsign, rprelu) -> dict:
    """``rsign`` and ``rprelu``, checked to be True or False."""
    return {
        key: true_or_false(
            key,
            value,
            hint=f"Pass {key}=False for the function ReActNet generalizes (the paper's baseline).",
        )  # fmt: skip
        for key, value in (("rsign", rsign), ("rprelu", rprelu))
    }


@register_model("reactnet_a", family=FAMILY, paper=PAPER)
def ReActNetA(
    *,
    widths: Sequence[int] = REACTNET_A_WIDTHS,
    stem_width: int = 32,
    rsign: bool = True,
    rprelu: bool = True,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "reactnet_a",
) -> tf.keras.Model:
    """ReActNet-A: MobileNetV1's layout with binary 3×3 and 1×1 convs, RSign and RPReLU.

    Args:
        widths: output channels of each block; each keeps or doubles the one before it.
        stem_width: output channels of the full-precision 3×3 stem (32 in the paper).
        rsign, rprelu: RSign before every binary conv and RPReLU after every add; ``False``
            puts the functions they generalize in their place (the plain sign; a PReLU with
            one slope per channel): the paper's baseline and its ablations.
        input_shape, input_tensor, weights, include_top, num_classes, classifier_activation,
        pooling: as in Keras applications; ``include_top=False`` ends after the last block,
            pooled to a vector with ``pooling="avg"`` or ``"max"``.
        name: the model's name.

    Example:
        >>> model = ReActNetA(input_shape=(32, 32, 3), num_classes=10)
    """
    stem_width = positive_int("stem_width", stem_width, hint="ReActNet-A has stem_width=32.")
    widths = positive_ints("widths", widths)
    functions = _functions(rsign, rprelu)
    strides = block_strides(stem_width, widths)
    inputs = _common.check_inputs(
        model_name=name,
        min_size=2 ** strides.count(2),
        **_common.application_args(locals()),
    )
    x_in = _common.model_input(inputs)
    x = tf.keras.layers.Conv2D(
        stem_width,
        3,
        strides=1 if inputs.small else 2,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name="stem_conv",
    )(x_in)
    x = batch_norm(name="stem_bn")(x)
    for i, (width, stride) in enumerate(zip(widths, strides)):
        x = reactnet_block(x, width, strides=stride, **functions, name=f"block{i + 1}")
    x = _common.top(x, inputs, kernel_initializer="glorot_normal")
    return _common.finish(x_in, x, inputs, name=name)


@_common.builder
def ReActNetBiReal(
    *,
    blocks: Sequence[int] = (2, 2, 2, 2),
    width: int = 64,
    rsign: bool = True,
    rprelu: bool = True,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "reactnet_bireal",
) -> tf.keras.Model:
    """A Bi-Real ResNet with ReActNet's RSign and RPReLU around every binary 3×3 conv.

    Args:
        blocks: basic blocks (two binary convs each) per stage; stages 2+ start with stride 2.
        width: the stem's and the first stage's channels; stage i has ``width * 2**i``.
        rsign, rprelu: as in ``ReActNetA``.
        input_shape, input_tensor, weights, include_top, num_classes, classifier_activation,
        pooling: as in Keras applications.
        name: the model's name.

    Example:
        >>> model = ReActNetBiReal(blocks=(1, 1), width=16, input_shape=(32, 32, 3))
    """
    blocks = positive_ints("blocks", blocks)
    width = positive_int("width", width, hint="The Bi-Real-based ReActNet has width=64.")
    functions = _functions(rsign, rprelu)
    inputs = _common.check_inputs(
        model_name=name,
        min_size=2 ** (len(blocks) - 1),
        **_common.application_args(locals()),
    )
    x_in = _common.model_input(inputs)
    x = _common.stem(
        x_in, small=inputs.small, filters=width, relu=False, kernel_initializer="glorot_normal"
    )
    for i, stage_blocks in enumerate(blocks):
        filters = width * 2**i
        for j in range(2 * stage_blocks):
            strides = 2 if i > 0 and j == 0 else 1
            name_ij = _common.conv_name(i, j)
            shortcut = x
            if strides != 1 or x.shape[-1] != filters:
                shortcut = pooled_projection(
                    x,
                    filters,
                    strides=strides,
                    pool=strides != 1,
                    pool_padding="same",
                    name=f"{name_ij}_shortcut",
                )
            x = rsign_residual(x, shortcut, filters, 3, strides=strides, **functions,
                               name=name_ij)  # fmt: skip
    x = _common.top(x, inputs, kernel_initializer="glorot_normal")
    return _common.finish(x_in, x, inputs, name=name)


@register_model("reactnet_bireal18", family=FAMILY, paper=PAPER)
def ReActNetBiReal18(*, width: int = 64, **kwargs) -> tf.keras.Model:
    """The Bi-Real-based ReActNet: Bi-Real ResNet-18 ([2, 2, 2, 2] basic blocks) with RSign and
    RPReLU, 65.9 % top-1 (Liu et al. 2020). Keyword arguments are those of
    ``ReActNetBiReal``."""
    kwargs.setdefault("name", "reactnet_bireal18")
    return ReActNetBiReal(blocks=(2, 2, 2, 2), width=width, **kwargs)
