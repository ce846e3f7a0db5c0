"""Run an exported model on OpenVINO's CPU plugin: compile it for latency, predict, and look
inside the compiled model (which nodes run as ``BinaryConvolution``, with which kernel, which
run a reference kernel, and how long each node takes).

Example:
    >>> compiled = compile(ov_model, threads=2)
    >>> probabilities = predict(compiled, images)  # NHWC float32, like Keras
    >>> binary_ops_in_runtime(compiled)  # {'stage1_layer1_conv': 'jit_avx512_u1', ...}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openvino as ov

from bnnzoo._checks import one_of, positive_int
from bnnzoo._host import cpu_flags

PRECISIONS = ("f32", "bf16", "auto")


def resolve_precision(precision: str = "auto", flags: set[str] | None = None) -> str:
    """The float precision the CPU plugin computes the float layers in: ``"f32"`` or ``"bf16"``.

    ``"auto"`` is ``"bf16"`` where the CPU has AVX512_BF16 or AMX (``flags`` default: this
    machine's), ``"f32"`` elsewhere. Binary convolutions are bitwise in every precision.

    Example:
        >>> resolve_precision("auto", {"avx512_bf16"})
        'bf16'
    """
    one_of(
        "precision", precision, PRECISIONS, hint="f32 is exact; bf16 is faster where the CPU has it"
    )
    if precision != "auto":
        return precision
    flags = cpu_flags() if flags is None else flags
    return "bf16" if {"avx512_bf16", "amx_bf16"} & flags else "f32"


def compile(
    ov_model: ov.Model | str | os.PathLike,
    threads: int = 2,
    *,
    profiling: bool = False,
    device: str = "CPU",
    precision: str = "f32",
) -> ov.CompiledModel:
    """Compile for latency: one stream, ``threads`` inference threads, float layers in
    ``precision``.

    Args:
        ov_model: an ``openvino.Model`` or the path of an ``.xml`` IR.
        threads: inference threads.
        profiling: collect per-layer timings (see ``profile``).
        device: OpenVINO device; ``BinaryConvolution`` runs bitwise on ``"CPU"``.
        precision: ``"f32"``, ``"bf16"`` or ``"auto"`` (see ``resolve_precision``).

    Example:
        >>> compiled = compile(to_openvino(model), threads=2)
    """
    positive_int("threads", threads)
    precision = resolve_precision(precision)
    core = ov.Core()
    if not isinstance(ov_model, ov.Model):
        path = Path(ov_model)
        if not path.is_file():
            raise FileNotFoundError(f"No OpenVINO IR at {str(path)!r}. Export one first.")
        ov_model = core.read_model(str(path))
    config = {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": precision,
        "PERF_COUNT": bool(profiling),
    }
    return core.compile_model(ov_model, device, config)


def predict(compiled: ov.CompiledModel, inputs: np.ndarray) -> np.ndarray:
    """Run the compiled model on a batch of NHWC float32 inputs; returns the first output.

    A model exported with a static batch size runs a larger batch in chunks of that size.

    Example:
        >>> probabilities = predict(compiled, images)  # images: (n, 224, 224, 3) float32
    """
    batch = np.ascontiguousarray(inputs, dtype=np.float32)
    shape = compiled.input(0).get_partial_shape()
    expected = tuple(d.get_length() if d.is_static else None for d in shape)
    if batch.ndim != len(expected) or any(
        e is not None and e != got for e, got in zip(expected[1:], batch.shape[1:])
    ):
        raise ValueError(
            f"Expected inputs of shape (n, {', '.join(map(str, expected[1:]))}) (NHWC, like the "
            f"Keras model). Received shape {batch.shape}."
        )
    request = compiled.create_infer_request()
    step = expected[0] or len(batch)
    if len(batch) % step:
        raise ValueError(
            f"The model was exported with batch size {step}; {len(batch)} inputs do not split "
            f"into batches of {step}. Pass a multiple of {step} inputs or export with "
            f"to_openvino(model, batch_size=1)."
        )
    outputs = []
    for start in range(0, len(batch), step):
        request.infer([batch[start : start + step]])
        outputs.append(np.array(request.get_output_tensor(0).data, copy=True))
    return np.concatenate(outputs)


@dataclass(frozen=True)
class RuntimeOp:
    """One node of the compiled (runtime) model."""

    name: str
    layer_type: str
    primitive_type: str
    runtime_precision: str
    output_precision: str
    original_names: tuple[str, ...]
    output_layout: str = ""  # e.g. "acdb": NHWC order of an NCHW tensor
    constant: bool = False  # computed from constants only, once when the model is compiled


def runtime_ops(compiled: ov.CompiledModel) -> list[RuntimeOp]:
    """The nodes the CPU plugin executes, read from ``compiled.get_runtime_model()``.

    ``original_names`` lists the ops of the exported model that the plugin fused into the node
    (e.g. a BatchNorm's Multiply/Add fused into a convolution).

    Example:
        >>> {op.layer_type for op in runtime_ops(compiled)}
        {'BinaryConvolution', 'Convolution', 'FakeQuantize', 'Concatenation', ...}
    """
    result = []
    constants: set[str] = set()
    for node in compiled.get_runtime_model().get_ordered_ops():
        info = node.get_rt_info()

        def read(key: str, info=info) -> str:
            return str(info[key].astype(str)) if key in info else ""

        originals = tuple(n for n in read("originalLayersNames").split(",") if n)
        sources = [i.get_source_output().get_node().get_friendly_name() for i in node.inputs()]
        constant = read("layerType") == "Const" or bool(sources) and set(sources) <= constants
        if constant:
            constants.add(node.get_friendly_name())
        result.append(
            RuntimeOp(
                name=node.get_friendly_name(),
                layer_type=read("layerType"),
                primitive_type=read("primitiveType"),
                runtime_precision=read("runtimePrecision"),
                output_precision=read("outputPrecisions"),
                original_names=originals,
                output_layout=read("outputLayouts"),
                constant=constant,
            )
        )
    return result


def reference_kernels(compiled: ov.CompiledModel) -> list[RuntimeOp]:
    """The nodes that run a reference (``ref_*``) primitive on every inference.

    Left out: nodes computed from constants only (the repacking of binary weights into the
    kernel's blocked layout, ``ref_any_u1``), which run once when the model is compiled.

    On OpenVINO 2026.4 the list of an exported zoo model holds at most its channel
    concatenations: the CPU plugin labels every Concat it cannot do in place ``ref`` (also
    when it runs its per-pixel ``memcpy`` path), and it cannot concatenate channels in place in
    the NHWC layout (``output_layout == "acdb"``) that ``BinaryConvolution`` and the binarizing
    ``FakeQuantize`` require. See ``nhwc_concat``.

    Example:
        >>> [op.name for op in reference_kernels(compiled) if not nhwc_concat(op)]
        []
    """
    return [op for op in runtime_ops(compiled) if "ref" in op.primitive_type and not op.constant]


def nhwc_concat(op: RuntimeOp) -> bool:
    """True for a Concat in the NHWC layout (``acdb``), which the CPU plugin cannot do in place
    along the channels (only in NCHW or blocked layouts, or at 1×1 pixels)."""
    return op.layer_type == "Concatenation" and op.output_layout == "acdb"


def binary_ops_in_runtime(compiled: ov.CompiledModel) -> dict[str, str]:
    """Which ops executed as ``BinaryConvolution``: ``{name: primitive type}``.

    The names are the Keras layer names of the binary convolutions: the exporter names each
    ``BinaryConvolution`` after its layer and the CPU plugin keeps that name for the runtime node
    it fuses the following scale, BatchNorm or addition into. The primitive type says which
    kernel ran (``jit_avx512_u1`` on AVX-512 machines).

    Example:
        >>> binary_ops_in_runtime(compiled)
        {'stage1_layer1_conv': 'jit_avx512_u1', 'stage1_layer2_conv': 'jit_avx512_u1', ...}
    """
    return {
        op.name: op.primitive_type
        for op in runtime_ops(compiled)
        if op.layer_type == "BinaryConvolution"
    }


@dataclass(frozen=True)
class LayerTime:
    """Median time of one runtime node over the profiled runs."""

    name: str
    node_type: str
    exec_type: str
    ms: float


def profile(compiled: ov.CompiledModel, inputs: np.ndarray, *, runs: int = 20) -> list[LayerTime]:
    """Per-layer times (median over ``runs``), slowest first.

    ``compiled`` must come from ``compile(..., profiling=True)``.

    Example:
        >>> times = profile(compile(ov_model, profiling=True), images)
        >>> summarize_profile(times)["BinaryConvolution"]  # total ms of all binary convs
    """
    positive_int("runs", runs)
    if str(compiled.get_property("PERF_COUNT")).upper() not in ("YES", "TRUE"):
        raise ValueError(
            "The compiled model does not collect per-layer times. "
            "Compile it with compile(ov_model, profiling=True)."
        )
    request = compiled.create_infer_request()
    data = [np.ascontiguousarray(inputs, dtype=np.float32)]
    request.infer(data)  # warm-up
    samples: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(runs):
        request.infer(data)
        for info in request.get_profiling_info():
            if str(info.status).endswith("EXECUTED"):
                key = (info.node_name, info.node_type, info.exec_type)
                samples.setdefault(key, []).append(info.real_time.total_seconds() * 1e3)
    times = [
        LayerTime(name, node_type, exec_type, float(np.median(values)))
        for (name, node_type, exec_type), values in samples.items()
    ]
    return sorted(times, key=lambda t: t.ms, reverse=True)


def summarize_profile(times: Sequence[LayerTime]) -> dict[str, float]:
    """Total milliseconds per node type, largest first.

    Example:
        >>> summarize_profile(profile(compiled, images))
        {'BinaryConvolution': 7.1, 'Concatenation': 1.2, ...}
    """
    totals: dict[str, float] = {}
    for t in times:
        totals[t.node_type] = totals.get(t.node_type, 0.0) + t.ms
    return dict(sorted(totals.items(), key=lambda kv: kv[1], reverse=True))
