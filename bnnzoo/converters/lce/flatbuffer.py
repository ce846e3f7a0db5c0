"""Read a TFLite flatbuffer without running it: its ops with their tensors and options, how
often each op occurs, and the geometry and MACs of each ``LceBconv2d``.

Reads with the TFLite schema bundled in Larq Compute Engine, so custom ops need no kernels.

Example:
    >>> from bnnzoo.converters.lce import op_histogram, read_ops
    >>> op_histogram(flatbuffer)["LceBconv2d"]  # BinaryResNetE18
    16
    >>> [op.name for op in read_ops(flatbuffer)][:3]
    ['CONV_2D', 'MUL', 'LceQuantize']
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

BCONV = "LceBconv2d"

_TENSOR_TYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}


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

    buffer = check_flatbuffer(flatbuffer)
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


def check_flatbuffer(flatbuffer) -> bytearray:
    """The flatbuffer's bytes, or a ValueError for a path, another type or other bytes."""
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


def bconv_ops(flatbuffer: bytes) -> list[BconvInfo]:
    """The ``LceBconv2d`` ops of a flatbuffer with their geometry and MACs."""
    return [bconv_info(op) for op in read_ops(flatbuffer) if op.name == BCONV]


def bconv_info(op: OpInfo) -> BconvInfo:
    """The geometry and binary MACs of one ``LceBconv2d`` op."""
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
