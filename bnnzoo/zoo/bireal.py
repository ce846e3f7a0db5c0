"""Bi-Real ResNets (Liu, Wu, Luo, Yang, Liu, Cheng 2018, "Bi-Real Net: Enhancing the Performance
of 1-bit CNNs with Improved Representational Capability and Advanced Training Algorithm") built
from a small spec, for every paper that uses them.

A ``BiRealSpec`` lists the output width of every binary 3×3 conv, stage by stage, so one builder
makes the original networks, their depth-width reshapings and their pruned versions with uneven
widths (Xue, Lu, Chang, Wei, Wei 2023, "Fast and Accurate Binary Neural Networks based on
Depth-Width Reshaping", DWR). The network:

- stem, full precision: 7×7/2 conv → BN → 3×3/2 max pool (ImageNet), or 3×3/1 conv → BN (CIFAR;
  ``stem="auto"`` picks it for inputs under 50 px). No ReLU: the next layer binarizes.
- stages of binary 3×3 conv → BN → add, a shortcut around EVERY binary conv. Where a conv changes
  the resolution (first conv of stages 2+, stride 2) or the width, the shortcut is AvgPool 2 →
  full-precision 1×1 conv → BN (``shortcut="conv"``, larq-zoo's BiRealNet), or parameter-free
  stride-2 subsampling and zero-padding of the channels (``shortcut="pad"``, the DWR authors'
  CIFAR ResNet-20; a narrower output keeps the first channels). Optional PReLU after the add.
- an optional alignment layer: a binary 3×3 conv → BN mapping the last stage to ``align``
  channels, so a reshaped network keeps the classifier of the original (DWR §4.1).
- head: global average pooling (→ BN, the DWR CIFAR nets) → full-precision dense layer.

Binary convs are built the way LCE fuses them (sign-type input quantizer, binary kernel, no bias,
``same`` padding with pad value 0 or 1, BN after the conv). The quantizers are arguments: larq-zoo
uses ``approx_sign`` on activations and a magnitude-aware sign on the weights (its published
ImageNet weights load into ``BiRealResNet18``); DWR trains with ``approx_sign`` and a plain sign
with a clipped straight-through estimator, no scaling (``DWR_BINARIZATION``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import larq as lq
import tensorflow as tf

from bnnzoo._checks import one_of, positive_int, positive_ints
from bnnzoo.layers import batch_norm
from bnnzoo.layers.resnet import pooled_projection
from bnnzoo.zoo import _common
from bnnzoo.zoo._common import conv_name
from bnnzoo.zoo.papers import LIU_2018
from bnnzoo.zoo.pretrained import IMAGENET
from bnnzoo.zoo.registry import register_model

PAPER = LIU_2018
STEMS = ("auto", "imagenet", "cifar")
SHORTCUTS = ("conv", "pad")


@dataclass(frozen=True)
class Binarization:
    """How the binary convs binarize: quantizers (larq names or configs), the clip of the latent
    weights (larq's ``WeightClip``, None for none), the pad value, and the BatchNorm epsilon of the
    whole network.

    The quantizers are given as larq identifiers (``"approx_sign"``) or as
    ``{"class_name": ..., "config": ...}`` dicts, so every layer gets its own instance.
    """

    input_quantizer: str | dict = "approx_sign"
    kernel_quantizer: str | dict = "magnitude_aware_sign"
    weight_clip: float | None = 1.0
    pad_value: float = 0.0
    bn_epsilon: float = 1e-3


# larq-zoo's BiRealNet: its published ImageNet weights were trained with these
LARQ_ZOO_BINARIZATION = Binarization()
# DWR §5.1: ApproxSign on activations, sign weights with a clipped STE (|w| <= 1), no scaling;
# pad value 1 saves LCE a border correction
DWR_BINARIZATION = Binarization(
    input_quantizer="approx_sign",
    kernel_quantizer={"class_name": "SteSign", "config": {"clip_value": 1.0}},
    weight_clip=1.0,
    pad_value=1.0,
    bn_epsilon=1e-5,
)


@dataclass(frozen=True)
class BiRealSpec(_common.WidthSpec):
    """The shape of a Bi-Real ResNet.

    Attributes:
        stages: per stage, the output width of each binary 3×3 conv, e.g. ``((64,) * 4,
            (128,) * 4, ...)`` for ResNet-18. Stages 2+ start with a stride-2 conv.
        convs_per_block: binary convs per residual block of the ResNet it comes from (2: a
            basic block); depth reshaping divides the blocks.
        stem: ``"auto"``, ``"imagenet"`` or ``"cifar"``.
        stem_width: output channels of the full-precision stem conv.
        shortcut: ``"conv"`` or ``"pad"`` (see the module docstring).
        prelu: a PReLU (one slope per channel) after every add.
        align: width of the binary alignment conv after the last stage, or None.
        head_bn: BatchNorm between global pooling and the classifier.
    """

    stages: tuple[tuple[int, ...], ...]
    convs_per_block: int = 2
    stem: str = "auto"
    stem_width: int = 64
    shortcut: str = "conv"
    prelu: bool = False
    align: int | None = None
    head_bn: bool = False

    def __post_init__(self):
        self._check_widths("[[16, 16], [32, 32]]")
        positive_int("stem_width", self.stem_width)
        one_of("stem", self.stem, STEMS)
        one_of("shortcut", self.shortcut, SHORTCUTS)

    @classmethod
    def from_blocks(cls, blocks: Sequence[int], widths: Sequence[int], **kwargs) -> BiRealSpec:
        """A uniform spec: ``blocks[i]`` residual blocks of width ``widths[i]`` in stage i."""
        blocks = positive_ints("blocks", blocks)
        widths = positive_ints("widths", widths)
        if len(blocks) != len(widths):
            raise ValueError(
                f"Expected blocks and widths of the same length, one entry per stage. "
                f"Received: blocks={blocks}, widths={widths}."
            )
        per_block = kwargs.get("convs_per_block", 2)
        stages = tuple((w,) * (b * per_block) for b, w in zip(blocks, widths))
        return cls(stages, **kwargs)

    def build(self, **kwargs) -> tf.keras.Model:
        """``BiRealResNet(spec=self, **kwargs)``."""
        return BiRealResNet(spec=self, **kwargs)


@tf.keras.utils.register_keras_serializable(package="bnnzoo")
class ChannelPadShortcut(tf.keras.layers.Layer):
    """Parameter-free shortcut: keep every ``strides``-th pixel, then zero-pad the channels to
    ``filters`` (or keep the first ``filters`` channels when there are more)."""

    def __init__(self, filters: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.strides = int(strides)

    def call(self, x):
        if self.strides > 1:
            x = x[:, :: self.strides, :: self.strides, :]
        channels = x.shape[-1]
        if channels > self.filters:
            return x[..., : self.filters]
        if channels < self.filters:
            x = tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, self.filters - channels]])
        return x

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        if self.strides > 1:
            shape[1:3] = [None if d is None else math.ceil(d / self.strides) for d in shape[1:3]]
        return tf.TensorShape([*shape[:3], self.filters])

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def _instance(identifier):
    """A fresh quantizer/constraint identifier for one layer (dicts are copied)."""
    if isinstance(identifier, dict):
        return {"class_name": identifier["class_name"], "config": dict(identifier["config"])}
    return identifier


def binary_conv3x3(x, filters, *, strides, binarization: Binarization, name) -> tf.Tensor:
    """A binary 3×3 ``QuantConv2D`` applied to ``x``, ``same`` padding, no bias."""
    clip = binarization.weight_clip
    return lq.layers.QuantConv2D(
        filters,
        3,
        strides=strides,
        padding="same",
        pad_values=float(binarization.pad_value),
        input_quantizer=lq.quantizers.get(_instance(binarization.input_quantizer)),
        kernel_quantizer=lq.quantizers.get(_instance(binarization.kernel_quantizer)),
        kernel_constraint=None if clip is None else lq.constraints.WeightClip(clip),
        kernel_initializer="glorot_normal",
        use_bias=False,
        name=name,
    )(x)


def bn_layer(binarization: Binarization, name: str) -> tf.keras.layers.BatchNormalization:
    """BatchNorm with momentum 0.9 and the binarization's epsilon."""
    return batch_norm(name, epsilon=binarization.bn_epsilon)


def stem(x: tf.Tensor, *, small: bool, filters: int, binarization: Binarization) -> tf.Tensor:
    """The full-precision stem of the Bi-Real networks: 7×7/2 conv → BN → 3×3/2 max pool, or
    with ``small`` a 3×3 stride-1 conv → BN; no ReLU, the next layer binarizes."""
    return _common.stem(
        x,
        small=small,
        filters=filters,
        relu=False,
        kernel_initializer="glorot_normal",
        bn_epsilon=binarization.bn_epsilon,
    )


def _residual(x, filters, strides, spec: BiRealSpec, binarization: Binarization, name: str):
    """Binary conv → BN, added to the shortcut of ``x`` (built first: larq-zoo's layer order)."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        if spec.shortcut == "pad":
            shortcut = ChannelPadShortcut(filters, strides, name=f"{name}_shortcut")(x)
        else:
            shortcut = pooled_projection(
                x,
                filters,
                strides=strides,
                pool=strides != 1,
                pool_padding="same",
                bn_epsilon=binarization.bn_epsilon,
                name=f"{name}_shortcut",
            )
    y = binary_conv3x3(x, filters, strides=strides, binarization=binarization, name=name)
    y = bn_layer(binarization, f"{name}_bn")(y)
    y = tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])
    if spec.prelu:
        y = tf.keras.layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(y)
    return y


@_common.builder
def BiRealResNet(
    *,
    spec: BiRealSpec | None = None,
    blocks: Sequence[int] = (2, 2, 2, 2),
    widths: Sequence[int] = (64, 128, 256, 512),
    binarization: Binarization = LARQ_ZOO_BINARIZATION,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "bireal_resnet",
    larq_zoo_name: str | None = None,
) -> tf.keras.Model:
    """Build a Bi-Real ResNet from a spec, or from blocks and widths per stage.

    Args:
        spec: the network's shape; when None, ``BiRealSpec.from_blocks(blocks, widths)``
            (basic blocks of two convs, 64-channel ImageNet/CIFAR stem chosen by input size).
        blocks, widths: residual blocks and width of each stage, used without ``spec``.
        binarization: quantizers, pad value and BN epsilon; ``DWR_BINARIZATION`` for the
            networks of Xue et al. 2023.
        input_shape, input_tensor, weights, include_top, num_classes, classifier_activation,
        pooling: as in Keras applications; ``include_top=False`` ends after the last add (or
            the alignment layer), pooled to a vector with ``pooling="avg"`` or ``"max"``.
        name: the model's name.
        larq_zoo_name: the larq-zoo model whose ImageNet weights ``weights="imagenet"`` loads.

    Example:
        >>> spec = BiRealSpec(((16, 16), (32, 32)), stem="cifar", stem_width=16)
        >>> model = BiRealResNet(spec=spec, input_shape=(32, 32, 3), num_classes=10)
    """
    if spec is None:
        spec = BiRealSpec.from_blocks(blocks, widths)
    elif not isinstance(spec, BiRealSpec):
        raise ValueError(
            f"Expected spec to be a BiRealSpec (or None, with blocks and widths). "
            f"Received: {type(spec).__name__}."
        )
    stem_size = 4 if spec.stem == "imagenet" else 1
    inputs = _common.check_inputs(
        model_name=name,
        min_size=stem_size * 2 ** (len(spec.stages) - 1),
        imagenet=_common.imagenet_weights(larq_zoo_name),
        **_common.application_args(locals()),
    )
    small = inputs.small if spec.stem == "auto" else spec.stem == "cifar"

    x_in = _common.model_input(inputs)
    x = stem(x_in, small=small, filters=spec.stem_width, binarization=binarization)
    for i, stage in enumerate(spec.stages):
        for j, width in enumerate(stage):
            strides = 2 if i > 0 and j == 0 else 1
            x = _residual(x, width, strides, spec, binarization, conv_name(i, j))
    if spec.align is not None:
        x = binary_conv3x3(x, spec.align, strides=1, binarization=binarization, name="align_conv")
        x = bn_layer(binarization, "align_bn")(x)
    head_bn = bn_layer(binarization, "head_bn") if spec.head_bn else None
    x = _common.top(x, inputs, kernel_initializer="glorot_normal", before_dense=head_bn)
    return _common.finish(x_in, x, inputs, name=name)


def imagenet_spec(blocks: Sequence[int], width: int) -> BiRealSpec:
    """The ImageNet Bi-Real ResNet: stem of ``width`` channels, stages width × 1, 2, 4, 8."""
    width = positive_int("width", width, hint="The Bi-Real ResNet18 of the paper has width=64.")
    return BiRealSpec.from_blocks(
        blocks, [width * 2**i for i in range(len(blocks))], stem_width=width
    )


@register_model(
    "bireal_resnet18",
    family="bireal",
    paper=PAPER,
    published_params=11_699_112,
    pretrained={"imagenet": IMAGENET["BiRealNet"]},
)
def BiRealResNet18(*, width: int = 64, **kwargs) -> tf.keras.Model:
    """Bi-Real ResNet-18: [2, 2, 2, 2] basic blocks, a shortcut around each of its 16 binary
    convs; ``ResNet18(64)`` in Zhu et al. 2022 (IGP), 56.4% top-1 (Liu et al. 2018). With the
    default ``width=64`` it is weight-compatible with larq-zoo's BiRealNet (``weights=
    "imagenet"``). Other keyword arguments are those of ``BiRealResNet``."""
    kwargs.setdefault("name", "bireal_resnet18")
    larq_zoo_name = "BiRealNet" if width == 64 else None
    return BiRealResNet(
        spec=imagenet_spec((2, 2, 2, 2), width), larq_zoo_name=larq_zoo_name, **kwargs
    )


@register_model("bireal_resnet34", family="bireal", paper=PAPER)
def BiRealResNet34(*, width: int = 64, **kwargs) -> tf.keras.Model:
    """Bi-Real ResNet-34: [3, 4, 6, 3] basic blocks, a shortcut around each of its 32 binary
    convs; ``ResNet34(64)`` in Zhu et al. 2022 (IGP). Keyword arguments are those of
    ``BiRealResNet``."""
    kwargs.setdefault("name", "bireal_resnet34")
    return BiRealResNet(spec=imagenet_spec((3, 4, 6, 3), width), **kwargs)
