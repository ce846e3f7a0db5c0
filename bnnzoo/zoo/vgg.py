"""Binary VGG networks for CIFAR built from a small spec: VGG-Small (Zhang, Yang, Ye, Hua 2018,
LQ-Nets) and VGG-11 (Simonyan, Zisserman 2015), as Xue, Lu, Chang, Wei, Wei 2023, "Fast and
Accurate Binary Neural Networks based on Depth-Width Reshaping" (DWR) binarize them.

A ``VGGSpec`` lists the width of every binary 3×3 conv, stage by stage; each stage ends in a 2×2
max pool, so pruning can give every layer its own width. The network:

- a full-precision 3×3 conv → BN (``first`` channels), followed by a max pool when
  ``pool_after_first`` (VGG-11);
- stages of binary 3×3 conv → BN, then MaxPool 2 (the pool after the BN, so LCE fuses the conv);
- an optional binary alignment conv → BN (``align`` channels) after the last stage;
- head: global average pooling → BN → full-precision dense layer.

The binary convs use ``bnnzoo.zoo.bireal``'s ``Binarization`` (``DWR_BINARIZATION`` by
default: ApproxSign activations, sign weights with a clipped STE, no scaling factor).
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from bnnzoo._checks import positive_int
from bnnzoo.zoo import _common
from bnnzoo.zoo._common import conv_name
from bnnzoo.zoo.bireal import DWR_BINARIZATION, Binarization, binary_conv3x3, bn_layer, stem


@dataclass(frozen=True)
class VGGSpec(_common.WidthSpec):
    """The shape of a binary VGG.

    Attributes:
        stages: per stage, the width of each binary 3×3 conv; a 2×2 max pool ends each stage.
        first: width of the full-precision first conv.
        pool_after_first: a max pool right after the first conv (VGG-11) or not (VGG-Small).
        align: width of the binary alignment conv after the last stage, or None.
        convs_per_block: binary convs per reshaping unit (1: depth reshaping divides the convs
            of each stage, DWR §4.1).
    """

    stages: tuple[tuple[int, ...], ...]
    first: int = 128
    pool_after_first: bool = False
    align: int | None = None
    convs_per_block: int = 1

    def __post_init__(self):
        self._check_widths("[[128], [256, 256]]")
        positive_int("first", self.first)

    @property
    def downsamplings(self) -> int:
        """How many times the network halves the resolution."""
        return len(self.stages) + int(self.pool_after_first)

    def build(self, **kwargs) -> tf.keras.Model:
        """``BinaryVGG(spec=self, **kwargs)``."""
        return BinaryVGG(spec=self, **kwargs)


@_common.builder
def BinaryVGG(
    *,
    spec: VGGSpec,
    binarization: Binarization = DWR_BINARIZATION,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 10,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "binary_vgg",
) -> tf.keras.Model:
    """Build a binary VGG from a spec.

    Args:
        spec: the network's shape.
        binarization: quantizers, pad value and BN epsilon of the binary convs.
        input_shape, input_tensor, weights, include_top, num_classes, classifier_activation,
        pooling: as in Keras applications (no published weights); ``include_top=False`` ends
            after the last stage (or the alignment layer), pooled with ``pooling``.
        name: the model's name.

    Example:
        >>> spec = VGGSpec(((16,), (32, 32)), first=16)
        >>> model = BinaryVGG(spec=spec, input_shape=(32, 32, 3), num_classes=10)
    """
    if not isinstance(spec, VGGSpec):
        raise ValueError(f"Expected spec to be a VGGSpec. Received: {type(spec).__name__}.")
    inputs = _common.check_inputs(
        model_name=name,
        min_size=2**spec.downsamplings,
        default_shape=(32, 32, 3),
        **_common.application_args(locals()),
    )
    x_in = _common.model_input(inputs)
    # the 3×3 stride-1 conv → BN of the Bi-Real CIFAR stem, at any input size
    x = stem(x_in, small=True, filters=spec.first, binarization=binarization)
    if spec.pool_after_first:
        x = tf.keras.layers.MaxPooling2D(2, name="first_pool")(x)
    for i, stage in enumerate(spec.stages):
        for j, width in enumerate(stage):
            name_ij = conv_name(i, j)
            x = binary_conv3x3(x, width, strides=1, binarization=binarization, name=name_ij)
            x = bn_layer(binarization, f"{name_ij}_bn")(x)
        x = tf.keras.layers.MaxPooling2D(2, name=f"stage{i + 1}_pool")(x)
    if spec.align is not None:
        x = binary_conv3x3(x, spec.align, strides=1, binarization=binarization, name="align_conv")
        x = bn_layer(binarization, "align_bn")(x)
    x = _common.top(
        x,
        inputs,
        kernel_initializer="glorot_normal",
        before_dense=bn_layer(binarization, "head_bn"),
    )
    return _common.finish(x_in, x, inputs, name=name)
