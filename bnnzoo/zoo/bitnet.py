"""BitNet and its Wide ResNet baseline (Zhang, Ozay, Li, Okatani 2017, "Truncating Wide Networks
using Binary Tree Architectures").

CIFAR (Table 1): conv 16 → three groups of ``n`` blocks of width ``16d``, ``32d``, ``64d`` (stride 2
on the first block of groups 2 and 3) → global average pooling → FC. ``BitNetCifar`` stacks
BitBlocks of depth ``k`` (``bnnzoo.layers.bit_block``); ``WideResNetCifar`` stacks the standard
pre-activation wide residual blocks of ``k`` convs (``k = 2`` in the paper) with 1×1 projection
shortcuts where the width or the stride changes (``bnnzoo.layers.wide_residual_block``).
ImageNet (Table 3): ``BitNet26`` and ``BitNet34``, a 7×7/2 stem and max pool, then BitBlocks of
depth 3 or 4.

How the paper counts (reproduced by ``bnnzoo.reproduce.bitnet``): parameters are conv weights
(no bias) plus the classifier's weights and bias, batch norm excluded; FLOPs are the
multiply-accumulates of the convolutions. BitNet(d=4, k=3, n=4) has 3,670,970 / 3,694,100
parameters with a CIFAR-10 / CIFAR-100 head (3.67M / 3.69M), BitNet-26 12,789,160 and BitNet-34
22,993,576, exactly as published. Keras' ``count_params()`` is larger: it adds batch norm's four
weights per channel.

Every model comes in two precisions, the ``precision`` argument:

* ``"float"``: the paper's full-precision networks (conv → BN → ReLU in every BitBlock node;
  BN → ReLU → conv in the pre-activation residual blocks).
* ``"binary"``: every conv inside the blocks (projection shortcuts included) is a Larq binary
  conv built the way LCE fuses it, followed by BN; ReLUs that would feed a binary conv are left
  out, because ``sign(ReLU(x))`` is constant. The binary BitNet stems end in BN instead of
  BN → ReLU for the same reason. The stem conv and the classifier stay full precision.

Defaults: the CIFAR models (``BitNetCifar``, ``WideResNetCifar`` and their presets) build for
CIFAR-10, 32×32×3 inputs and 10 classes (pass ``num_classes=100`` for CIFAR-100); the ImageNet
BitNets for 224×224×3 and 1000 classes. Zoo conventions beyond the paper: inputs of 50 px and
more get the ImageNet stem (7×7/2 conv and a 3×3/2 max pool) in place of Table 1's 3×3 conv, as
``bnnzoo.zoo._common.stem`` does for every family; below 50 px, the stem is Table 1's 3×3
stride-1 conv with 16 filters (64 for BitNet-26/34). The
feature extractor ends in a ReLU named ``final_relu`` (a no-op after the float BitBlocks, whose
nodes end in ReLU already).

Registered presets (``bnnzoo.zoo.list_models("bitnet*")``): ``bitnet_cifar_d{d}_k{k}_n{n}`` for
every BitNet row of Tables 2, 5, 6 and 7, ``wide_resnet_cifar_d{d}_k2_n{n}`` for every Wide ResNet
row, ``bitnet26`` and ``bitnet34``; each also as ``..._binary``.

Example:
    >>> from bnnzoo import zoo
    >>> model = zoo.BitNetCifar(d=4, k=3, n=4, num_classes=100)
    >>> binary = zoo.create_model("bitnet_cifar_d4_k3_n4_binary")  # 32×32×3, 10 classes
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf

from bnnzoo._checks import positive_int, true_or_false
from bnnzoo.layers import batch_norm
from bnnzoo.layers.bitnet import (
    PRECISIONS,
    bit_block,
    check_precision,
    check_tree,
    wide_residual_block,
)
from bnnzoo.zoo import _common
from bnnzoo.zoo.papers import ZHANG_2017
from bnnzoo.zoo.registry import IMAGENET_SHAPE, register_model

PAPER = ZHANG_2017
CIFAR_SHAPE = (32, 32, 3)
CIFAR_CLASSES = 10
CIFAR_STEM_FILTERS = 16
CIFAR_GROUP_WIDTHS = (16, 32, 64)  # times d (Table 1)
IMAGENET_STEM_FILTERS = 64

# Table 3: (width, stride) of each BitBlock after the stem and max pool.
BITNET26_BLOCKS = ((128, 1), (128, 1), (192, 2), (256, 1), (384, 2), (384, 1), (512, 2), (768, 1))
BITNET34_BLOCKS = ((256, 1), (256, 1), (384, 2), (384, 1), (512, 2), (512, 1), (768, 2), (768, 1))


def _bitnet_stem(x: tf.Tensor, *, small: bool, filters: int, precision: str) -> tf.Tensor:
    """conv → BN → ReLU (→ max pool) in float; conv → BN (→ max pool) before binary blocks."""
    return _common.stem(x, small=small, filters=filters, relu=precision == "float")


def _head(x: tf.Tensor, x_in: tf.Tensor, inputs: _common.Inputs, *, name: str) -> tf.keras.Model:
    x = _common.top(x, inputs, kernel_initializer="he_normal")
    return _common.finish(x_in, x, inputs, name=name)


def _bitnet(
    blocks: Sequence[tuple[int, int]],
    k: int,
    *,
    stem_filters: int,
    default_shape: tuple,
    arguments: Mapping[str, Any],
) -> tf.keras.Model:
    """Stem → BitBlocks of depth ``k``, ``(width, stride)`` each → ReLU → top: every BitNet.

    A block with stride 2 starts a new group; blocks are named ``conv{group}_block{i}`` from
    group 2 on (Table 1's and Table 3's groups). ``arguments``: the arguments of the factory
    (its ``locals()``), which all take ``precision``, ``clip_value``, ``pad_value``, ``name``
    and the Keras-applications arguments.
    """
    precision, name = arguments["precision"], arguments["name"]
    clip_value, pad_value = arguments["clip_value"], arguments["pad_value"]
    for width, _ in blocks:
        check_tree(width, k)
    check_precision(precision)
    inputs = _common.check_inputs(
        model_name=name,
        min_size=2 ** sum(s == 2 for _, s in blocks),
        default_shape=default_shape,
        **_common.application_args(arguments),
    )
    x_in = _common.model_input(inputs)
    x = _bitnet_stem(x_in, small=inputs.small, filters=stem_filters, precision=precision)
    group, index = 2, 0
    for width, strides in blocks:
        if strides == 2 and index > 0:
            group, index = group + 1, 0
        index += 1
        x = bit_block(
            x,
            width,
            k,
            strides=strides,
            precision=precision,
            clip_value=clip_value,
            pad_value=pad_value,
            name=f"conv{group}_block{index}",
        )
    x = tf.keras.layers.Activation("relu", name="final_relu")(x)
    return _head(x, x_in, inputs, name=name)


# ---------------------------------------------------------------------------------- models


@_common.builder
def BitNetCifar(
    *,
    d: int,
    k: int,
    n: int,
    precision: str = "float",
    clip_value: float = 1.3,
    pad_value: float = 1.0,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = CIFAR_CLASSES,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "bitnet_cifar",
) -> tf.keras.Model:
    """BitNet(d, k, n) of Table 1: BitBlocks of width 16d, 32d, 64d and depth k.

    Depth in the paper's sense is ``3·n·k + 2`` layers (stem and classifier included), e.g.
    BitNet(d=4, k=3, n=4) is 38 layers, 3.67M parameters and 0.53·10⁹ conv MACs at 32×32.

    Args:
        d: width multiplier; the groups have ``16d``, ``32d`` and ``64d`` channels.
        k: depth of every BitBlock; ``16d`` must be divisible by ``2**k``.
        n: BitBlocks per group.
        precision: ``"float"`` (the paper) or ``"binary"`` (Larq binary convs in the blocks).
        clip_value: ``t_clip`` of the binary convs (binary only).
        pad_value: pad value of the binary convs, 0.0 or 1.0 (binary only).
        input_shape: ``(height, width, channels)``; default ``(32, 32, 3)`` (CIFAR). Sides under
            50 px get Table 1's 3×3 stride-1 stem, larger ones the ImageNet stem.
        input_tensor: a Keras tensor to build the model on, instead of a new Input.
        weights: None, a local file, or a URL with ``#sha256=`` (no published weights).
        include_top: end in the classifier; otherwise at ``final_relu``.
        pooling: with ``include_top=False``, None (the feature map), ``"avg"`` or ``"max"``.
        num_classes: classes of the classifier (10, the default, or 100 in the paper).
        classifier_activation: ``"softmax"``, or None for logits.
        name: model name.

    Example:
        >>> model = BitNetCifar(d=4, k=3, n=4)  # CIFAR-10: 32×32×3, 10 classes
    """
    positive_int("d", d, hint="The group widths are 16d, 32d, 64d.")
    positive_int("k", k, hint="k is the depth of every BitBlock.")
    positive_int("n", n, hint="n is the number of BitBlocks per group.")
    blocks = [
        (base * d, 2 if group > 0 and block == 0 else 1)
        for group, base in enumerate(CIFAR_GROUP_WIDTHS)
        for block in range(n)
    ]
    return _bitnet(
        blocks, k, stem_filters=CIFAR_STEM_FILTERS, default_shape=CIFAR_SHAPE, arguments=locals()
    )


@_common.builder
def WideResNetCifar(
    *,
    d: int,
    n: int,
    k: int = 2,
    residual: bool = True,
    precision: str = "float",
    clip_value: float = 1.3,
    pad_value: float = 1.0,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = CIFAR_CLASSES,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "wide_resnet_cifar",
) -> tf.keras.Model:
    """The Wide ResNet baseline of Table 1 (Zagoruyko & Komodakis' WRN-(6n+4)-d).

    conv 3×3, 16 → three groups of ``n`` pre-activation residual blocks of ``k`` 3×3 convs with
    width 16d, 32d, 64d (stride 2 on the first conv of groups 2 and 3; 1×1 projection shortcuts
    where width or stride changes) → BN → ReLU → global average pooling → FC. No dropout
    (Zhang et al. train without). Wide ResNet(d=4, k=2, n=6), the paper's "wide resnet-38", is
    WRN-40-4 with 8.9M parameters; ``residual=False`` gives its "plainnet-38" (Table 6).

    Args:
        d: width multiplier (WRN's ``k``); the groups have ``16d``, ``32d``, ``64d`` channels.
        n: residual blocks per group.
        k: convs per block (2 in every Wide ResNet of the paper).
        residual: add the shortcuts (False: the plain network of Table 6).
        precision: ``"float"`` (the paper) or ``"binary"`` (Larq binary convs in the blocks).
        clip_value, pad_value, input_shape, input_tensor, weights, include_top, num_classes,
        classifier_activation, pooling, name: as in ``BitNetCifar``.

    Example:
        >>> model = WideResNetCifar(d=4, n=6, num_classes=100)
    """
    positive_int("d", d, hint="The group widths are 16d, 32d, 64d.")
    positive_int("n", n, hint="n is the number of residual blocks per group.")
    positive_int("k", k, hint="k is the number of convs per residual block; 2 in the paper.")
    true_or_false("residual", residual)
    check_precision(precision)
    inputs = _common.check_inputs(
        model_name=name,
        min_size=4,
        default_shape=CIFAR_SHAPE,
        **_common.application_args(locals()),
    )
    x_in = _common.model_input(inputs)
    # Pre-activation: the stem is a bare conv; the first block applies BN (→ ReLU) to it.
    x = _common.stem(x_in, small=inputs.small, filters=CIFAR_STEM_FILTERS, bn=False)
    for group, base in enumerate(CIFAR_GROUP_WIDTHS, start=2):
        for block in range(1, n + 1):
            x = wide_residual_block(
                x,
                base * d,
                depth=k,
                strides=2 if group > 2 and block == 1 else 1,
                residual=residual,
                precision=precision,
                clip_value=clip_value,
                pad_value=pad_value,
                name=f"conv{group}_block{block}",
            )
    x = batch_norm(name="final_bn")(x)
    x = tf.keras.layers.Activation("relu", name="final_relu")(x)
    return _head(x, x_in, inputs, name=name)


@_common.builder
def BitNetImageNet(
    *,
    blocks: Sequence[tuple[int, int]],
    k: int,
    precision: str = "float",
    clip_value: float = 1.3,
    pad_value: float = 1.0,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "bitnet_imagenet",
) -> tf.keras.Model:
    """An ImageNet BitNet of Table 3 with any list of BitBlocks.

    Stem conv 7×7/2 (64) → BN → ReLU → max pool 3×3/2 → BitBlocks of depth ``k`` → global
    average pooling → FC. A block with stride 2 starts a new group; blocks are named
    ``conv{group}_block{i}`` after Table 3's groups (conv2 at 56×56 ... conv5 at 7×7).

    Args:
        blocks: ``(width, stride)`` of every BitBlock, e.g. ``BITNET26_BLOCKS``.
        k: depth of every BitBlock.
        precision, clip_value, pad_value, input_shape, input_tensor, weights, include_top,
        num_classes, classifier_activation, pooling, name: as in ``BitNetCifar``.

    Example:
        >>> model = BitNetImageNet(blocks=((64, 1), (128, 2)), k=2, input_shape=(64, 64, 3))
    """
    positive_int("k", k, hint="k is the depth of every BitBlock.")
    blocks = tuple(tuple(b) for b in blocks)
    if not blocks or not all(
        len(b) == 2 and isinstance(b[0], int) and b[0] > 0 and b[1] in (1, 2) for b in blocks
    ):
        raise ValueError(
            f"Expected blocks to be a non-empty sequence of (width, stride) pairs with positive "
            f"widths and strides 1 or 2, e.g. ((128, 1), (192, 2)). Received: blocks={blocks!r}."
        )
    return _bitnet(
        blocks,
        k,
        stem_filters=IMAGENET_STEM_FILTERS,
        default_shape=IMAGENET_SHAPE,
        arguments=locals(),
    )


@register_model("bitnet26", family="bitnet", paper=PAPER, binary=False)
def BitNet26(**kwargs) -> tf.keras.Model:
    """BitNet-26 (Table 3): BitBlocks of depth 3, widths 128, 128 | 192↓, 256 | 384↓, 384 |
    512↓, 768; 12,789,160 parameters as the paper counts them (12.79M), 2.8·10⁹ conv MACs;
    27.74% top-1 error (Table 4).

    Keyword arguments are those of ``BitNetImageNet`` (``precision``, ``input_shape``...).

    Example:
        >>> model = BitNet26(precision="binary")
    """
    kwargs.setdefault("name", "bitnet26")
    return BitNetImageNet(blocks=BITNET26_BLOCKS, k=3, **kwargs)


@register_model("bitnet34", family="bitnet", paper=PAPER, binary=False)
def BitNet34(**kwargs) -> tf.keras.Model:
    """BitNet-34 (Table 3): two BitBlocks of depth 4 per group, widths 256 | 384↓ | 512↓ | 768↓;
    22,993,576 parameters as the paper counts them (22.99M), 7.8·10⁹ conv MACs; 25.46% top-1
    error (Table 4).

    Keyword arguments are those of ``BitNetImageNet``.

    Example:
        >>> model = BitNet34(input_shape=(224, 224, 3), num_classes=1000)
    """
    kwargs.setdefault("name", "bitnet34")
    return BitNetImageNet(blocks=BITNET34_BLOCKS, k=4, **kwargs)


# --------------------------------------------------------------------------------- presets

# Every BitNet configuration (d, k, n) of Tables 2, 5, 6 and 7, and every Wide ResNet (d, n).
CIFAR_BITNET_CONFIGS = (
    # Table 2 (and Table 7)
    (4, 3, 4), (4, 4, 3), (4, 2, 6), (4, 6, 2),
    (10, 2, 2), (10, 4, 1), (10, 2, 3), (10, 3, 2),
    (12, 2, 4), (12, 4, 2),
    # Table 5: BitNet(d=4, k, n=4) and BitNet(d=12, k, n=2), k = 1..6
    (4, 1, 4), (4, 2, 4), (4, 4, 4), (4, 5, 4), (4, 6, 4),
    (12, 1, 2), (12, 2, 2), (12, 3, 2), (12, 5, 2), (12, 6, 2),
    # Table 6: b(4, 1, 2)-8, b(4, 2, 2)-14, b(4, 4, 2)-26
    (4, 1, 2), (4, 2, 2), (4, 4, 2),
)  # fmt: skip
CIFAR_WIDE_RESNET_CONFIGS = ((4, 6), (10, 2), (10, 3), (12, 4))  # (d, n), k = 2


def bitnet_cifar_name(d: int, k: int, n: int, precision: str = "float") -> str:
    """Registry name of a CIFAR BitNet preset, e.g. ``bitnet_cifar_d4_k3_n4_binary``."""
    return f"bitnet_cifar_d{d}_k{k}_n{n}" + ("_binary" if precision == "binary" else "")


def wide_resnet_cifar_name(d: int, n: int, precision: str = "float") -> str:
    """Registry name of a CIFAR Wide ResNet preset, e.g. ``wide_resnet_cifar_d4_k2_n6``."""
    return f"wide_resnet_cifar_d{d}_k2_n{n}" + ("_binary" if precision == "binary" else "")


def _register_preset(
    name: str,
    family: str,
    builder: Callable[..., tf.keras.Model],
    doc: str,
    *,
    cifar: bool,
    **fixed,
) -> None:
    def factory(**kwargs) -> tf.keras.Model:
        clash = sorted(set(kwargs) & set(fixed))
        if clash:
            raise ValueError(
                f"The preset {name!r} fixes {', '.join(f'{key}={fixed[key]!r}' for key in clash)}."
                f" Received: {', '.join(f'{key}={kwargs[key]!r}' for key in clash)}. Call "
                f"{builder.__name__}(...) to choose them."
            )
        kwargs.setdefault("name", name)
        return builder(**fixed, **kwargs)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    binary = fixed.get("precision", "float") == "binary"
    defaults = {"input_shape": CIFAR_SHAPE, "num_classes": CIFAR_CLASSES} if cifar else {}
    register_model(name, family=family, paper=PAPER, binary=binary, **defaults)(factory)


for _precision in PRECISIONS:
    for _d, _k, _n in CIFAR_BITNET_CONFIGS:
        _register_preset(
            bitnet_cifar_name(_d, _k, _n, _precision),
            "bitnet",
            BitNetCifar,
            f"BitNet(d={_d}, k={_k}, n={_n}) of Zhang et al. 2017 in {_precision} precision; "
            f"keyword arguments are those of ``BitNetCifar``.",
            cifar=True,
            d=_d,
            k=_k,
            n=_n,
            precision=_precision,
        )
    for _d, _n in CIFAR_WIDE_RESNET_CONFIGS:
        _register_preset(
            wide_resnet_cifar_name(_d, _n, _precision),
            "wide_resnet",
            WideResNetCifar,
            f"Wide ResNet(d={_d}, k=2, n={_n}), the baseline of Zhang et al. 2017, in "
            f"{_precision} precision; keyword arguments are those of ``WideResNetCifar``.",
            cifar=True,
            d=_d,
            k=2,
            n=_n,
            precision=_precision,
        )
_register_preset(
    "bitnet26_binary",
    "bitnet",
    BitNet26,
    "BitNet-26 with Larq binary convs in every BitBlock; see ``BitNet26``.",
    cifar=False,
    precision="binary",
)
_register_preset(
    "bitnet34_binary",
    "bitnet",
    BitNet34,
    "BitNet-34 with Larq binary convs in every BitBlock; see ``BitNet34``.",
    cifar=False,
    precision="binary",
)
