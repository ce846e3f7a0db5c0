"""IGP-ResNets and IGP-DenseNets (Zhu, Hofstee, Lee, Al-Ars 2022, "Improving Gradient Paths for
Binary Convolutional Neural Networks", IGP): Bi-Real ResNets and BinaryDenseNets whose blocks
give every binary layer short, cheap gradient paths.

No code of the authors exists and the paper is terse: shortcuts make N_1st = 0, the second
shortest path passes one binary conv (L_2nd = 1), an IGP-ResNet block has M binary convs (M = 3,
7, 15 for IGP-ResNet21, 37, 69), and an IGP-DenseNet block (Figure 2, depth two) has three convs,
two of one cost N_1 and one of cost N_2, with N_2nd = N_1 and N_3rd = N_1 + N_2. The same authors'
"SoFAr: Shortcut-based Fractal Architectures for Binary Convolutional Neural Networks" names what
are very likely the same networks ("RF-c4d8 ResNet37(41)", "DRF-c2d2 DenseNet51(53)", with the
same accuracy gains): residual and dense versions of FractalNet's rule
``f_{c+1}(z) = f_c(f_c(z)) ⊕ conv(z)`` (2^c − 1 convs, deepest path 2^(c−1)).

**IGP-ResNet (the reading built here).** The residual rule starts from the identity:
``f_0(z) = z`` and ``f_{c+1}(z) = f_c(f_c(z)) + BN(conv(z))``, so ``f_1`` is exactly the Bi-Real
block (a shortcut around one binary 3×3 conv) and ``f_c`` has M = 2^c − 1 binary convs, all at the
stage width, joined by parameter-free adds. The paper's M = 3, 7, 15 are ``f_2, f_3, f_4``. Each
stage is two such blocks in series, as Bi-Real ResNet18 has two basic blocks per stage, joined
once more at the stage level (``stage_join``): the stage is ``f_{c+1}``, SoFAr's "c4d8" (four
columns, 8 deep) for IGP-ResNet37. Stages are separated by full-precision transitions (AvgPool 2
→ 1×1 conv doubling the width → BN), the stem is a 7×7/2 conv of the base width → BN → max pool,
the head global pooling → dense. The depth label counts stem + deepest binary path + 3
transitions + classifier: 1 + 4·4 + 3 + 1 = 21, 1 + 4·8 + 3 + 1 = 37, 1 + 4·16 + 3 + 1 = 69.

Why: the width in parentheses is then exactly the largest base width whose storage stays within
Bi-Real ResNet18's 33.2 Mbit, for all three nets: 53, 41, 31 (two blocks per stage without the
stage join would allow 55, 42, 31). IGP-ResNet37(41) comes out at 32.27 Mbit and 0.128·10⁹ OPs
(Table 1: 32.2, 0.13).

IGP-ResNet41(48) is the 34-layer Bi-Real's counterpart: depth 1 + 36 + 3 + 1 has stages 8, 8,
12, 8 deep, i.e. 2, 2, 3, 2 blocks of M = 7. A stage of three blocks is not a fractal (``f_{c+1}``
has exactly two halves), so it has no stage join: 14, 14, 21, 14 convs. That gives 42.64 Mbit and
0.164·10⁹ OPs (Table 1: 42.6, 0.16), and 48 is again the largest width within Bi-Real ResNet34's
43.3 Mbit. With stage joins (15, 15, 22, 15 convs) it would be 44.40 Mbit (+4.2 %) and 0.168
(+4.9 %), and the budget would allow only 47; ``IGPResNet(stage_join=True)`` builds that
variant.

**IGP-DenseNet (closest reading; storage deviates).** A block replaces two BinaryDenseNet layers
(same depth two, so IGP-DenseNet51/69 have 23/32 blocks in stages 6, 6, 6, 5 / 6, 8, 12, 6, the
layouts of BinaryDenseNet28/37 whose doubled layers make BinaryDenseNet51/69): ``a = conv(x)``,
``b = conv([x, a])`` (the dense version of ``f_1 ∘ f_1``), ``c = conv(x)`` (the parallel conv),
output ``[x, b + c]``: the block adds ``growth_rate`` channels, the number in parentheses. a and
c read the same input (the paper's "2 × N_1"), b reads more (N_2); the block's gradient paths to
x are 0, N_1 (through c), N_1 + N_2 (through a and b), and N_2 (b reads x), which the paper, as
for BinaryDenseNet's second layer, does not list separately. Conv a itself reaches the output
only through b (its N_1st is b's cost, not 0). The join is an add where FractalNet takes the
mean: every consumer of the block output normalizes it first, so the two differ only in
BatchNorm statistics, and the add runs on the LCE and OpenVINO paths. Transitions, stem and head
are those of the BinaryDenseNet baseline (same reduction rates).

It lands on Table 1's computation (0.306 and 0.302·10⁹ OPs against 0.30 and 0.31) but 5.4 % and
9.4 % low on storage (32.63 and 37.61 Mbit against 34.5 and 41.5): storage is dominated by the
full-precision transitions and classifier, which the paper does not specify for these nets. The
other readings tried are further off: b reading only a (the pure fractal ``conv(conv(x))``) 14 %
and 20 % low on storage and 12-16 % low on OPs; keeping a, b and c in the output (+3 growth per
block, the dense fractal with concatenation joins) 3.3-3.9× the storage; b and c concatenated
(+2 growth) 1.8-2.3×. ``bnnzoo reproduce igp`` prints the storage rows as documented deviations.

**Gradient paths** (``bnnzoo.analysis.gradient_paths``, binary MACs at 224 px; ``bnnzoo
reproduce igp`` prints them): IGP-ResNet37, 41 and 69 have lower mean N_2nd and N_3rd over their
binary layers than their Bi-Real baselines, as the paper claims. IGP-ResNet21's convs cost 0.69×
a regular Bi-Real ResNet18 conv, but Bi-Real's stride-2 convs cost 0.5× and are on the cheapest
path of every layer before them, so its means are higher; the IGP-DenseNets' convs have more
filters than BinaryDenseNet's 32 and read as many channels, so theirs are higher too.

Example:
    >>> model = IGPResNet37(input_shape=(64, 64, 3), num_classes=10)
    >>> model = IGPResNet(width=16, columns=2, blocks=(2, 2), input_shape=(28, 28, 1),
    ...                   num_classes=10)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import tensorflow as tf

from bnnzoo._checks import positive_int, positive_ints, true_or_false
from bnnzoo.layers import batch_norm, binary_conv
from bnnzoo.layers.resnet import pooled_projection
from bnnzoo.zoo import _common
from bnnzoo.zoo.binary_densenet import build_densenet, check_stages
from bnnzoo.zoo.bireal import LARQ_ZOO_BINARIZATION, Binarization, binary_conv3x3, bn_layer, stem
from bnnzoo.zoo.papers import ZHU_2022
from bnnzoo.zoo.registry import register_model

PAPER = ZHU_2022
FAMILY = "igp"


def convs_per_block(columns: int) -> int:
    """Binary convs of the residual fractal block ``f_columns``: 2^columns − 1 (the paper's M)."""
    return 2**columns - 1


def stage_convs(columns: int, blocks: int, stage_join: bool) -> int:
    """Binary convs of one IGP-ResNet stage: ``blocks`` blocks ``f_columns`` (+1 for the join)."""
    return blocks * convs_per_block(columns) + (1 if stage_join else 0)


def _fractal(x, columns, filters, binarization, name, counter):
    """``f_c(x) = f_{c-1}(f_{c-1}(x)) + BN(conv(x))`` with ``f_0(x) = x``."""
    if columns == 0:
        return x
    y = _fractal(x, columns - 1, filters, binarization, name, counter)
    y = _fractal(y, columns - 1, filters, binarization, name, counter)
    return _join(x, y, filters, binarization, name, counter)


def _join(x, y, filters, binarization, name, counter):
    """``y + BN(binary 3×3 conv(x))``: the parallel conv of a fractal and its add."""
    counter[0] += 1
    conv = f"{name}_conv{counter[0]}"
    p = binary_conv3x3(x, filters, strides=1, binarization=binarization, name=conv)
    p = bn_layer(binarization, f"{conv}_bn")(p)
    return tf.keras.layers.Add(name=f"{conv}_add")([y, p])


@_common.builder
def IGPResNet(
    *,
    width: int = 41,
    columns: int = 3,
    blocks: Sequence[int] = (2, 2, 2, 2),
    stage_join: bool = True,
    binarization: Binarization = LARQ_ZOO_BINARIZATION,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "igp_resnet",
) -> tf.keras.Model:
    """Build an IGP-ResNet (see the module docstring for the reading).

    Args:
        width: base width; stage i has ``width · 2^i`` channels, the stem ``width``.
        columns: c of each block ``f_c``, which has M = 2^c − 1 binary convs (2, 3, 4: M = 3, 7,
            15).
        blocks: blocks per stage, in series.
        stage_join: add one more binary conv of the stage input to the stage output (the fractal
            rule applied at the stage level; makes a two-block stage ``f_{c+1}``).
        binarization: quantizers, weight clip, pad value and BN epsilon of the binary convs,
            those of the Bi-Real baseline by default (``bnnzoo.zoo.bireal``).
        input_shape: ``(height, width, channels)``; default ``(224, 224, 3)``. Sides under
            50 px use a 3×3 stride-1 stem without pooling.
        input_tensor, weights, include_top, num_classes, classifier_activation, pooling: as in
            Keras applications; ``include_top=False`` ends after the last stage.
        name: model name.

    Example:
        >>> model = IGPResNet(width=16, columns=2, blocks=(2, 2), input_shape=(28, 28, 1),
        ...                   num_classes=10)
    """
    positive_int("width", width, hint="IGP-ResNet37(41) has width=41.")
    positive_int("columns", columns, hint="The paper's M = 3, 7, 15 are columns=2, 3, 4.")
    blocks = positive_ints("blocks", blocks)
    true_or_false("stage_join", stage_join)
    if not isinstance(binarization, Binarization):
        raise ValueError(
            f"Expected binarization to be a bnnzoo.zoo.bireal.Binarization. "
            f"Received: {type(binarization).__name__}."
        )
    inputs = _common.check_inputs(
        model_name=name, min_size=2 ** (len(blocks) - 1), **_common.application_args(locals())
    )
    x_in = _common.model_input(inputs)
    x = stem(x_in, small=inputs.small, filters=width, binarization=binarization)
    for stage, n_blocks in enumerate(blocks):
        filters = width * 2**stage
        if stage > 0:
            x = pooled_projection(
                x,
                filters,
                strides=2,
                pool_padding="same",
                bn_epsilon=binarization.bn_epsilon,
                name=f"stage{stage + 1}_transition",
            )
        stage_input = x
        for block in range(n_blocks):
            counter = [0]
            x = _fractal(
                x, columns, filters, binarization, f"stage{stage + 1}_block{block + 1}", counter
            )
        if stage_join:
            x = _join(stage_input, x, filters, binarization, f"stage{stage + 1}_join", [0])
    x = _common.top(x, inputs, kernel_initializer="glorot_normal")
    return _common.finish(x_in, x, inputs, name=name)


def igp_dense_block(
    x: tf.Tensor,
    growth_rate: int,
    *,
    dilation_rate: int = 1,
    clip_value: float = 1.3,
    pad_value: float = 0.0,
    name: str,
) -> tf.Tensor:
    """``[x, conv([x, conv(x)]) + conv(x)]``: an IGP-DenseNet block of depth two.

    Each binary 3×3 conv has ``growth_rate`` filters (dilated by ``dilation_rate``) and reads a
    BatchNorm of its input, as in a BinaryDenseNet layer; the block adds ``growth_rate``
    channels.

    Example:
        >>> x = igp_dense_block(x, 53, name="stage1_block1")  # channels: C -> C + 53
    """
    x_bn = batch_norm(name=f"{name}_bn")(x)

    def conv(y, suffix):
        return binary_conv(
            y,
            growth_rate,
            3,
            dilation_rate=dilation_rate,
            clip_value=clip_value,
            pad_value=pad_value,
            name=f"{name}_{suffix}",
        )

    a = conv(x_bn, "conv_a")
    xa = tf.keras.layers.Concatenate(name=f"{name}_concat_a")([x, a])
    b = conv(batch_norm(name=f"{name}_bn_b")(xa), "conv_b")
    c = conv(x_bn, "conv_c")
    joined = tf.keras.layers.Add(name=f"{name}_join")([b, c])
    return tf.keras.layers.Concatenate(name=f"{name}_concat")([x, joined])


@_common.builder
def IGPDenseNet(
    *,
    blocks_per_stage: Sequence[int],
    reduction: Sequence[float],
    growth_rate: int,
    clip_value: float = 1.3,
    pad_value: float = 0.0,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "igp_densenet",
) -> tf.keras.Model:
    """Build an IGP-DenseNet: a BinaryDenseNet whose pairs of dense layers are IGP blocks.

    Args:
        blocks_per_stage: IGP blocks (depth two each) per stage.
        reduction: reduction rate of each transition (BinaryDenseNet's rule, one fewer than
            stages).
        growth_rate: filters of every binary conv, and channels each block adds.
        clip_value: ``t_clip`` of the STE and the weight clip (BinaryDenseNet's 1.3).
        pad_value: pad value of the binary convs (0.0 or 1.0).
        input_shape, input_tensor, weights, include_top, num_classes, classifier_activation,
        pooling: as in Keras applications (``include_top=False`` ends after the final BN →
            ReLU).
        name: model name.

    Example:
        >>> model = IGPDenseNet(blocks_per_stage=(2, 2), reduction=(2,), growth_rate=16,
        ...                     input_shape=(28, 28, 1), num_classes=10)
    """
    blocks_per_stage, reduction, _ = check_stages(
        "An IGP-DenseNet", "blocks_per_stage", blocks_per_stage, reduction
    )
    positive_int("growth_rate", growth_rate, hint="IGP-DenseNet51(53) has growth_rate=53.")
    inputs = _common.check_inputs(
        model_name=name,
        min_size=2 ** (len(blocks_per_stage) - 1),
        **_common.application_args(locals()),
    )
    block = functools.partial(
        igp_dense_block, growth_rate=growth_rate, clip_value=clip_value, pad_value=pad_value
    )
    return build_densenet(
        inputs,
        blocks_per_stage,
        block,
        reduction=reduction,
        clip_value=clip_value,
        unit="block",
        name=name,
    )


def _resnet(name, width, columns, blocks, stage_join, kwargs) -> tf.keras.Model:
    kwargs.setdefault("name", name)
    return IGPResNet(width=width, columns=columns, blocks=blocks, stage_join=stage_join, **kwargs)


@register_model("igp_resnet21", family=FAMILY, paper=PAPER)
def IGPResNet21(*, width: int = 53, **kwargs) -> tf.keras.Model:
    """IGP-ResNet21(53): M = 3 blocks, two per stage plus the stage join (7 convs per stage).

    ``width`` is the base width; other keyword arguments are those of ``IGPResNet``
    (``input_shape``, ``num_classes``...).
    """
    return _resnet("igp_resnet21", width, 2, (2, 2, 2, 2), True, kwargs)


@register_model("igp_resnet37", family=FAMILY, paper=PAPER)
def IGPResNet37(*, width: int = 41, **kwargs) -> tf.keras.Model:
    """IGP-ResNet37(41): M = 7 blocks, two per stage plus the stage join (15 convs per stage);
    Table 1: 32.2 Mbit, 0.13·10⁹ OPs, 37.13% top-1 error."""
    return _resnet("igp_resnet37", width, 3, (2, 2, 2, 2), True, kwargs)


@register_model("igp_resnet41", family=FAMILY, paper=PAPER)
def IGPResNet41(*, width: int = 48, **kwargs) -> tf.keras.Model:
    """IGP-ResNet41(48): 2, 2, 3, 2 blocks of M = 7 per stage, no stage join; Table 1:
    42.6 Mbit, 0.16·10⁹ OPs, 35.62% top-1 error."""
    return _resnet("igp_resnet41", width, 3, (2, 2, 3, 2), False, kwargs)


@register_model("igp_resnet69", family=FAMILY, paper=PAPER)
def IGPResNet69(*, width: int = 31, **kwargs) -> tf.keras.Model:
    """IGP-ResNet69(31): M = 15 blocks, two per stage plus the stage join (31 convs per
    stage)."""
    return _resnet("igp_resnet69", width, 4, (2, 2, 2, 2), True, kwargs)


@register_model("igp_densenet51", family=FAMILY, paper=PAPER)
def IGPDenseNet51(*, growth_rate: int = 53, **kwargs) -> tf.keras.Model:
    """IGP-DenseNet51(53): 6, 6, 6, 5 blocks, growth rate 53, reductions 2.7, 2.7, 2.2 (those
    of BinaryDenseNet51(32)); Table 1: 34.5 Mbit, 0.30·10⁹ OPs, 36.73% top-1 error."""
    kwargs.setdefault("name", "igp_densenet51")
    return IGPDenseNet(
        blocks_per_stage=(6, 6, 6, 5), reduction=(2.7, 2.7, 2.2), growth_rate=growth_rate, **kwargs
    )


@register_model("igp_densenet69", family=FAMILY, paper=PAPER)
def IGPDenseNet69(*, growth_rate: int = 48, **kwargs) -> tf.keras.Model:
    """IGP-DenseNet69(48): 6, 8, 12, 6 blocks, growth rate 48, reductions 3.3, 3.3, 4 (those
    of BinaryDenseNet69(32)); Table 1: 41.5 Mbit, 0.31·10⁹ OPs, 35.20% top-1 error."""
    kwargs.setdefault("name", "igp_densenet69")
    return IGPDenseNet(
        blocks_per_stage=(6, 8, 12, 6), reduction=(3.3, 3.3, 4), growth_rate=growth_rate, **kwargs
    )
