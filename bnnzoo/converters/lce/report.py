"""What LCE made of a model: which share of its binary MACs runs in ``LceBconv2d`` (and which
binary layers it left in float), and the file's size against the 1-bit storage figure.

Example:
    >>> from bnnzoo.converters.lce import binary_mac_report, size_report, to_tflite
    >>> flatbuffer = to_tflite(model)
    >>> binary_mac_report(model, flatbuffer).share_percent, size_report(model, flatbuffer).ratio
    (100.0, 1.08)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import tensorflow as tf

from bnnzoo.analysis import count_model, flat_layers, is_binary
from bnnzoo.converters.lce.convert import check_model
from bnnzoo.converters.lce.flatbuffer import (
    BCONV,
    BconvInfo,
    OpInfo,
    bconv_info,
    check_flatbuffer,
    read_ops,
)

# Builtin ops that carry a binary layer LCE did not fuse: they multiply ±1 values in float.
FLOAT_COMPUTE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL")


# ----------------------------------------------------------------------------- binary MACs


@dataclass(frozen=True)
class UnfusedLayer:
    """A binary Keras layer with no matching ``LceBconv2d``: its MACs run in float.

    ``carried_by`` is the float op whose tensors carry the layer's name (``CONV_2D``...), or
    None when the name was not found (it may have been folded or renamed).
    """

    name: str
    kind: str
    binary_macs: int
    carried_by: str | None


@dataclass(frozen=True)
class BinaryMacReport:
    """Binary MACs of the Keras model against those LCE runs in ``LceBconv2d``.

    Attributes:
        keras_binary_macs: binary MACs of the Keras model (``count_model``).
        bconv_macs: MACs of all ``LceBconv2d`` ops, from their tensor shapes.
        bconvs: the ``LceBconv2d`` ops.
        unfused: binary Keras layers without a matching ``LceBconv2d`` (shape signature:
            kernel, input channels per group, filters, output size).
        unmatched_bconvs: ``LceBconv2d`` ops that match no binary Keras layer (expected: 0).
    """

    keras_binary_macs: int
    bconv_macs: int
    bconvs: tuple[BconvInfo, ...]
    unfused: tuple[UnfusedLayer, ...]
    unmatched_bconvs: tuple[BconvInfo, ...]

    @property
    def share_percent(self) -> float | None:
        """``bconv_macs / keras_binary_macs`` in %; None for a model without binary MACs."""
        if self.keras_binary_macs == 0:
            return None
        return 100.0 * self.bconv_macs / self.keras_binary_macs

    @property
    def fully_fused(self) -> bool:
        """True when every binary layer runs in ``LceBconv2d`` (vacuously for a float model)."""
        return not self.unfused and self.bconv_macs == self.keras_binary_macs

    def __str__(self) -> str:
        share = self.share_percent
        text = (
            f"binary MACs in LceBconv2d: {self.bconv_macs:,} of {self.keras_binary_macs:,} "
            f"({'n/a, no binary layers' if share is None else f'{share:.1f}%'}) "
            f"in {len(self.bconvs)} LceBconv2d ops"
        )
        if self.unfused:
            names = ", ".join(f"{u.name} ({u.kind} -> {u.carried_by or '?'})" for u in self.unfused)
            text += f"; left in float: {names}"
        return text


def binary_mac_report(model: tf.keras.Model, flatbuffer: bytes) -> BinaryMacReport:
    """Which share of the model's binary MACs LCE runs in ``LceBconv2d``, and what it left.

    Each binary Keras layer (1-bit input and kernel quantizers, ``bnnzoo.analysis.is_binary``)
    is matched to an ``LceBconv2d`` of the same kernel size, input channels per group, filters
    and output size; a layer with no match is reported in ``unfused`` together with the float
    op that carries its name. For a model LCE fuses completely, ``share_percent`` is 100.

    Example:
        >>> report = binary_mac_report(model, to_tflite(model))
        >>> report.share_percent, [layer.name for layer in report.unfused]
        (100.0, [])
    """
    check_model(model)
    ops = read_ops(flatbuffer)
    bconvs = [bconv_info(op) for op in ops if op.name == BCONV]
    available: dict[tuple, list[BconvInfo]] = {}
    for bconv in bconvs:
        available.setdefault(bconv.signature, []).append(bconv)
    unfused = []
    for layer, signature, macs in _binary_layer_calls(model):
        matches = available.get(signature)
        if matches:
            matches.pop(0)
        else:
            unfused.append(
                UnfusedLayer(layer.name, type(layer).__name__, macs, _carrier(layer.name, ops))
            )
    unmatched = tuple(b for group in available.values() for b in group)
    return BinaryMacReport(
        keras_binary_macs=count_model(model).binary_macs,
        bconv_macs=sum(b.macs for b in bconvs),
        bconvs=tuple(bconvs),
        unfused=tuple(unfused),
        unmatched_bconvs=unmatched,
    )


def _binary_layer_calls(model: tf.keras.Model):
    """(layer, signature, binary MACs) for every call of every binary layer, in layer order."""
    by_name = {c.name: c for c in count_model(model).layers}
    for layer in flat_layers(model):
        if not is_binary(layer):
            continue
        shapes = [
            s[0] if isinstance(s, list) else s
            for s in (node.output_shapes for node in layer._inbound_nodes)
        ]
        calls = max(1, len(shapes))
        macs_per_call = by_name[layer.name].binary_macs // calls if layer.name in by_name else 0
        for shape in shapes or [None]:
            yield layer, _layer_signature(layer, shape), macs_per_call


def _layer_signature(layer, output_shape) -> tuple:
    """The shape signature an ``LceBconv2d`` of this layer would have (None: not a conv)."""
    if isinstance(layer, tf.keras.layers.Dense) and output_shape is not None:
        # a binary dense layer is converted as a 1x1 LceBconv2d (lce.upstream_kernels)
        return (1, 1, int(layer.kernel.shape[0]), int(layer.kernel.shape[1]), 1, 1)
    if output_shape is None or not isinstance(layer, tf.keras.layers.Conv2D):
        return (type(layer).__name__, layer.name)  # depthwise: no bconv can match
    if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
        return (type(layer).__name__, layer.name)
    kh, kw, in_per_group, filters = (int(d) for d in layer.kernel.shape)
    return (kh, kw, in_per_group, filters, int(output_shape[1]), int(output_shape[2]))


def _carrier(layer_name: str, ops: Sequence[OpInfo]) -> str | None:
    """The float compute op whose tensor names mention ``layer_name`` as a name scope."""
    needle = f"/{layer_name}/"
    for op in ops:
        if op.name not in FLOAT_COMPUTE_OPS:
            continue
        names = [t.name for t in (*op.inputs, *op.outputs) if t is not None]
        if any(needle in f"/{name}" for name in names):
            return op.name
    return None


# ----------------------------------------------------------------------------- size


@dataclass(frozen=True)
class SizeReport:
    """The flatbuffer's size against ``count_model(model).size_bytes``: binary weights at
    1 bit, other trainable weights at 32 bits, BatchNorm statistics folded away."""

    file_bytes: int
    one_bit_bytes: float

    @property
    def ratio(self) -> float:
        """File size / 1-bit figure; above 1 for the flatbuffer's overhead (tensor metadata,
        BatchNorm folded into per-channel multipliers and biases, float ops' constants)."""
        return self.file_bytes / self.one_bit_bytes if self.one_bit_bytes else math.inf

    def __str__(self) -> str:
        return (
            f"size on disk {self.file_bytes / 2**20:.3f} MiB vs 1-bit figure "
            f"{self.one_bit_bytes / 2**20:.3f} MiB (x{self.ratio:.2f})"
        )


def size_report(model: tf.keras.Model, flatbuffer: bytes) -> SizeReport:
    """Size of the flatbuffer against the 1-bit storage figure of ``bnnzoo summary``.

    Example:
        >>> size_report(model, flatbuffer).ratio
        1.08
    """
    check_model(model)
    return SizeReport(len(check_flatbuffer(flatbuffer)), count_model(model).size_bytes)
