"""A float32 rounding of Larq Compute Engine 0.16: a BatchNorm fused into a binary convolution
with a fused ReLU loses its offset where a channel is (nearly) dead. (``upstream`` holds the
other defects and ``avoid_upstream_defects``, which rewrites all of them in one copy.)

**What goes wrong.** LCE fuses a ReLU right after an ``LceBconv2d`` into the op (a clamp of its
integer sum) when the conv pads with 1 or not at all, and then fuses the BatchNorm after it
(a per-channel multiply ``m`` and add ``o``) into the op's float output transform. Its kernel
computes ``float(clamp(2 * popcount)) * (-m) + (o + K * m)``, with ``K`` the number of kernel
taps times input channels, and stores the bias ``o + K * m`` in float32 (larq-compute-engine
``core/bconv2d/output_transform.h`` and ``tflite/kernels/bconv2d.cc``). Where the ReLU clamps,
Keras outputs ``o`` exactly, while LCE subtracts two numbers of size ``K * m`` and keeps their
rounding. A trained channel that the ReLU keeps at 0 has a BatchNorm moving variance near 0
and so a large ``m``: QuickNetSmall trained on Fashion-MNIST at 32×32 has channels with
variance 1e-20, ``m`` ≈ 316, ``K = 2304``, ``K * m`` = 728,598, whose float32 spacing is 0.0625,
so an offset of 0.003 to 0.01 comes out as 0 or ±0.0625. Those errors flow into the residual
stream of every image: LCE's top-1 agreed with Keras on 98.24 % of the 10,000 test images, none
equal to rounding (``benchmarks/trained_export.md``), while the exact conversion check
passed: its criterion is relative to the model's largest output, and random weights rarely
leave a channel at exactly 0.

**The rewrite.** Such a BatchNorm becomes a 1×1 ``DepthwiseConv2D`` with kernel ``m`` and bias
``o`` (computed in float64 from the BatchNorm's weights, stored in float32): the same
per-channel ``x * m + o`` that Keras' BatchNorm computes at inference. LCE fuses only an add,
subtract, multiply or divide by a constant into an ``LceBconv2d``, so the depthwise conv stays
a float op after it, and the ReLU alone is fused (its integer output is exact). The binary
conv is unchanged (still an ``LceBconv2d``, every binary MAC bitwise); the file gains one
small op per rewritten layer.

**Where.** Only where the fused form loses precision: a BatchNorm that is the only consumer of
a binary conv with a fused ReLU (``activation="relu"``, padding ``valid`` or pad value 1), in
which some channel's fused bias would be rounded by more than ``TOLERANCE`` (1e-4, the exact
conversion check's relative tolerance) of that channel's output scale ``max(|gamma|, |o|)``:
``spacing(float32(K |m| + |o|)) > 1e-4 max(|gamma|, |o|)``. On the trained QuickNetSmall the
ratio is 3.9e-6 in its 8×8 and 4×4 stages and 0.06 to 0.13 in its 2×2 and 1×1 stages (the 8
BatchNorms there rewritten). Random weights whose BatchNorm statistics are measured on a few
inputs leave some channels at 0 on all of them too (with the exact check's tie-free weights
on 4 inputs: QuickNetSmall at 32×32 has 9 such BatchNorms, at 224×224 4, QuickNet 4,
QuickNetLarge 6). Everywhere else LCE's fused form is kept: it is one op fewer.

Example:
    >>> [b.layer for b in imprecise_fused_batchnorms(trained_quicknet_small)][:2]
    ['batch_normalization_79', 'batch_normalization_80']
"""

from __future__ import annotations

from dataclasses import dataclass

import larq as lq
import numpy as np
import tensorflow as tf

from bnnzoo.converters.lce.upstream_kernels import has_one_bit_input

TOLERANCE = 1e-4
RELUS = (tf.keras.activations.relu, tf.nn.relu, tf.nn.relu6)


