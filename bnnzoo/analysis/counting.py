"""Count the cost of any Keras model: parameters, storage, binary and float MACs, OPs, activations.

A layer counts as *binary* when both its input and its kernel quantizer are 1-bit (larq
quantizers report ``precision == 1``): its MACs run as xnor-popcount and its weights take 1 bit
each. The figures and the conventions they follow:

- ``params``: every weight, like Keras' ``count_params``.
- ``size_mb``: storage in MiB of the trainable weights, binary ones at 1 bit and the others at the
  bits of their dtype, BatchNorm's moving statistics left out (they fold into the preceding layer
  at inference). This is how larq's summary and Bethge, Yang, Bornstein, Meinel 2019,
  "BinaryDenseNet: Developing an Architecture for Binary Neural Networks" count model size
  (ResNetE18 at 32×32 with 10 classes: 2.03 MB, their Table 2).
- ``storage_mbit``: storage in Mbit (10^6 bits) as Zhu, Hofstee, Lee, Al-Ars 2022, "Improving
  Gradient Paths for Binary Convolutional Neural Networks" (IGP) count it: 1 bit per binary
  weight, 32 bits per other weight, BatchNorm left out entirely (Bi-Real ResNet18: 33.2 Mbit,
  their Table 1).
- ``binary_macs`` and ``float_macs``: multiply-accumulates of convolutions and dense layers; a
  convolution does ``output positions × kernel size × input channels / groups × output
  channels``. BatchNorm, pooling, activations and additions are not counted, as in Zhang, Ozay,
  Li, Okatani 2017, "Truncating Wide Networks using Binary Tree Architectures" and Bethge et al.
  2019.
- ``ops_bops64``: ``binary MACs / 64 + float MACs``, the OPs of Xue, Lu, Chang, Wei, Wei 2023,
  "Fast and Accurate Binary Neural Networks based on Depth-Width Reshaping" (DWR, §3.2, after
  ReActNet) and the "Flops" of the IGP paper (BOPs = binary MACs, FLOPs = float MACs).
- ``ops_bdn``: ``f + b / 32`` of Bethge et al. 2019 §5.2, with f and b the full-precision and
  binary MACs.
- ``activations``: the number of activations of DWR §3.2, which follows Dollár, Singh, Girshick
  2021, "Fast and Accurate Model Scaling": the elements of the output tensors of every
  convolution (binary or not), per image. Dense layers are counted as the 1×1 convolutions they
  are; BatchNorm, activation functions, pooling and merges add none.

A layer called several times counts once per call (its MACs and activations), its weights once.
The layers of a nested model count their calls inside it: a nested model called twice is counted
once (``gradient_paths`` does trace each call).

Example:
    >>> counts = count_model(model)
    >>> counts.binary_macs, counts.float_macs, counts.storage_mbit, counts.ops_bops64
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import tensorflow as tf

MB = 2**20  # size_mb is reported in MiB, as larq's summary does
MBIT = 10**6  # storage_mbit as the IGP paper reports it

# each kernel attribute of a Keras/larq layer and the quantizer that binarizes it
_KERNELS = {
    "kernel": "kernel_quantizer",
    "depthwise_kernel": "depthwise_quantizer",
    "pointwise_kernel": "pointwise_quantizer",
}
_BATCH_NORMS = (
    tf.keras.layers.BatchNormalization,
    tf.keras.layers.experimental.SyncBatchNormalization,
)
_TRANSPOSED = (
    tf.keras.layers.Conv1DTranspose,
    tf.keras.layers.Conv2DTranspose,
    tf.keras.layers.Conv3DTranspose,
)


@contextlib.contextmanager
def shapes_only() -> Iterator[None]:
    """Build models to count them: every variable created inside starts at zero instead of its
    initializer's value, so no random weights are computed (every figure above depends only on
    the shapes; ``bnnzoo reproduce bitnet`` builds its 77 models in about 30 % less CPU time).
    Do not train or run what is built inside: its weights are all zero.

    Also a decorator (``@shapes_only()``). Variables of a shape not known in full, or without
    a dtype, keep their initializer.

    Example:
        >>> with shapes_only():
        ...     counts = count_model(zoo.BitNet34())
    """

    def zeros_instead(next_creator, **kwargs):
        shape, dtype = kwargs.get("shape"), kwargs.get("dtype")
        known = shape is not None and tf.TensorShape(shape).is_fully_defined()
        if known and dtype is not None and callable(kwargs.get("initial_value")):
            kwargs["initial_value"] = lambda: tf.zeros(shape, dtype)
        return next_creator(**kwargs)

    with tf.variable_creator_scope(zeros_instead):
        yield


@dataclass(frozen=True)
class LayerCount:
    """What one layer contributes: parameters, storage bits, MACs and activations.

    ``bits`` is the storage of ``size_mb`` (trainable weights at their dtype, binary at 1 bit);
    ``storage_bits`` that of ``storage_mbit`` (1 or 32 bits per weight, 0 for BatchNorm).
    """

    name: str
    kind: str
    params: int
    binary_params: int
    bits: int
    binary_macs: int
    float_macs: int
    storage_bits: int = 0
    activations: int = 0


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

    @property
    def storage_mbit(self) -> float:
        """Storage in Mbit as Zhu et al. 2022 count it: binary weights 1 bit, others 32,
        BatchNorm left out."""
        return sum(layer.storage_bits for layer in self.layers) / MBIT

    @property
    def ops_bops64(self) -> float:
        """OPs = BOPs / 64 + FLOPs (Xue et al. 2023, DWR; Zhu et al. 2022, IGP)."""
        return self.ops(64)

    @property
    def ops_bdn(self) -> float:
        """OPs = f + b / 32 (Bethge et al. 2019, BinaryDenseNet)."""
        return self.ops(32)

    @property
    def activations(self) -> int:
        """Output elements of every convolution and dense layer, per image (DWR §3.2)."""
        return sum(layer.activations for layer in self.layers)

    def ops(self, binary_per_op: int = 64) -> float:
        """Operations as ``float MACs + binary MACs / binary_per_op``.

        Bethge et al. 2019 divide binary operations by 32 (``ops_bdn``), Xue et al. 2023 (DWR)
        and Zhu et al. 2022 (IGP) by 64 (``ops_bops64``); pass the divisor of the paper you
        compare with.
        """
        return self.float_macs + self.binary_macs / binary_per_op


def count_model(model: tf.keras.Model) -> ModelCount:
    """Per-layer and total parameters, storage, MACs and activations of a built Keras model."""
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


def call_macs(layer: tf.keras.layers.Layer, node_index: int) -> int:
    """Multiply-accumulates of one call of ``layer`` (its ``_inbound_nodes[node_index]``).

    Convolutions of any rank (plain, grouped, depthwise, separable, transposed) and dense
    layers have MACs; every other layer has none.

    Raises:
        ValueError: when the call's spatial size is unknown (a model built on ``None`` sizes).
    """
    node = layer._inbound_nodes[node_index]
    if isinstance(layer, tf.keras.layers.Dense):
        cin, cout = layer.kernel.shape
        return _positions(layer, _first(node.output_shapes)[1:-1]) * int(cin) * int(cout)
    if not hasattr(layer, "rank") or not hasattr(layer, "kernel_size"):
        return 0  # not a convolution
    # a transposed convolution multiplies each kernel with each *input* position
    shape = _first(node.input_shapes if isinstance(layer, _TRANSPOSED) else node.output_shapes)
    spatial = shape[2:] if layer.data_format == "channels_first" else shape[1:-1]
    positions = _positions(layer, spatial)
    kernels = [getattr(layer, attribute, None) for attribute in _KERNELS]
    return sum(positions * math.prod(int(d) for d in k.shape) for k in kernels if k is not None)


def _first(shapes):
    """The first tensor's shape of a node's input or output shapes."""
    return shapes[0] if isinstance(shapes, list) else shapes


def _positions(layer, spatial) -> int:
    if any(d is None for d in spatial):
        raise ValueError(
            f"Cannot count MACs of layer {layer.name!r}: its output has an unknown spatial size. "
            f"Build the model with a fixed input_shape, e.g. (224, 224, 3)."
        )
    return math.prod(int(d) for d in spatial)


def _precision(quantizer) -> int | None:
    return getattr(quantizer, "precision", None) if quantizer is not None else None


def _count_layer(layer: tf.keras.layers.Layer) -> LayerCount:
    binary = is_binary(layer)
    binary_kernels = [
        getattr(layer, kernel, None)
        for kernel, quantizer in _KERNELS.items()
        if binary and _precision(getattr(layer, quantizer, None)) == 1
    ]
    batch_norm = isinstance(layer, _BATCH_NORMS)
    trainable = {id(w) for w in layer.trainable_weights}
    params = binary_params = bits = storage_bits = 0
    for weight in layer.weights:
        n = math.prod(int(d) for d in weight.shape)
        params += n
        if any(weight is k for k in binary_kernels):
            binary_params += n
            bits += n
            storage_bits += n
        else:
            if id(weight) in trainable:
                bits += n * weight.dtype.size * 8
            if not batch_norm:
                storage_bits += n * 32
    calls = range(len(getattr(layer, "_inbound_nodes", [])))
    macs = sum(call_macs(layer, i) for i in calls)
    return LayerCount(
        name=layer.name,
        kind=type(layer).__name__,
        params=params,
        binary_params=binary_params,
        bits=bits,
        binary_macs=macs if binary else 0,
        float_macs=0 if binary else macs,
        storage_bits=storage_bits,
        activations=sum(_call_activations(layer, i) for i in calls),
    )


def _call_activations(layer, node_index: int) -> int:
    """Output elements of one call of a convolution or dense layer, per image; 0 otherwise."""
    is_conv = hasattr(layer, "rank") and hasattr(layer, "kernel_size")
    if not (is_conv or isinstance(layer, tf.keras.layers.Dense)):
        return 0
    shape = _first(layer._inbound_nodes[node_index].output_shapes)
    return math.prod(int(d) for d in shape[1:])
