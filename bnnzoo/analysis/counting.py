"""Count parameters, storage and multiply-accumulates of any Keras model, binary and float apart.

A convolution or dense layer counts as *binary* when both its input and its kernel quantizer are
1-bit (larq quantizers report ``precision == 1``): its MACs run as xnor-popcount and its weights
take 1 bit each. Storage counts the trainable weights, binary ones at 1 bit and the others at the
bits of their dtype (32 for float32); BatchNorm's moving statistics are left out because they fold
into the preceding layer at inference. This is how paper 003 and larq's summary count model size
(ResNetE18 at 32×32 with 10 classes: 2.03 MB, paper 003 Table 2). ``params`` counts every
weight, like Keras' ``count_params``. MACs of a convolution are
``out_h * out_w * k_h * k_w * in_channels / groups * out_channels``; BatchNorm, pooling,
activations and additions are not counted, as in papers 000 and 003.

Example:
    >>> counts = count_model(model)
    >>> counts.binary_macs, counts.float_macs, counts.size_mb
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

MB = 2**20  # storage is reported in MiB, as larq's summary does


@dataclass(frozen=True)
class LayerCount:
    """What one layer contributes: parameters, storage bits and MACs."""

    name: str
    kind: str
    params: int
    binary_params: int
    bits: int
    binary_macs: int
    float_macs: int


@dataclass(frozen=True)
class ModelCount:
    """Totals over a model; ``layers`` keeps the per-layer figures in layer order."""

    layers: tuple[LayerCount, ...]

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def binary_params(self) -> int:
        return sum(layer.binary_params for layer in self.layers)

    @property
    def float_params(self) -> int:
        return self.params - self.binary_params

    @property
    def binary_macs(self) -> int:
        return sum(layer.binary_macs for layer in self.layers)

    @property
    def float_macs(self) -> int:
        return sum(layer.float_macs for layer in self.layers)

    @property
    def size_bytes(self) -> float:
        return sum(layer.bits for layer in self.layers) / 8

    @property
    def size_mb(self) -> float:
        """Storage of the trainable weights in MiB: binary at 1 bit, others at their dtype."""
        return self.size_bytes / MB

    def ops(self, binary_per_op: int = 64) -> float:
        """Operations as ``float MACs + binary MACs / binary_per_op``.

        Paper 003 divides binary operations by 32 (OPs = f + b/32) and paper 001 (DWR) by 64
        (OPs = BOPs/64 + FLOPs); pass the divisor of the paper you compare with.
        """
        return self.float_macs + self.binary_macs / binary_per_op


def count_model(model: tf.keras.Model) -> ModelCount:
    """Per-layer and total parameters, storage and MACs of a built Keras model."""
    if not isinstance(model, tf.keras.Model):
        raise TypeError(
            f"Expected a tf.keras.Model (Keras 2, from tf_keras). Received: {type(model).__name__}."
        )
    return ModelCount(tuple(_count_layer(layer) for layer in flat_layers(model)))


def flat_layers(model: tf.keras.Model):
    """The layers of ``model`` in order, with nested models replaced by their own layers."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from flat_layers(layer)
        else:
            yield layer


def is_binary(layer: tf.keras.layers.Layer) -> bool:
    """True when a layer multiplies 1-bit inputs with 1-bit weights."""
    return _precision(getattr(layer, "input_quantizer", None)) == 1 and (
        _precision(getattr(layer, "kernel_quantizer", None)) == 1
        or _precision(getattr(layer, "depthwise_quantizer", None)) == 1
    )


def _precision(quantizer) -> int | None:
    return getattr(quantizer, "precision", None) if quantizer is not None else None


def _count_layer(layer: tf.keras.layers.Layer) -> LayerCount:
    binary = is_binary(layer)
    params = 0
    binary_params = 0
    bits = 0
    kernels = [getattr(layer, a, None) for a in ("kernel", "depthwise_kernel")]
    trainable = {id(w) for w in layer.trainable_weights}
    for weight in layer.weights:
        n = int(np.prod(weight.shape))
        params += n
        if binary and any(weight is k for k in kernels):
            binary_params += n
            bits += n
        elif id(weight) in trainable:
            bits += n * weight.dtype.size * 8
    macs = sum(_macs(layer, shape) for shape in _output_shapes(layer))
    return LayerCount(
        name=layer.name,
        kind=type(layer).__name__,
        params=params,
        binary_params=binary_params,
        bits=bits,
        binary_macs=macs if binary else 0,
        float_macs=0 if binary else macs,
    )


def _output_shapes(layer):
    """One output shape per call of the layer (a shared layer is counted once per call)."""
    shapes = []
    for node in getattr(layer, "_inbound_nodes", []):
        shape = node.output_shapes
        shapes.append(shape[0] if isinstance(shape, list) else shape)
    return shapes


def _macs(layer, output_shape) -> int:
    if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        _, h, w, c = output_shape
        return _spatial(h, w, layer) * kh * kw * c
    if isinstance(layer, tf.keras.layers.Conv2D):
        kh, kw, cin_per_group, cout = layer.kernel.shape
        _, h, w, _ = output_shape
        return _spatial(h, w, layer) * kh * kw * cin_per_group * cout
    if isinstance(layer, tf.keras.layers.Dense):
        cin, cout = layer.kernel.shape
        positions = int(np.prod([d for d in output_shape[1:-1]])) if len(output_shape) > 2 else 1
        return positions * cin * cout
    return 0


def _spatial(h, w, layer) -> int:
    if h is None or w is None:
        raise ValueError(
            f"Cannot count MACs of layer {layer.name!r}: its output has an unknown spatial size. "
            f"Build the model with a fixed input_shape, e.g. (224, 224, 3)."
        )
    return int(h) * int(w)
