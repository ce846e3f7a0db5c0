"""Export to TFLite through Larq Compute Engine (LCE) for ARM phones and microcontrollers.

``to_tflite`` converts a Keras model with ``larq_compute_engine.convert_keras_model``. LCE fuses
``sign(x)`` followed by a binary-kernel convolution (and the BatchNorm after it) into one
``LceBconv2d`` op that runs as xnor-popcount on ARM; everything else stays a TFLite builtin.
``op_histogram`` counts the ops of the flatbuffer, ``binary_mac_report`` measures which share of
the Keras model's binary MACs LCE actually runs in ``LceBconv2d`` (the rest run in float) and
names the binary layers it left behind, and ``size_report`` compares the file with the 1-bit
storage figure of ``count_model``. ``export_tflite`` does all of it plus a numeric check against
Keras (``bnnzoo.converters.verify``) for the ``bnnzoo export`` command.

What LCE 0.16 does with the zoo's layers (measured, see ``benchmarks/lce_fusion.md``):

* ``target="arm"``: every binary ``QuantConv2D`` built by ``bnnzoo.layers.binary_conv2d``
  (padding ``same`` with pad value 0 or 1, or ``valid``; strides; dilation; 1×1 and 3×3) becomes
  one ``LceBconv2d``; a ``MagnitudeAwareSign`` kernel fuses too (its per-channel scale becomes
  the op's output multiplier), while ``XnorScaling``'s activation scale ``K`` stays float
  (``ABS``, ``MEAN``, a box-filter ``CONV_2D``, ``MUL``). A BatchNorm → MaxPool → binary conv
  becomes ``LceQuantize`` → ``LceBMaxPool2d`` → ``LceBconv2d``. A binary conv with another pad
  value, a binary depthwise conv and a binary dense layer are left in float
  (``LceDequantize`` → ``CONV_2D``/``DEPTHWISE_CONV_2D``/``FULLY_CONNECTED`` on ±1 values).
* ``target="xcore"``: LCE leaves every binary conv as a float ``CONV_2D`` on ``LceDequantize``-d
  ±1 inputs (no ``LceBconv2d``); XMOS' own tools do the binary lowering afterwards. The share
  reported for an xcore flatbuffer is therefore 0 %.

Example:
    >>> from bnnzoo import zoo
    >>> from bnnzoo.converters import binary_mac_report, op_histogram, to_tflite
    >>> model = zoo.BinaryResNetE18(input_shape=(224, 224, 3))
    >>> flatbuffer = to_tflite(model, "resnet_e18.tflite")
    >>> op_histogram(flatbuffer)["LceBconv2d"]
    16
    >>> binary_mac_report(model, flatbuffer).share_percent
    100.0
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from bnnzoo.analysis.counting import count_model, flat_layers, is_binary
from bnnzoo.converters.verify import (
    VerificationError,
    VerifyReport,
    looks_untrained,
    verify_tflite,
)

TARGETS = ("arm", "xcore")
BCONV = "LceBconv2d"
# Builtin ops that carry a binary layer LCE did not fuse: they multiply ±1 values in float.
FLOAT_COMPUTE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL")
SAVED_MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")

_TENSOR_TYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}


# ----------------------------------------------------------------------------- conversion


def to_tflite(
    model: tf.keras.Model,
    path: str | os.PathLike | None = None,
    *,
    target: str = "arm",
    int8: bool = False,
    int8_range: tuple[float, float] | None = None,
) -> bytes:
    """Convert a Keras model to a TFLite flatbuffer with Larq Compute Engine.

    Inputs and outputs stay float32 in every mode, so the file drops into the same
    preprocessing as the Keras model.

    **int8.** LCE 0.16 has no post-training calibration from a representative dataset (its
    converter takes none): it int8-quantizes the tensors whose ranges a quantization-aware
    trained model carries as ``FakeQuant`` ops, and gives every other tensor one fallback
    range, ``int8_range`` (LCE's ``experimental_default_int8_range``, its "dummy
    quantization"). That fallback does not preserve accuracy — on a random ResNetE it moves the
    softmax outputs by up to 0.8 — so ``int8=True`` asks for the range explicitly instead of
    pretending to calibrate, and ``verify_tflite`` will tell you how far the result is off.

    Args:
        model: a built Keras 2 model with a fixed input shape (batch size may be None).
        path: where to write the ``.tflite`` file (atomically: a temporary file in the same
            folder, then renamed); None to only return the bytes.
        target: ``"arm"`` (phones, Raspberry Pi; binary convs become ``LceBconv2d``) or
            ``"xcore"`` (XMOS microcontrollers; LCE leaves binary convs for XMOS' tools).
        int8: quantize the float parts of the model to int8 (see above).
        int8_range: ``(min, max)`` fallback range for tensors without a trained range;
            required when ``int8=True``, refused otherwise.

    Returns:
        The flatbuffer.

    Raises:
        ValueError: bad ``model``, ``target``, ``int8``/``int8_range`` or input shape.
        FileNotFoundError: the folder of ``path`` does not exist.

    Example:
        >>> flatbuffer = to_tflite(model, "model.tflite", target="arm")
        >>> to_tflite(model, int8=True, int8_range=(-3.0, 3.0))  # LCE's dummy quantization
    """
    _check_model(model)
    if target not in TARGETS:
        raise ValueError(f"Expected target to be one of {TARGETS}. Received: target={target!r}.")
    if not isinstance(int8, bool):
        raise ValueError(f"Expected int8 to be True or False. Received: int8={int8!r}.")
    if int8 and int8_range is None:
        raise ValueError(
            "int8=True needs int8_range=(min, max). LCE 0.16 cannot calibrate from a "
            "representative dataset: it quantizes with the ranges of a quantization-aware trained "
            "model (FakeQuant ops) and uses int8_range for every other tensor, which costs "
            "accuracy. Pass e.g. int8_range=(-3.0, 3.0) and check the result with verify_tflite, "
            "or keep int8=False (float32 with binary convs)."
        )
    if not int8 and int8_range is not None:
        raise ValueError(
            f"int8_range is only used with int8=True. Received: int8=False, "
            f"int8_range={int8_range!r}. Pass int8=True or drop int8_range."
        )
    if int8:
        int8_range = check_int8_range(int8_range)
    destination = _check_destination(path) if path is not None else None

    import larq_compute_engine as lce

    flatbuffer = lce.convert_keras_model(
        model, target=target, experimental_default_int8_range=int8_range
    )
    if destination is not None:
        write_atomically(destination, flatbuffer)
    return flatbuffer


def _check_model(model) -> None:
    if not isinstance(model, tf.keras.Model):
        raise ValueError(
            f"Expected a Keras 2 model (tf.keras.Model from tf_keras). Received: "
            f"{type(model).__name__}. Build it with bnnzoo.zoo or load it with "
            f"tf.keras.models.load_model after `import bnnzoo`."
        )
    for tensor in model.inputs or []:
        shape = tuple(tensor.shape)
        if any(d is None for d in shape[1:]):
            raise ValueError(
                f"TFLite needs a fixed input shape; model {model.name!r} has input shape "
                f"{shape}. Build it with a fixed input_shape, e.g. (224, 224, 3)."
            )


def check_int8_range(int8_range) -> tuple[float, float]:
    """``(min, max)`` as floats with min < 0 < max, or a ValueError that says so."""
    try:
        low, high = (float(v) for v in int8_range)
    except (TypeError, ValueError):
        low, high = math.nan, math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low < 0 < high):
        raise ValueError(
            f"Expected int8_range to be (min, max) with min < 0 < max, e.g. (-3.0, 3.0). "
            f"Received: int8_range={int8_range!r}."
        )
    return low, high


def _check_destination(path) -> Path:
    destination = Path(path)
    if destination.is_dir():
        raise ValueError(
            f"Expected a file path for the .tflite file. Received the folder {str(destination)!r}; "
            f"pass e.g. {str(destination / 'model.tflite')!r}."
        )
    if not destination.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write {str(destination)!r}: the folder {str(destination.parent)!r} does not "
            f"exist. Create it first."
        )
    return destination


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename, so
    a reader never sees a half-written file."""
    path = Path(path)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class TensorInfo:
    """A tensor of the flatbuffer: its name, shape and element type."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class OpInfo:
    """An operator of the flatbuffer: its name (builtin or custom), tensors and options.

    ``inputs`` has None where an optional input is absent. ``options`` holds a custom op's
    flexbuffer options (``LceBconv2d``: ``channels_in``, ``stride_height``, ``padding``...).
    """

    index: int
    name: str
    inputs: tuple[TensorInfo | None, ...]
    outputs: tuple[TensorInfo, ...]
    options: dict


def read_ops(flatbuffer: bytes) -> list[OpInfo]:
    """Every operator of a TFLite flatbuffer, in execution order, over all subgraphs.

    Reads the flatbuffer with the TFLite schema bundled in LCE (no interpreter is built, so
    custom ops need no kernels).

    Example:
        >>> [op.name for op in read_ops(flatbuffer)][:3]
        ['CONV_2D', 'MUL', 'LceQuantize']
    """
    from flatbuffers import flexbuffers
    from larq_compute_engine.mlir.python import tflite_schema as schema

    buffer = _check_flatbuffer(flatbuffer)
    model = schema.Model.GetRootAs(buffer, 0)
    builtin_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    op_names = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        custom = code.CustomCode()
        if custom:
            op_names.append(custom.decode())
        else:
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            op_names.append(builtin_names.get(builtin, f"BUILTIN_{builtin}"))
    ops = []
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        tensors = [_tensor_info(subgraph.Tensors(t)) for t in range(subgraph.TensorsLength())]
        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            options = {}
            if op.CustomOptionsLength():
                raw = op.CustomOptionsAsNumpy().tobytes()
                try:
                    loaded = flexbuffers.Loads(raw)
                    options = loaded if isinstance(loaded, dict) else {}
                except Exception:  # options of an unknown custom op need not be flexbuffers
                    options = {}
            ops.append(
                OpInfo(
                    index=len(ops),
                    name=op_names[op.OpcodeIndex()],
                    inputs=tuple(
                        tensors[i] if i >= 0 else None for i in op.InputsAsNumpy().tolist()
                    )
                    if op.InputsLength()
                    else (),
                    outputs=tuple(tensors[i] for i in op.OutputsAsNumpy().tolist())
                    if op.OutputsLength()
                    else (),
                    options=options,
                )
            )
    return ops


def _check_flatbuffer(flatbuffer) -> bytearray:
    if isinstance(flatbuffer, (str, os.PathLike)):
        raise ValueError(
            f"Expected the flatbuffer's bytes. Received a path, {str(flatbuffer)!r}; pass "
            f"Path(path).read_bytes()."
        )
    if not isinstance(flatbuffer, (bytes, bytearray, memoryview)):
        raise ValueError(
            f"Expected a TFLite flatbuffer as bytes. Received: {type(flatbuffer).__name__}."
        )
    data = bytearray(flatbuffer)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError(
            f"Expected a TFLite flatbuffer (file identifier 'TFL3' at bytes 4-8). Received "
            f"{len(data)} bytes starting {bytes(data[:8])!r}."
        )
    return data


def _tensor_info(tensor) -> TensorInfo:
    shape = tuple(tensor.ShapeAsNumpy().tolist()) if tensor.ShapeLength() else ()
    dtype = _TENSOR_TYPES.get(tensor.Type(), f"type{tensor.Type()}")
    return TensorInfo(tensor.Name().decode(errors="replace"), shape, dtype)


def op_histogram(flatbuffer: bytes) -> dict[str, int]:
    """How many times each op occurs in a TFLite flatbuffer, most frequent first.

    Example:
        >>> op_histogram(to_tflite(model))
        {'ADD': 17, 'LceBconv2d': 16, 'LceQuantize': 16, 'CONV_2D': 4, ...}
    """
    counts = Counter(op.name for op in read_ops(flatbuffer))
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# ----------------------------------------------------------------------------- binary MACs


@dataclass(frozen=True)
class BconvInfo:
    """One ``LceBconv2d`` of the flatbuffer and the binary MACs it runs.

    MACs are ``out_h * out_w * k_h * k_w * channels_in / groups * filters``, counted like
    ``bnnzoo.analysis.count_model``. The filter is bit-packed (32 input channels per int32), so
    the input channels come from the op's ``channels_in`` option.
    """

    index: int
    output_hw: tuple[int, int]
    kernel: tuple[int, int]
    channels_in: int
    filters: int
    groups: int
    strides: tuple[int, int]
    dilation: tuple[int, int]
    macs: int

    @property
    def signature(self) -> tuple[int, ...]:
        return (*self.kernel, self.channels_in // self.groups, self.filters, *self.output_hw)


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


def bconv_ops(flatbuffer: bytes) -> list[BconvInfo]:
    """The ``LceBconv2d`` ops of a flatbuffer with their geometry and MACs."""
    return [_bconv_info(op) for op in read_ops(flatbuffer) if op.name == BCONV]


def _bconv_info(op: OpInfo) -> BconvInfo:
    output = op.outputs[0].shape  # (N, H, W, C) or bit-packed (N, H, W, ceil(C / 32))
    kernel = op.inputs[1]  # (filters, kh, kw, in_per_group) or bit-packed in its last dim
    filters, kh, kw, last = kernel.shape
    channels_in = int(op.options.get("channels_in", last))
    groups = int(
        op.options.get("groups", _groups(channels_in, last, packed=kernel.dtype == "int32"))
    )
    macs = output[1] * output[2] * kh * kw * (channels_in // groups) * filters
    return BconvInfo(
        index=op.index,
        output_hw=(int(output[1]), int(output[2])),
        kernel=(int(kh), int(kw)),
        channels_in=channels_in,
        filters=int(filters),
        groups=groups,
        strides=(op.options.get("stride_height", 1), op.options.get("stride_width", 1)),
        dilation=(
            op.options.get("dilation_height_factor", 1),
            op.options.get("dilation_width_factor", 1),
        ),
        macs=int(macs),
    )


def _groups(channels_in: int, last: int, *, packed: bool) -> int:
    """Groups of a bconv from its input channels and the filter's last dimension.

    LCE only groups a bconv when each group has a multiple of 32 input channels (larq/compute-
    engine#549), so a bit-packed filter holds exactly ``channels_in / groups / 32`` words.
    """
    if not packed:
        return max(1, channels_in // last)
    return max(1, channels_in // (32 * last))


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
    _check_model(model)
    ops = read_ops(flatbuffer)
    bconvs = [_bconv_info(op) for op in ops if op.name == BCONV]
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
    if output_shape is None or not isinstance(layer, tf.keras.layers.Conv2D):
        return (type(layer).__name__, layer.name)  # dense/depthwise: no bconv can match
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
    _check_model(model)
    return SizeReport(len(_check_flatbuffer(flatbuffer)), count_model(model).size_bytes)


# ----------------------------------------------------------------------------- export


@dataclass(frozen=True)
class ExportReport:
    """What ``export_tflite`` did: the file, its ops, binary-MAC share, size and check."""

    model_name: str
    path: Path | None
    target: str
    int8: bool
    histogram: dict[str, int]
    macs: BinaryMacReport
    size: SizeReport
    verify: VerifyReport | None
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        ops = ", ".join(f"{name} {count}" for name, count in self.histogram.items())
        lines = [
            f"{self.model_name} -> {self.path or '(not written)'} (target {self.target}, "
            f"{'int8' if self.int8 else 'float32'} with binary ops)",
            f"ops: {ops}",
            str(self.macs),
            str(self.size),
        ]
        if self.verify is not None:
            lines.append(str(self.verify))
        lines.extend(self.notes)
        return "\n".join(lines)


def load_or_build(
    model: tf.keras.Model | str | os.PathLike,
    *,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    weights: str | None = None,
    logits: bool = False,
) -> tf.keras.Model:
    """A Keras model from a model, a saved file (``.keras``, ``.h5``, SavedModel folder) or a
    registered zoo name; ``input_shape``, ``num_classes`` and ``weights`` only apply to names.
    ``logits=True`` builds a zoo name without its softmax (for numeric checks, where a
    saturated softmax would magnify or hide differences); models and files are returned as
    they are.

    Example:
        >>> load_or_build("binary_densenet28", input_shape=(224, 224, 3))
        >>> load_or_build("runs/cifar/model.keras")
    """
    build_options = {"input_shape": input_shape, "num_classes": num_classes, "weights": weights}
    given = sorted(k for k, v in build_options.items() if v is not None)
    if isinstance(model, tf.keras.Model):
        if given:
            raise ValueError(
                f"{', '.join(given)} only apply when building a zoo model by name. Received a "
                f"Keras model together with {given}; drop them."
            )
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise ValueError(
            f"Expected a Keras model, a saved model path or a zoo name. Received: "
            f"{type(model).__name__}."
        )
    text = os.fspath(model)
    path = Path(text)
    if path.suffix.lower() == ".tflite":
        raise ValueError(
            f"{text!r} is a TFLite flatbuffer already. Pass the Keras model it came from (a "
            f".keras/.h5 file, a SavedModel folder or a zoo name) to convert and check it."
        )
    if path.exists():
        if given:
            raise ValueError(
                f"{', '.join(given)} only apply when building a zoo model by name; {text!r} is "
                f"a saved model, whose shape and weights are fixed. Drop them."
            )
        import larq  # noqa: F401  (registers larq's layers for deserialization)

        return tf.keras.models.load_model(path)
    if os.sep in text or "/" in text or path.suffix.lower() in (*SAVED_MODEL_SUFFIXES, ".tf"):
        raise FileNotFoundError(
            f"No saved model at {text!r}. Pass an existing .keras/.h5 file or SavedModel folder, "
            f"or a zoo name (`bnnzoo list`)."
        )
    from bnnzoo import zoo

    if logits:
        build_options["classifier_activation"] = None
    return zoo.create_model(text, **build_options)  # ValueError with the nearest names


def export_tflite(
    model: tf.keras.Model | str | os.PathLike,
    out_path: str | os.PathLike | None,
    *,
    target: str = "arm",
    int8: bool = False,
    int8_range: tuple[float, float] | None = None,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    weights: str | None = None,
    verify: bool = True,
    n: int = 8,
    atol: float | None = None,
    rtol: float | None = None,
    min_top1_agreement: float | None = None,
    min_rounding_exact: float | None = None,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> ExportReport:
    """Load or build a model, convert it with LCE, inspect the flatbuffer and check it.

    The command ``bnnzoo export MODEL --format tflite`` is this function. The flatbuffer is
    written before the check, so a failed check leaves the file for inspection; with
    ``raise_on_failure`` it then raises ``VerificationError``.

    Args:
        model: a Keras model, a saved model path, or a registered zoo name.
        out_path: the ``.tflite`` file to write (atomically), or None to write nothing.
        target, int8, int8_range: as in ``to_tflite``.
        input_shape, num_classes, weights: build options for a zoo name.
        verify: run LCE's interpreter against Keras on ``n`` random inputs; skipped, with a
            note in the report, for an untrained model (``verify.looks_untrained``), where the
            comparison is meaningless.
        n, seed: number of random inputs and their seed.
        atol, rtol, min_top1_agreement, min_rounding_exact: criteria of ``verify_tflite``
            (None: its defaults; an int8 conversion needs looser ones).
        raise_on_failure: raise ``VerificationError`` when the check fails.

    Returns:
        An ``ExportReport``; ``str(report)`` is the text the CLI prints.

    Example:
        >>> report = export_tflite("binary_densenet28", "bdn28.tflite", weights="imagenet")
        >>> report.macs.share_percent, report.verify.passed
        (100.0, True)
    """
    keras_model = load_or_build(
        model, input_shape=input_shape, num_classes=num_classes, weights=weights
    )
    flatbuffer = to_tflite(keras_model, out_path, target=target, int8=int8, int8_range=int8_range)
    check = None
    notes = []
    if verify and looks_untrained(keras_model):
        notes.append(
            "numeric check skipped: the model is untrained (every BatchNorm at mean 0, variance "
            "1), so exact zeros reach sign() and LCE and Keras may round them to different "
            "signs. Pass trained weights to check the conversion."
        )
    elif verify:
        criteria = {
            "atol": atol,
            "rtol": rtol,
            "min_top1_agreement": min_top1_agreement,
            "min_rounding_exact": min_rounding_exact,
        }
        criteria = {k: v for k, v in criteria.items() if v is not None}
        check = verify_tflite(
            keras_model, flatbuffer, n=n, seed=seed, raise_on_failure=False, **criteria
        )
    report = ExportReport(
        model_name=keras_model.name,
        path=Path(out_path) if out_path is not None else None,
        target=target,
        int8=int8,
        histogram=op_histogram(flatbuffer),
        macs=binary_mac_report(keras_model, flatbuffer),
        size=size_report(keras_model, flatbuffer),
        verify=check,
        notes=tuple(notes),
    )
    if check is not None and not check.passed and raise_on_failure:
        raise VerificationError(
            f"{check.failure_message()}\n{report}", report=check, export_report=report
        )
    return report
