"""The engines ``bench`` times, each built from the same Keras model and ready to run a batch
of ``batch`` inputs: ``keras`` (a ``tf.function`` graph), ``tflite`` (plain float TFLite with
XNNPACK), ``lce`` (``to_tflite`` in LCE's interpreter) and ``openvino`` (``BinaryConvolution``
on the CPU plugin, float layers in the precision asked for, ``"auto"`` by default), or
``openvino-f32`` and ``openvino-bf16`` (OpenVINO in that precision, to time both side by side).
Each says in ``detail`` how it runs (versions, threads, delegate, binary kernels) and in
``precision`` what its float layers compute in.

Example:
    >>> engine = build_engine("openvino-bf16", model, threads=2, batch=8)
    >>> logits = engine.run(x)  # x: (8, H, W, C)
    >>> print(engine.precision, engine.detail)  # bf16, how many binary convs are binary
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from bnnzoo._checks import one_of
from bnnzoo.converters.lce import binary_mac_report, lce_engine, to_tflite
from bnnzoo.converters.lce.convert import serving_saved_model

ENGINES = ("keras", "tflite", "lce", "openvino")  # bench's default selection
# OpenVINO in a fixed float precision, to time both side by side
OPENVINO_PRECISION_ENGINES = ("openvino-f32", "openvino-bf16")
ALL_ENGINES = ENGINES + OPENVINO_PRECISION_ENGINES
ENGINE_TITLES = {
    "keras": "Keras (TF graph)",
    "tflite": "float TFLite (XNNPACK)",
    "lce": "LCE interpreter",
    "openvino": "OpenVINO binary",
    "openvino-f32": "OpenVINO binary f32",
    "openvino-bf16": "OpenVINO binary bf16",
}


@dataclass
class PreparedEngine:
    """One engine ready to run: ``run`` maps a batch of inputs to its outputs; ``precision``
    is what its float layers compute in (``"f32"``, ``"bf16"``)."""

    run: Callable[[np.ndarray], np.ndarray]
    detail: str = ""
    precision: str = "f32"
    # for an engine computing in bf16: the same converted model run in f32, which checks the
    # conversion exactly where bf16's rounding cannot be told from a mistake
    exact: Callable[[np.ndarray], np.ndarray] | None = None


def _keras(model: tf.keras.Model, threads: int, batch: int) -> PreparedEngine:
    shape = tuple(model.inputs[0].shape[1:])
    dtype = model.inputs[0].dtype
    graph = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((batch, *shape), dtype)],
    )

    def run(batch: np.ndarray) -> np.ndarray:
        return graph(tf.constant(batch, dtype)).numpy()

    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    return PreparedEngine(
        run,
        f"tf.function of model(x, training=False), TensorFlow {tf.__version__}, intra-op "
        f"threads {intra or 'default'}, inter-op threads {inter or 'default'}",
    )


def _tflite(model: tf.keras.Model, threads: int, batch: int) -> PreparedEngine:
    with serving_saved_model(model) as saved_model:
        flatbuffer = tf.lite.TFLiteConverter.from_saved_model(saved_model).convert()
    interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=threads)
    input_index = interpreter.get_input_details()[0]["index"]
    shape = interpreter.get_input_details()[0]["shape"]
    if batch != shape[0]:
        interpreter.resize_tensor_input(input_index, [batch, *shape[1:]])
    interpreter.allocate_tensors()
    output_index = interpreter.get_output_details()[0]["index"]
    ops: dict[str, int] = {}
    for op in interpreter._get_ops_details():  # the only way to see the XNNPACK delegate
        ops[op["op_name"]] = ops.get(op["op_name"], 0) + 1

    def run(batch: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(input_index, np.asarray(batch, np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(output_index).copy()

    delegated = ops.get("DELEGATE", 0)
    detail = (
        f"tf.lite.Interpreter, {delegated} XNNPACK delegate partitions"
        if delegated
        else "tf.lite.Interpreter WITHOUT the XNNPACK delegate (no DELEGATE op)"
    )
    floats = ", ".join(f"{k} {v}" for k, v in sorted(ops.items()) if k != "DELEGATE")
    return PreparedEngine(run, f"{detail}; ops: {floats}")


def _lce(model: tf.keras.Model, threads: int, batch: int) -> PreparedEngine:
    import larq_compute_engine as lce

    flatbuffer = to_tflite(model)
    macs = binary_mac_report(model, flatbuffer)
    one_at_a_time = "; its model has batch size 1: a batch runs image by image" if batch > 1 else ""
    return PreparedEngine(
        lce_engine(flatbuffer, num_threads=threads),
        f"larq-compute-engine {lce.__version__} interpreter; {macs}{one_at_a_time}",
    )


def _openvino(model: tf.keras.Model, threads: int, batch: int, precision: str) -> PreparedEngine:
    import openvino as ov

    from bnnzoo.converters import openvino as ovx

    ov_model = ovx.to_openvino(model, batch_size=batch)
    compiled = ovx.compile(ov_model, threads=threads, precision=precision)
    computed = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
    request = compiled.create_infer_request()

    def runner(request):
        def run(inputs: np.ndarray) -> np.ndarray:
            request.infer([np.ascontiguousarray(inputs, np.float32)])
            return np.array(request.get_output_tensor(0).data, copy=True)

        return run

    exact = None
    if computed == "bf16":
        f32 = ovx.compile(ov_model, threads=threads, precision="f32")
        exact = runner(f32.create_infer_request())
    binary = ovx.binary_ops_in_runtime(compiled)
    expected = ovx.binary_conv_layers(model)
    kernels = ", ".join(sorted(set(binary.values()))) or "none"
    return PreparedEngine(
        runner(request),
        f"openvino {ov.__version__.split('-')[0]}, {len(set(expected) & set(binary))} of "
        f"{len(expected)} binary convs run as BinaryConvolution (kernels: {kernels}), float "
        f"layers in {computed} (asked: {precision})",
        precision=computed,
        exact=exact,
    )


_BUILDERS = {"keras": _keras, "tflite": _tflite, "lce": _lce}


def build_engine(
    name: str, model: tf.keras.Model, threads: int, *, batch: int = 1, precision: str = "auto"
) -> PreparedEngine:
    """Convert ``model`` for the engine ``name`` (one of ``ALL_ENGINES``) and make it ready to
    run batches of ``batch`` inputs with ``threads`` threads; raises whatever the converter or
    runtime raises.

    ``precision`` (``"f32"``, ``"bf16"``, ``"auto"``) is that of ``openvino``;
    ``openvino-f32`` and ``openvino-bf16`` have their own, the other engines compute in f32.
    """
    one_of("engine", name, ALL_ENGINES)
    if name.startswith("openvino"):
        fixed = name.partition("-")[2]
        return _openvino(model, threads, batch, fixed or precision)
    return _BUILDERS[name](model, threads, batch)


def check_engines(engines) -> tuple[str, ...]:
    """The engines asked for (a sequence or a comma-separated string), in the order of
    ``ALL_ENGINES``; a ValueError naming the unknown ones."""
    if isinstance(engines, str):
        engines = [e for e in engines.split(",") if e]
    names = list(engines) if isinstance(engines, (list, tuple)) else None
    unknown = [] if names is None else [e for e in names if e not in ALL_ENGINES]
    if not names or unknown:
        raise ValueError(
            f"Expected engines to be a non-empty selection of {ALL_ENGINES}. Received: "
            f"engines={engines!r}{f' (unknown: {unknown})' if unknown else ''}. Pass e.g. "
            f"engines=('lce', 'openvino') or ('tflite', 'openvino-f32', 'openvino-bf16')."
        )
    return tuple(e for e in ALL_ENGINES if e in names)


def configure_tf_threads(threads: int) -> str | None:
    """Give TensorFlow ``threads`` intra-op threads and one inter-op thread (ops run one after
    the other, each on ``threads`` threads, like the other engines). Returns a note when
    TensorFlow had started already with other settings, which it cannot change then."""
    wanted = {"intra-op": threads, "inter-op": 1}
    setters = {
        "intra-op": tf.config.threading.set_intra_op_parallelism_threads,
        "inter-op": tf.config.threading.set_inter_op_parallelism_threads,
    }
    refused = []
    for kind, count in wanted.items():
        try:
            setters[kind](count)
        except RuntimeError:  # TensorFlow's runtime already started with other values
            refused.append(kind)
    if not refused:
        return None
    return (
        f"note: TensorFlow had started before bench() with other {' and '.join(refused)} "
        f"thread settings, which cannot change afterwards; the Keras row runs with them. Call "
        f"bench() before anything else runs TensorFlow (as `bnnzoo bench` does) to give Keras "
        f"{threads} threads."
    )