@dataclass(frozen=True)
class ImpreciseBatchNorm:
    """A BatchNorm whose offset LCE 0.16 would lose when it fuses it (see the module docstring).

    Attributes:
        layer: the BatchNorm's name, with the names of the nested models it sits in.
        conv: the binary conv it follows.
        channels: how many of its channels lose more than ``TOLERANCE`` of their scale.
        worst: the largest rounding of a fused bias, relative to its channel's scale.
    """

    layer: str
    conv: str
    channels: int
    worst: float


def affine(layer: tf.keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel ``(m, o)`` with ``layer(x) = x * m + o`` at inference, in float64."""
    variance = layer.moving_variance.numpy().astype(np.float64)
    gamma = layer.gamma.numpy().astype(np.float64) if layer.scale else np.ones_like(variance)
    beta = layer.beta.numpy().astype(np.float64) if layer.center else np.zeros_like(variance)
    m = gamma / np.sqrt(variance + layer.epsilon)
    return m, beta - layer.moving_mean.numpy().astype(np.float64) * m


def _fused_relu_conv(layer: tf.keras.layers.BatchNormalization):
    """The binary conv before ``layer`` if LCE fuses its ReLU and then ``layer`` into it."""
    if len(layer.inbound_nodes) != 1:
        return None
    conv = layer.inbound_nodes[0].inbound_layers
    fused_relu = (
        isinstance(conv, lq.layers.QuantConv2D)
        and has_one_bit_input(conv)
        and conv.kernel_quantizer is not None
        and conv.activation in RELUS
        and (conv.padding == "valid" or float(conv.pad_values) == 1.0)
        and len(conv.outbound_nodes) == 1  # LCE fuses only into a conv with one consumer
    )
    return conv if fused_relu else None


def _rounding(layer, conv) -> np.ndarray:
    """Per channel: the float32 spacing of LCE's fused bias ``K |m| + |o|`` over the scale."""
    taps = int(np.prod(conv.kernel.shape[:3]))  # kernel height * width * input channels per group
    m, o = affine(layer)
    gamma = np.abs(layer.gamma.numpy()) if layer.scale else np.ones_like(m)
    return np.spacing(np.float32(taps * np.abs(m) + np.abs(o))) / np.maximum(gamma, np.abs(o))


def imprecise_fused_batchnorms(model: tf.keras.Model, *, _prefix: str = "") -> list:
    """The BatchNorms of ``model`` (nested models included) that LCE 0.16 would fuse into a
    binary conv with a fused ReLU and round by more than ``TOLERANCE`` of a channel's scale."""
    found = []
    for layer in model.layers:
        name = f"{_prefix}{layer.name}"
        if isinstance(layer, tf.keras.Model):
            found += imprecise_fused_batchnorms(layer, _prefix=f"{name}/")
        elif isinstance(layer, tf.keras.layers.BatchNormalization):
            conv = _fused_relu_conv(layer)
            ratio = _rounding(layer, conv) if conv is not None else np.zeros(1)
            if ratio.max() > TOLERANCE:
                found.append(
                    ImpreciseBatchNorm(
                        name, conv.name, int((ratio > TOLERANCE).sum()), float(ratio.max())
                    )  # fmt: skip
                )
    return found


def as_depthwise(layer: tf.keras.layers.BatchNormalization) -> tf.keras.layers.DepthwiseConv2D:
    """The 1×1 depthwise conv that replaces ``layer`` (weights set by ``fill_affine``)."""
    return tf.keras.layers.DepthwiseConv2D(1, use_bias=True, name=layer.name, dtype=layer.dtype)


def fill_affine(original, rewritten: tf.keras.layers.DepthwiseConv2D) -> None:
    """Set ``rewritten``'s kernel and bias to ``original``'s ``(m, o)``."""
    m, o = affine(original)
    rewritten.set_weights([m.reshape(1, 1, -1, 1), o])
