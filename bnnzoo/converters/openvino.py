"""Export a Keras BNN to OpenVINO so that every binary convolution runs bitwise on x86.

The exporter walks the Keras functional graph layer by layer and emits one OpenVINO op (or a
short fixed sequence) per layer. Every binary convolution becomes::

    FakeQuantize(levels=2, per-channel threshold, outputs {0, 1})  ->  BinaryConvolution

which OpenVINO's CPU plugin executes as a bit-packing ("binarization") kernel followed by its
JIT ``xnor-popcount`` convolution. Everything else (stem, BatchNorm, ReLU, pooling,
concatenation, shortcuts, dense head) becomes ordinary float ops.

Why a graph walker and not OpenVINO's own TensorFlow conversion: that conversion keeps every
larq convolution in float (DESIGN.md: 27 float ``Convolution`` nodes for BinaryDenseNet28; larq's
``sign`` is ``sign(sign(x) + 0.1)``, which no OpenVINO pattern turns into bits), and getting the
CPU plugin's own ``Convolution(FakeQuantize(levels=2))`` → ``BinaryConvolution`` rewrite to fire
means shaping the graph for a plugin-internal pattern whose result was wrong in a first try
(DESIGN.md). Emitting ``BinaryConvolution`` directly states the binary semantics in the IR itself
(visible in the ``.xml``, independent of plugin heuristics), each Keras layer maps to one small
function that a test checks against Keras, and every threshold and pad value is computed where
the Keras layer is at hand.

How the result stays exact:

* ``sign(0) = +1``: the CPU binarization kernel sets a bit where ``x > threshold`` (XNOR the
  output-high flag), so the threshold is the float just below the first ``x`` whose sign is +1.
* A BatchNorm directly before a binary convolution is folded into that threshold, per channel:
  the threshold is found by bisection over all float32 values, asking the Keras layers
  themselves (``quantizer(bn(x))``) for the answer, so ``bit(x) == (keras_sign(bn(x)) > 0)`` for
  every float input whatever formula TensorFlow uses inside BatchNorm (oneDNN and Eigen round
  differently). A negative ``gamma`` flips the comparison (output low/high swapped).
* Padding: ``BinaryConvolution`` with ``pad_value=0.0`` lets padded taps contribute 0 and with
  ``pad_value=1.0`` contributes ``+sign(w)``, exactly larq's ``pad_values`` 0.0 and 1.0 (checked
  by tests against Keras at strides 1 and 2, dilation 1 and 2).
* Weights: ``kernel_quantizer(kernel)`` is evaluated by larq, then split into bits (``w > 0``)
  and a per-output-channel magnitude (1 for ``ste_sign``, mean ``|w|`` for
  ``MagnitudeAwareSign``), applied as a Multiply after the convolution. The u1 weights are packed
  with the first element in the least significant bit, the order the CPU plugin reads.
* Channel counts: OpenVINO 2026.4's CPU plugin computes wrong results when the binarized input
  has a channel count that is not a multiple of 8 (measured: 4, 12, 20, 37 and 100 channels
  fail; every multiple of 8 tried, 8 to 448, passes). Such inputs get constant +1 channels
  appended whose weights alternate +1/-1, so their contributions cancel; an odd count leaves one
  +1 channel whose per-position contribution (the number of taps inside the image) is
  subtracted. The zoo's models never need this (their widths are multiples of 32).
* The binary convolution's integer result is exact; BatchNorm after it becomes a per-channel
  scale and shift (one float rounding away from Keras), the float convs and the dense head
  differ from TensorFlow only by summation order.
* Subnormal thresholds are moved to the nearest normal float, because the plugin may flush
  subnormals to zero; this changes the sign only of subnormal inputs, which TensorFlow itself
  flushes to zero on CPU.

Example:
    >>> import bnnzoo
    >>> from bnnzoo import zoo
    >>> from bnnzoo.converters import openvino as ov_export
    >>> model = zoo.create_model("binary_densenet28")
    >>> ov_model = ov_export.to_openvino(model, "out/binary_densenet28.xml")
    >>> compiled = ov_export.compile(ov_model, threads=2)
    >>> probabilities = ov_export.predict(compiled, images)  # NHWC float32, like Keras
    >>> ov_export.binary_ops_in_runtime(compiled)  # {'stage1_layer1_conv': 'jit_avx512_u1', ...}
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import larq as lq
import numpy as np
import openvino as ov
import openvino.opset13 as ops
import tensorflow as tf

from bnnzoo.layers.scaling import XnorScaling

SUPPORTED_LAYERS = (
    "InputLayer",
    "QuantConv2D (binary: sign input quantizer and binary kernel; or float: no input quantizer)",
    "Conv2D",
    "DepthwiseConv2D",
    "BatchNormalization",
    "Activation (linear, relu, relu6, sigmoid, tanh, softmax)",
    "ReLU",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Flatten",
    "Dense",
    "Concatenate",
    "Add",
    "Multiply",
    "Dropout",
    "XnorScaling",
)

# larq quantizers whose forward pass is larq.math.sign (sign(0) = +1)
SIGN_QUANTIZERS = ("SteSign", "ApproxSign", "SwishSign", "ste_sign", "approx_sign", "swish_sign")

_FLOAT_MIN = np.float32(np.finfo(np.float32).tiny)  # smallest normal float32
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)


# --------------------------------------------------------------------------------------------
# public API


def to_openvino(
    model: tf.keras.Model,
    out_dir_or_xml: str | os.PathLike | None = None,
    *,
    batch_size: int = 1,
) -> ov.Model:
    """Convert a Keras BNN to an ``openvino.Model`` with ``BinaryConvolution`` for binary convs.

    Args:
        model: a Keras functional (or Sequential) model built from the layers in
            ``SUPPORTED_LAYERS``, with fixed height and width.
        out_dir_or_xml: where to write the IR: a path ending in ``.xml`` (the ``.bin`` goes next
            to it) or a directory (``<dir>/<model.name>.xml``). None writes nothing.
        batch_size: batch size of the exported model. It is static: the CPU plugin's
            ``BinaryConvolution`` refuses dynamic shapes. ``predict`` runs larger batches in
            chunks of this size.

    Returns:
        The OpenVINO model: inputs NHWC float32 like the Keras model, outputs like Keras.

    Raises:
        ValueError: a layer or layer setting the exporter does not support (the message names
            the layer and its class), or a model without fixed spatial dimensions.

    Example:
        >>> ov_model = to_openvino(model, "export/bdn28.xml")
        >>> [op.get_type_name() for op in ov_model.get_ordered_ops()].count("BinaryConvolution")
        23
    """
    if not isinstance(model, tf.keras.Model):
        raise ValueError(
            f"Expected a Keras model (tf.keras.Model). Received: {type(model).__name__}. "
            f"Build one with bnnzoo.zoo.create_model(name)."
        )
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(
            f"Expected batch_size to be a positive int (OpenVINO's CPU BinaryConvolution needs a "
            f"static shape). Received: batch_size={batch_size!r}."
        )
    ov_model = _GraphBuilder(model, batch_size).build()
    if out_dir_or_xml is not None:
        save(ov_model, _xml_path(out_dir_or_xml, model.name))
    return ov_model


@dataclass(frozen=True)
class OpenVINOExportReport:
    """What ``export_openvino`` did: the IR, its ops, the binary layers at runtime, the check."""

    model_name: str
    path: Path | None
    histogram: dict[str, int]
    binary_layers: tuple[str, ...]
    binary_in_runtime: dict[str, str]
    verify: object | None  # bnnzoo.converters.verify.VerifyReport

    @property
    def all_binary(self) -> bool:
        """Every binary Keras layer executes as ``BinaryConvolution``."""
        return set(self.binary_layers) <= set(self.binary_in_runtime)

    def __str__(self) -> str:
        ops_text = ", ".join(f"{name} {count}" for name, count in self.histogram.items())
        kernels = ", ".join(sorted(set(self.binary_in_runtime.values()))) or "none"
        missing = sorted(set(self.binary_layers) - set(self.binary_in_runtime))
        lines = [
            f"{self.model_name} -> {self.path or '(not written)'} (OpenVINO IR, float32 with "
            f"BinaryConvolution)",
            f"ops: {ops_text}",
            f"runtime: {len(set(self.binary_layers) & set(self.binary_in_runtime))} of "
            f"{len(self.binary_layers)} binary layers execute as BinaryConvolution "
            f"(kernels: {kernels})" + (f"; NOT binary: {', '.join(missing)}" if missing else ""),
        ]
        if self.verify is not None:
            lines.append(str(self.verify))
        return "\n".join(lines)


def export_openvino(
    model: tf.keras.Model | str | os.PathLike,
    out_path: str | os.PathLike | None,
    *,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    weights: str | None = None,
    verify: bool = True,
    n: int = 8,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
    threads: int = 2,
    raise_on_failure: bool = True,
) -> OpenVINOExportReport:
    """Load or build a model, export it to OpenVINO IR, compile it and check it against Keras.

    ``bnnzoo export MODEL --format openvino`` is this function. The IR is written before the
    check, so a failed check leaves it for inspection; with ``raise_on_failure`` it then raises
    ``VerificationError``, as it does when a binary layer does not execute as
    ``BinaryConvolution``.

    Args:
        model: a Keras model, a saved model path, or a registered zoo name.
        out_path: the ``.xml`` file or a directory (``<dir>/<model name>.xml``); None writes
            nothing.
        input_shape, num_classes, weights: build options for a zoo name.
        verify: run the compiled model against Keras on ``n`` random inputs.
        n, seed: number of random inputs and their seed.
        atol, rtol: tolerances of ``verify.verify_engine`` (None: its defaults).
        threads: inference threads of the compiled model.
        raise_on_failure: raise ``VerificationError`` when a check fails.

    Returns:
        An ``OpenVINOExportReport``; ``str(report)`` is the text the CLI prints.

    Example:
        >>> report = export_openvino("binary_densenet28", "export/", weights="imagenet")
        >>> report.all_binary, report.verify.passed
        (True, True)
    """
    from bnnzoo.converters import verify as verify_lib
    from bnnzoo.converters.lce import load_or_build

    keras_model = load_or_build(
        model, input_shape=input_shape, num_classes=num_classes, weights=weights
    )
    path = _xml_path(out_path, keras_model.name) if out_path is not None else None
    ov_model = to_openvino(keras_model, path)
    compiled = compile(ov_model, threads=threads)
    histogram: dict[str, int] = {}
    for op in ov_model.get_ordered_ops():
        if op.get_type_name() not in ("Constant", "Parameter", "Result"):
            histogram[op.get_type_name()] = histogram.get(op.get_type_name(), 0) + 1
    check = None
    if verify:
        tolerances = {k: v for k, v in {"atol": atol, "rtol": rtol}.items() if v is not None}
        check = verify_openvino(
            keras_model, compiled, n=n, seed=seed, raise_on_failure=False, **tolerances
        )
    report = OpenVINOExportReport(
        model_name=keras_model.name,
        path=path,
        histogram=dict(sorted(histogram.items(), key=lambda kv: -kv[1])),
        binary_layers=tuple(binary_conv_layers(keras_model)),
        binary_in_runtime=binary_ops_in_runtime(compiled),
        verify=check,
    )
    failed = (check is not None and not check.passed) or not report.all_binary
    if failed and raise_on_failure:
        reason = check.failure_message() if check is not None and not check.passed else ""
        raise verify_lib.VerificationError(
            f"{reason or 'A binary layer does not execute as BinaryConvolution.'}\n{report}",
            report=check,
            export_report=report,
        )
    return report


def save(ov_model: ov.Model, xml_path: str | os.PathLike) -> Path:
    """Write the IR (``.xml`` + ``.bin``) with float weights kept in float32.

    ``openvino.save_model`` compresses float weights to fp16 by default, which would change
    the outputs; this keeps them exact.

    Example:
        >>> save(ov_model, "export/bdn28.xml")
        PosixPath('export/bdn28.xml')
    """
    path = Path(xml_path)
    if path.suffix != ".xml":
        raise ValueError(
            f"Expected the IR path to end in '.xml'. Received: {str(path)!r}. "
            f"Pass e.g. 'export/model.xml' (the weights go to 'export/model.bin')."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov_model, str(path), compress_to_fp16=False)
    return path


def compile(
    ov_model: ov.Model | str | os.PathLike,
    threads: int = 2,
    *,
    profiling: bool = False,
    device: str = "CPU",
) -> ov.CompiledModel:
    """Compile for latency: one stream, ``threads`` inference threads, f32 precision.

    Args:
        ov_model: an ``openvino.Model`` or the path of an ``.xml`` IR.
        threads: inference threads.
        profiling: collect per-layer timings (see ``profile``).
        device: OpenVINO device; ``BinaryConvolution`` runs bitwise on ``"CPU"``.

    Example:
        >>> compiled = compile(to_openvino(model), threads=2)
    """
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"Expected threads to be a positive int. Received: threads={threads!r}.")
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
        "INFERENCE_PRECISION_HINT": "f32",
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


def verify_openvino(model: tf.keras.Model, compiled: ov.CompiledModel, **kwargs):
    """Compare the compiled model with Keras through ``bnnzoo.converters.verify``.

    Keyword arguments go to ``verify.verify_engine`` (``inputs``, ``n``, ``atol``, ``rtol``,
    ``min_top1_agreement``, ``seed``, ``raise_on_failure``).

    Example:
        >>> verify_openvino(model, compile(to_openvino(model)), n=8).passed
        True
    """
    from bnnzoo.converters.verify import verify_engine

    return verify_engine(
        model, lambda batch: predict(compiled, batch), engine_name="OpenVINO CPU", **kwargs
    )


@dataclass(frozen=True)
class RuntimeOp:
    """One node of the compiled (runtime) model."""

    name: str
    layer_type: str
    primitive_type: str
    runtime_precision: str
    output_precision: str
    original_names: tuple[str, ...]


def runtime_ops(compiled: ov.CompiledModel) -> list[RuntimeOp]:
    """The nodes the CPU plugin executes, read from ``compiled.get_runtime_model()``.

    ``original_names`` lists the ops of the exported model that the plugin fused into the node
    (e.g. a BatchNorm's Multiply/Add fused into a convolution).

    Example:
        >>> {op.layer_type for op in runtime_ops(compiled)}
        {'BinaryConvolution', 'Convolution', 'FakeQuantize', 'Concatenation', ...}
    """
    result = []
    for node in compiled.get_runtime_model().get_ordered_ops():
        info = node.get_rt_info()

        def read(key: str, info=info) -> str:
            return str(info[key].astype(str)) if key in info else ""

        originals = tuple(n for n in read("originalLayersNames").split(",") if n)
        result.append(
            RuntimeOp(
                name=node.get_friendly_name(),
                layer_type=read("layerType"),
                primitive_type=read("primitiveType"),
                runtime_precision=read("runtimePrecision"),
                output_precision=read("outputPrecisions"),
                original_names=originals,
            )
        )
    return result


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


def binary_conv_layers(model: tf.keras.Model) -> list[str]:
    """Names of the layers the exporter turns into ``BinaryConvolution``.

    Example:
        >>> missing = set(binary_conv_layers(model)) - set(binary_ops_in_runtime(compiled))
    """
    return [
        layer.name
        for layer in model.layers
        if isinstance(layer, lq.layers.QuantConv2D) and _is_sign(layer.input_quantizer)
    ]


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
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"Expected runs to be a positive int. Received: runs={runs!r}.")
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


# --------------------------------------------------------------------------------------------
# the graph walker


def _xml_path(out_dir_or_xml: str | os.PathLike, model_name: str) -> Path:
    path = Path(out_dir_or_xml)
    return path if path.suffix == ".xml" else path / f"{model_name}.xml"


def _unsupported(layer, why: str) -> ValueError:
    return ValueError(
        f"Cannot export layer {layer.name!r} ({type(layer).__name__}) to OpenVINO: {why}. "
        f"Supported layers: {', '.join(SUPPORTED_LAYERS)}."
    )


class _GraphBuilder:
    """Maps every Keras tensor of ``model`` to an OpenVINO output (NCHW for 4-D tensors)."""

    def __init__(self, model: tf.keras.Model, batch_size: int):
        self.model = model
        self.batch_size = batch_size
        self.values: dict[int, ov.Output] = {}
        self.parameters: list = []

    # -- traversal ---------------------------------------------------------------------------

    def build(self) -> ov.Model:
        nodes_by_depth = getattr(self.model, "_nodes_by_depth", None)
        if not nodes_by_depth:
            raise ValueError(
                f"Expected a functional or Sequential Keras model with a layer graph. Received: "
                f"{type(self.model).__name__} {self.model.name!r} (a subclassed model has no "
                f"graph to walk). Build it with tf.keras.Model(inputs, outputs)."
            )
        for depth in sorted(nodes_by_depth, reverse=True):
            for node in nodes_by_depth[depth]:
                self._convert_node(node)
        results = []
        for tensor in self.model.outputs:
            out = self._get(tensor)
            if len(tensor.shape) == 4:
                out = ops.transpose(out, np.array(_NCHW_TO_NHWC, np.int64)).output(0)
            result = ops.result(out, name=tensor._keras_history.layer.name)
            result.output(0).get_tensor().set_names({tensor._keras_history.layer.name})
            results.append(result)
        return ov.Model(results, self.parameters, self.model.name)

    def _get(self, tensor) -> ov.Output:
        return self.values[id(tensor)]

    def _convert_node(self, node) -> None:
        layer = node.layer
        inputs = list(node.keras_inputs)
        outputs = tf.nest.flatten(node.outputs)
        if isinstance(layer, tf.keras.layers.InputLayer) or node.is_input:
            self.values[id(outputs[0])] = self._input(layer, outputs[0])
            return
        if len(outputs) != 1:
            raise _unsupported(layer, f"it has {len(outputs)} outputs; one is supported")
        converter = self._converter_for(layer)
        out = converter(layer, inputs, outputs[0])
        self.values[id(outputs[0])] = out

    def _converter_for(self, layer) -> Callable:
        layers = tf.keras.layers
        table = [
            (XnorScaling, self._xnor_scaling),
            (lq.layers.QuantConv2D, self._quant_conv),
            (layers.DepthwiseConv2D, self._depthwise_conv),
            (layers.Conv2D, self._conv),
            (layers.BatchNormalization, self._batch_norm),
            (layers.Activation, self._activation_layer),
            (layers.ReLU, self._relu),
            (layers.MaxPooling2D, self._pool),
            (layers.AveragePooling2D, self._pool),
            (layers.GlobalAveragePooling2D, self._global_pool),
            (layers.GlobalMaxPooling2D, self._global_pool),
            (layers.Flatten, self._flatten),
            (layers.Dense, self._dense),
            (layers.Concatenate, self._concatenate),
            (layers.Add, self._merge),
            (layers.Multiply, self._merge),
            (layers.Dropout, self._identity),
        ]
        for cls, converter in table:
            # exact class match for the conv family: QuantConv2D, DepthwiseConv2D and
            # Conv1D/Conv3D/Conv2DTranspose are related by inheritance but differ in meaning
            if type(layer) is cls or (
                cls not in (layers.Conv2D, layers.DepthwiseConv2D) and isinstance(layer, cls)
            ):
                return converter
        raise _unsupported(layer, "this layer type has no OpenVINO converter")

    # -- inputs ------------------------------------------------------------------------------

    def _input(self, layer, tensor) -> ov.Output:
        shape = tuple(tensor.shape)
        if len(shape) != 4 or any(d is None for d in shape[1:]):
            raise ValueError(
                f"Expected the model input {layer.name!r} to be an image batch (None, height, "
                f"width, channels) with fixed height, width and channels. Received: {shape}. "
                f"Rebuild the model with a fixed input_shape, e.g. input_shape=(224, 224, 3)."
            )
        parameter = ops.parameter([self.batch_size, *shape[1:]], np.float32, name=layer.name)
        parameter.output(0).get_tensor().set_names({layer.name})
        self.parameters.append(parameter)
        return _transpose(parameter.output(0), _NHWC_TO_NCHW)

    # -- convolutions ------------------------------------------------------------------------

    def _check_conv(self, layer, inputs) -> None:
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise _unsupported(layer, "only 2-D convolutions of one 4-D input are supported")
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise _unsupported(layer, f"data_format={layer.data_format!r}; use 'channels_last'")
        if layer.padding not in ("same", "valid"):
            raise _unsupported(layer, f"padding={layer.padding!r}; use 'same' or 'valid'")

    def _conv(self, layer, inputs, output) -> ov.Output:
        self._check_conv(layer, inputs)
        kernel = _latent(layer.kernel)
        return self._float_conv(layer, inputs[0], kernel, pad_value=0.0)

    def _float_conv(self, layer, x_tensor, kernel: np.ndarray, pad_value: float) -> ov.Output:
        x = self._get(x_tensor)
        groups = getattr(layer, "groups", 1)
        pads_begin, pads_end = _same_pads(layer, x_tensor.shape)
        if pad_value != 0.0 and any(pads_begin + pads_end):
            x = ops.pad(
                x,
                np.array([0, 0, *pads_begin], np.int64),
                np.array([0, 0, *pads_end], np.int64),
                "constant",
                np.float32(pad_value),
            ).output(0)
            pads_begin, pads_end = [0, 0], [0, 0]
        weights = np.transpose(kernel, (3, 2, 0, 1)).astype(np.float32)  # O, I/g, kh, kw
        common = dict(
            strides=list(layer.strides),
            pads_begin=pads_begin,
            pads_end=pads_end,
            dilations=list(layer.dilation_rate),
        )
        if groups == 1:
            y = ops.convolution(x, weights, **common, name=layer.name)
        else:
            o, i, kh, kw = weights.shape
            grouped = weights.reshape(groups, o // groups, i, kh, kw)
            y = ops.group_convolution(x, grouped, **common, name=layer.name)
        return self._bias_and_activation(layer, y.output(0))

    def _depthwise_conv(self, layer, inputs, output) -> ov.Output:
        self._check_conv(layer, inputs)
        x = self._get(inputs[0])
        kernel = layer.depthwise_kernel.numpy()  # kh, kw, C, M
        kh, kw, c, m = kernel.shape
        weights = np.transpose(kernel, (2, 3, 0, 1)).reshape(c, m, 1, kh, kw).astype(np.float32)
        pads_begin, pads_end = _same_pads(layer, inputs[0].shape)
        y = ops.group_convolution(
            x,
            weights,
            strides=list(layer.strides),
            pads_begin=pads_begin,
            pads_end=pads_end,
            dilations=list(layer.dilation_rate),
            name=layer.name,
        )
        return self._bias_and_activation(layer, y.output(0))

    def _quant_conv(self, layer, inputs, output) -> ov.Output:
        self._check_conv(layer, inputs)
        kernel = tf.constant(_latent(layer.kernel))
        quantized = (layer.kernel_quantizer(kernel) if layer.kernel_quantizer else kernel).numpy()
        pad_value = float(getattr(layer, "pad_values", 0.0))
        if layer.input_quantizer is None:
            return self._float_conv(layer, inputs[0], quantized, pad_value)
        if not _is_sign(layer.input_quantizer):
            raise _unsupported(
                layer,
                f"input_quantizer {_quantizer_name(layer.input_quantizer)} is not a sign "
                f"quantizer ({', '.join(SIGN_QUANTIZERS)})",
            )
        magnitude = _binary_magnitude(quantized)
        if magnitude is None:
            raise _unsupported(
                layer,
                f"kernel_quantizer {_quantizer_name(layer.kernel_quantizer)} does not give a "
                f"binary kernel (values +-alpha per output channel)",
            )
        if getattr(layer, "groups", 1) != 1:
            raise _unsupported(layer, "grouped binary convolutions are not supported")
        if pad_value not in (0.0, 1.0):
            raise _unsupported(layer, f"pad_values={pad_value!r}; use 0.0 or 1.0")
        # OpenVINO 2026.4's CPU plugin packs a channel count that is not a multiple of 8
        # wrongly (measured); pad with constant +1 channels whose contributions cancel
        extra = -inputs[0].shape[-1] % 8
        bits_in = self._binarize(layer, inputs[0], extra)
        bits = np.transpose(quantized > 0, (3, 2, 0, 1))  # O, I, kh, kw
        if extra:
            o, _, kh, kw = bits.shape
            alternating = (np.arange(extra) % 2 == 0)[None, :, None, None]  # +1, -1, +1, ...
            bits = np.concatenate([bits, np.broadcast_to(alternating, (o, extra, kh, kw))], 1)
        pads_begin, pads_end = _same_pads(layer, inputs[0].shape)
        y = ops.binary_convolution(
            bits_in,
            _u1_constant(bits),
            strides=list(layer.strides),
            pads_begin=pads_begin,
            pads_end=pads_end,
            dilations=list(layer.dilation_rate),
            mode="xnor-popcount",
            pad_value=pad_value,
            name=layer.name,
        ).output(0)
        if extra % 2:  # one unpaired +1 channel added +1 per tap inside the image (or pad 1)
            taps = _taps_per_output(layer, inputs[0].shape, output.shape, count_padding=pad_value)
            y = ops.subtract(y, taps, name=f"{layer.name}/channel_padding").output(0)
        if not np.all(magnitude == 1.0):
            y = ops.multiply(y, _per_channel(magnitude), name=f"{layer.name}/magnitude").output(0)
        return self._bias_and_activation(layer, y)

    def _binarize(self, conv, x_tensor, extra: int = 0) -> ov.Output:
        """``FakeQuantize`` giving bit 1 exactly where Keras computes ``sign(...) = +1``.

        ``extra`` constant channels of +1 are appended (see ``_quant_conv``).
        """
        producer = x_tensor._keras_history.layer
        channels = x_tensor.shape[-1]
        quantizer = conv.input_quantizer
        source = x_tensor
        if _foldable_batch_norm(producer):
            node = producer._inbound_nodes[x_tensor._keras_history.node_index]
            source = node.keras_inputs[0]

            def oracle(x: np.ndarray) -> np.ndarray:
                y = producer(tf.constant(x[None, :, None, :]), training=False)
                return quantizer(y).numpy()[0, :, 0, :] > 0

        else:

            def oracle(x: np.ndarray) -> np.ndarray:
                return quantizer(tf.constant(x)).numpy() > 0

        threshold, high = _sign_thresholds(oracle, channels)
        x = self._get(source)
        if extra:
            ones = np.ones((self.batch_size, extra, *x_tensor.shape[1:3]), np.float32)
            x = ops.concat([x, ops.constant(ones)], 1).output(0)
            threshold = np.concatenate([threshold, np.full(extra, -_FLOAT_MIN, np.float32)])
            high = np.concatenate([high, np.ones(extra, np.float32)])
        low = 1.0 - high
        return ops.fake_quantize(
            x,
            _per_channel(threshold),
            _per_channel(threshold),
            _per_channel(low),
            _per_channel(high),
            levels=2,
            name=f"{conv.name}/sign",
        ).output(0)

    def _xnor_scaling(self, layer, inputs, output) -> ov.Output:
        conv_output, conv_input = (self._get(t) for t in inputs)
        magnitude = ops.reduce_mean(
            ops.abs(conv_input), np.array([1], np.int64), keep_dims=True
        ).output(0)
        kh, kw = layer.kernel_size
        box = np.full((1, 1, kh, kw), 1.0 / (kh * kw), np.float32)
        pads_begin, pads_end = _same_pads(layer, inputs[1].shape)
        scale = ops.convolution(
            magnitude,
            box,
            strides=list(layer.strides),
            pads_begin=pads_begin,
            pads_end=pads_end,
            dilations=list(layer.dilation_rate),
            name=f"{layer.name}/box",
        )
        return ops.multiply(conv_output, scale, name=layer.name).output(0)

    # -- normalisation and activations -------------------------------------------------------

    def _batch_norm(self, layer, inputs, output) -> ov.Output:
        rank = len(inputs[0].shape)
        axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
        if [a % rank for a in axis] != [rank - 1] or rank not in (2, 4):
            raise _unsupported(
                layer, f"axis={layer.axis} on a rank-{rank} input; only the channel axis (-1)"
            )
        scale, shift = _batch_norm_scale_shift(layer)
        x = self._get(inputs[0])
        if rank == 4:
            scale, shift = _per_channel(scale), _per_channel(shift)
        y = ops.multiply(x, scale, name=f"{layer.name}/scale")
        return ops.add(y, shift, name=layer.name).output(0)

    def _bias_and_activation(self, layer, y: ov.Output) -> ov.Output:
        if getattr(layer, "use_bias", False):
            bias = layer.bias.numpy().astype(np.float32)
            y = ops.add(y, _per_channel(bias) if len(y.get_partial_shape()) == 4 else bias).output(
                0
            )
        return self._activation(layer, y, layer.activation)

    def _activation_layer(self, layer, inputs, output) -> ov.Output:
        return self._activation(layer, self._get(inputs[0]), layer.activation)

    def _activation(self, layer, x: ov.Output, fn) -> ov.Output:
        name = getattr(fn, "__name__", str(fn))
        channel_axis = 1  # NCHW for images, (batch, features) otherwise
        makers = {
            "linear": lambda: x,
            "relu": lambda: ops.relu(x).output(0),
            "relu6": lambda: ops.clamp(x, 0.0, 6.0).output(0),
            "sigmoid": lambda: ops.sigmoid(x).output(0),
            "tanh": lambda: ops.tanh(x).output(0),
            "softmax": lambda: ops.softmax(x, channel_axis).output(0),
        }
        if name not in makers:
            raise _unsupported(layer, f"activation {name!r} is not supported")
        return makers[name]()

    def _relu(self, layer, inputs, output) -> ov.Output:
        x = self._get(inputs[0])
        negative_slope = float(layer.negative_slope)
        threshold = float(layer.threshold)
        if negative_slope != 0.0 or threshold != 0.0:
            raise _unsupported(
                layer,
                f"negative_slope={negative_slope}, threshold={threshold}; only 0 is supported",
            )
        if layer.max_value is not None:
            return ops.clamp(x, 0.0, float(layer.max_value), name=layer.name).output(0)
        return ops.relu(x, name=layer.name).output(0)

    # -- pooling, reshaping, merging ---------------------------------------------------------

    def _pool(self, layer, inputs, output) -> ov.Output:
        if len(inputs[0].shape) != 4 or layer.data_format != "channels_last":
            raise _unsupported(layer, "only 2-D pooling of a channels_last 4-D input")
        x = self._get(inputs[0])
        pads_begin, pads_end = _same_pads(layer, inputs[0].shape)
        common = dict(
            strides=list(layer.strides),
            pads_begin=pads_begin,
            pads_end=pads_end,
            kernel_shape=list(layer.pool_size),
            rounding_type="floor",
        )
        if isinstance(layer, tf.keras.layers.MaxPooling2D):
            y = ops.max_pool(x, dilations=[1, 1], **common, name=layer.name)
        else:  # TensorFlow averages over the valid (unpadded) taps only
            y = ops.avg_pool(x, exclude_pad=True, **common, name=layer.name)
        return y.output(0)

    def _global_pool(self, layer, inputs, output) -> ov.Output:
        if len(inputs[0].shape) != 4 or layer.data_format != "channels_last":
            raise _unsupported(layer, "only a channels_last 4-D input")
        keepdims = bool(getattr(layer, "keepdims", False))
        reduce = (
            ops.reduce_mean
            if isinstance(layer, tf.keras.layers.GlobalAveragePooling2D)
            else ops.reduce_max
        )
        return reduce(
            self._get(inputs[0]), np.array([2, 3], np.int64), keep_dims=keepdims, name=layer.name
        ).output(0)

    def _flatten(self, layer, inputs, output) -> ov.Output:
        x = self._get(inputs[0])
        if len(inputs[0].shape) == 4:  # Keras flattens in NHWC order
            x = _transpose(x, _NCHW_TO_NHWC)
        return ops.reshape(x, np.array([0, -1], np.int64), True, name=layer.name).output(0)

    def _dense(self, layer, inputs, output) -> ov.Output:
        if len(inputs[0].shape) != 2:
            raise _unsupported(layer, f"a rank-{len(inputs[0].shape)} input; flatten it first")
        kernel = layer.kernel.numpy().astype(np.float32)
        y = ops.matmul(self._get(inputs[0]), kernel, False, False, name=layer.name).output(0)
        return self._bias_and_activation(layer, y)

    def _concatenate(self, layer, inputs, output) -> ov.Output:
        rank = len(output.shape)
        axis = layer.axis % rank
        if rank == 4:
            axis = {0: 0, 1: 2, 2: 3, 3: 1}[axis]
        return ops.concat([self._get(t) for t in inputs], axis, name=layer.name).output(0)

    def _merge(self, layer, inputs, output) -> ov.Output:
        shapes = {tuple(t.shape) for t in inputs}
        if len(shapes) != 1:
            raise _unsupported(layer, f"inputs of different shapes {sorted(shapes)}")
        combine = ops.add if isinstance(layer, tf.keras.layers.Add) else ops.multiply
        y = self._get(inputs[0])
        for i, t in enumerate(inputs[1:], start=1):
            last = i == len(inputs) - 1
            y = combine(y, self._get(t), name=layer.name if last else None).output(0)
        return y

    def _identity(self, layer, inputs, output) -> ov.Output:
        return self._get(inputs[0])


# --------------------------------------------------------------------------------------------
# helpers


def _transpose(x: ov.Output, order: tuple[int, ...]) -> ov.Output:
    return ops.transpose(x, np.array(order, np.int64)).output(0)


def _latent(variable) -> np.ndarray:
    """The stored value of a (possibly larq-quantized) variable, before quantization."""
    return getattr(variable, "latent_variable", variable).numpy()


def _per_channel(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, np.float32).reshape(1, -1, 1, 1)


def _same_pads(layer, input_shape) -> tuple[list[int], list[int]]:
    """TensorFlow's SAME padding (the extra pixel goes at the end), or zeros for VALID."""
    if layer.padding == "valid":
        return [0, 0], [0, 0]
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    dilation = getattr(layer, "dilation_rate", (1, 1))
    begin, end = [], []
    for size, k, s, d in zip(input_shape[1:3], kernel, layer.strides, dilation):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin, end


def _taps_per_output(layer, input_shape, output_shape, count_padding: float) -> np.ndarray:
    """How many kernel taps of each output position fall inside the image, shape
    ``[1, 1, H_out, W_out]``; padded taps count as ``count_padding`` (0 or 1)."""
    pads_begin, _ = _same_pads(layer, input_shape)
    counts = []
    for axis in range(2):
        size, out = input_shape[1 + axis], output_shape[1 + axis]
        k, s, d = layer.kernel_size[axis], layer.strides[axis], layer.dilation_rate[axis]
        position = np.arange(out)[:, None] * s - pads_begin[axis] + np.arange(k)[None, :] * d
        inside = (position >= 0) & (position < size)
        counts.append(np.where(inside, 1.0, count_padding).sum(axis=1))
    return np.outer(counts[0], counts[1]).astype(np.float32)[None, None]


def _u1_constant(bits: np.ndarray) -> ov.Node:
    """A u1 constant; the CPU plugin reads element i from bit ``i % 8`` (LSB first)."""
    tensor = ov.Tensor(ov.Type.u1, ov.Shape(list(bits.shape)))
    tensor.data[:] = np.packbits(bits.astype(np.uint8).ravel(), bitorder="little")
    return ov.op.Constant(tensor)


def _quantizer_name(quantizer) -> str:
    if quantizer is None:
        return "None"
    return getattr(quantizer, "__name__", type(quantizer).__name__)


def _is_sign(quantizer) -> bool:
    """True for larq's sign quantizers, checked by name and on probe values."""
    if quantizer is None or _quantizer_name(quantizer) not in SIGN_QUANTIZERS:
        return False
    probe = np.array([-np.inf, -2.0, -1e-30, -0.0, 0.0, 1e-30, 2.0, np.inf], np.float32)
    expected = np.array([-1, -1, -1, 1, 1, 1, 1, 1], np.float32)
    return bool(np.array_equal(quantizer(tf.constant(probe)).numpy(), expected))


def _binary_magnitude(quantized: np.ndarray) -> np.ndarray | None:
    """Per-output-channel ``alpha`` if every weight is ``+-alpha``, else None."""
    magnitude = np.abs(quantized).reshape(-1, quantized.shape[-1])
    alpha = magnitude.max(axis=0)
    if not np.all(magnitude == alpha) or not np.all(alpha > 0):
        return None
    return alpha.astype(np.float32)


def _foldable_batch_norm(layer) -> bool:
    if not isinstance(layer, tf.keras.layers.BatchNormalization):
        return False
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return len(axis) == 1 and axis[0] in (-1, 3)


def _batch_norm_scale_shift(layer) -> tuple[np.ndarray, np.ndarray]:
    """Inference BatchNorm as ``x * scale + shift`` (computed in float64, stored in float32)."""
    gamma = layer.gamma.numpy() if layer.scale else 1.0
    beta = layer.beta.numpy() if layer.center else 0.0
    mean = layer.moving_mean.numpy().astype(np.float64)
    variance = layer.moving_variance.numpy().astype(np.float64)
    scale = np.asarray(gamma, np.float64) / np.sqrt(variance + layer.epsilon)
    shift = np.asarray(beta, np.float64) - mean * scale
    return scale.astype(np.float32), shift.astype(np.float32)


def _order_keys(x: np.ndarray) -> np.ndarray:
    """float32 → int64 keys in the order of the floats (-0.0 and 0.0 share key 0)."""
    bits = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(bits >= 0, bits, -(bits & 0x7FFFFFFF))


def _from_keys(keys: np.ndarray) -> np.ndarray:
    keys = np.asarray(keys, np.int64)
    bits = np.where(keys >= 0, keys, (-keys) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32)


def _sign_thresholds(
    oracle: Callable[[np.ndarray], np.ndarray], channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(threshold, output_high)`` such that ``bit = (x > t) == output_high``.

    ``oracle(x)`` (x of shape ``[k, channels]``) says where Keras's sign is +1; it must be
    monotone in x per channel (BatchNorm then sign is). Bisection over the 2^32 float32 values
    finds the switching point in 32 steps, all channels at once.
    """
    big = np.finfo(np.float32).max
    ends = oracle(np.array([[-big] * channels, [big] * channels], np.float32))
    at_low, at_high = ends[0], ends[1]
    increasing = ~at_low & at_high
    decreasing = at_low & ~at_high
    # pred(x) = oracle(x) for increasing channels, not oracle(x) for decreasing ones: false at
    # the low end, true at the high end; find the first true key.
    lo = np.full(channels, _order_keys(np.float32(-big)), np.int64)
    hi = np.full(channels, _order_keys(np.float32(big)), np.int64)
    moving = increasing | decreasing
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        value = oracle(_from_keys(mid)[None, :])[0]
        pred = np.where(decreasing, ~value, value)
        hi = np.where(moving & pred, mid, hi)
        lo = np.where(moving & ~pred, mid, lo)
        lo = np.where(moving, lo, hi - 1)  # constant channels stop at once
    threshold = _from_keys(hi - 1).copy()  # x > threshold  <=>  x >= first true
    # constant channels: compare against -inf, output = their constant sign
    threshold[~moving] = -np.inf
    high = np.where(moving, increasing, at_high).astype(np.float32)
    # the CPU plugin may treat subnormal thresholds as zero; use the nearest normal instead
    subnormal = (threshold != 0) & (np.abs(threshold) < _FLOAT_MIN)
    threshold[subnormal] = np.copysign(_FLOAT_MIN, threshold[subnormal])
    return threshold.astype(np.float32), high
