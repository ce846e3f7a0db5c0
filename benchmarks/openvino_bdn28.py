"""BinaryDenseNet28, 224×224, batch 1, 2 threads: OpenVINO's bitwise path against LCE and float
TFLite, measured side by side in one run.

Engines (same Keras model, same random weights, same input):

* **OpenVINO binary**: ``bnnzoo.converters.openvino.to_openvino`` (every binary conv a
  ``BinaryConvolution``), compiled for the CPU with 2 inference threads, f32.
* **LCE**: ``larq_compute_engine.convert_keras_model`` + LCE's Python interpreter, 2 threads
  (on x86 its binary kernels are the portable reference ones). Also with LCE's XNNPACK switch,
  which moves the float ops to XNNPACK.
* **float TFLite (XNNPACK)**: the same Keras model converted by plain ``tf.lite.TFLiteConverter``:
  larq's ``sign`` becomes TFLite ``SIGN``/``ADD`` ops and every binary conv a float ``CONV_2D``
  on ±1 values, run by TensorFlow's interpreter with its default XNNPACK delegate, 2 threads.

Engines take turns (``--rounds`` rounds of ``--runs`` timed runs each) so that other load on the
machine hits all of them alike; the table gives median and minimum. Ratios are printed, never
asserted. Every engine's output is compared with Keras first (logits: no softmax, so the check
cannot hide behind a saturated softmax).

Command (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/openvino_bdn28.py \\
        --wait-idle 3600 --markdown benchmarks/openvino_bdn28.md

For any model, ``bnnzoo bench MODEL`` (``bnnzoo.converters.bench``, whose timing helpers in
``bench.timing`` this script uses) times the same engines and Keras; this script adds LCE's
XNNPACK switch and the profile by part of the network.

``--wait-idle`` holds the timing back until other processes leave the CPU idle (this 2-core
machine is shared); the report says how busy the other processes kept it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import bnnzoo  # noqa: E402,F401  (selects Keras 2 before TensorFlow is imported)

# isort: split
import numpy as np  # noqa: E402
import openvino as ov  # noqa: E402
import tensorflow as tf  # noqa: E402

from bnnzoo import zoo  # noqa: E402
from bnnzoo.analysis import count_model  # noqa: E402
from bnnzoo.converters import openvino as ovx  # noqa: E402
from bnnzoo.converters.bench.timing import (  # noqa: E402
    cpu_seconds,
    other_load,
    time_interleaved,
    wait_until_idle,
)

THREADS = 2
COMMAND = (
    "TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/openvino_bdn28.py "
    "--wait-idle 3600 --markdown benchmarks/openvino_bdn28.md"
)


def randomized_model(seed: int) -> tf.keras.Model:
    """BinaryDenseNet28 with logits, random weights and BatchNorm statistics measured on data."""
    from bnnzoo.converters.verify import randomize_weights

    model = zoo.BinaryDenseNet28(input_shape=(224, 224, 3), classifier_activation=None)
    return randomize_weights(model, seed=seed)


def openvino_engine(model: tf.keras.Model, x: np.ndarray):
    start = time.perf_counter()
    ov_model = ovx.to_openvino(model)
    export_s = time.perf_counter() - start
    compiled = ovx.compile(ov_model, threads=THREADS)
    request = compiled.create_infer_request()
    request.set_input_tensor(ov.Tensor(x))

    def run() -> np.ndarray:
        request.infer()
        return request.get_output_tensor(0).data

    return run, ov_model, compiled, export_s


def lce_engine(model: tf.keras.Model, x: np.ndarray, *, use_xnnpack: bool, flatbuffer=None):
    import larq_compute_engine as lce
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    flatbuffer = flatbuffer or lce.convert_keras_model(model)
    interpreter = Interpreter(flatbuffer, num_threads=THREADS, use_xnnpack=use_xnnpack)
    return (lambda: interpreter.predict(x)), flatbuffer


def float_tflite_engine(model: tf.keras.Model, x: np.ndarray):
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=THREADS)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    output = interpreter.get_output_details()[0]["index"]
    ops: dict[str, int] = {}
    for op in interpreter._get_ops_details():
        ops[op["op_name"]] = ops.get(op["op_name"], 0) + 1

    def run() -> np.ndarray:
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return run, ops


def stage_of(name: str) -> str:
    for prefix in ("stem", "stage1", "stage2", "stage3", "stage4", "final", "head"):
        if name.startswith(prefix):
            return prefix
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per engine per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, help="write the results as markdown here")
    parser.add_argument("--skip-lce", action="store_true", help="leave out the two LCE rows")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before timing, wait up to SECONDS for other processes to leave the CPU idle",
    )
    args = parser.parse_args(argv)

    model = randomized_model(args.seed)
    x = np.random.default_rng(args.seed + 1).normal(size=(1, 224, 224, 3)).astype(np.float32)
    keras_out = model.predict(x, verbose=0)
    binary_macs = count_model(model).binary_macs

    print("converting ...", flush=True)
    ov_run, ov_model, compiled, export_s = openvino_engine(model, x)
    engines: dict[str, Callable[[], object]] = {"OpenVINO binary": ov_run}
    if not args.skip_lce:
        lce_run, flatbuffer = lce_engine(model, x, use_xnnpack=False)
        lce_xnn_run, _ = lce_engine(model, x, use_xnnpack=True, flatbuffer=flatbuffer)
        engines["LCE interpreter"] = lce_run
        engines["LCE interpreter + XNNPACK"] = lce_xnn_run
    tflite_run, tflite_ops = float_tflite_engine(model, x)
    engines["float TFLite (XNNPACK)"] = tflite_run

    scale = float(np.abs(keras_out).max())
    agreement = {
        name: float(np.abs(np.asarray(run()) - keras_out).max()) / scale
        for name, run in engines.items()
    }
    runtime_binary = ovx.binary_ops_in_runtime(compiled)
    expected_binary = ovx.binary_conv_layers(model)

    if args.wait_idle > 0:
        print(f"waiting up to {args.wait_idle:.0f} s for an idle CPU ...", flush=True)
        wait_until_idle(args.wait_idle)
    profiled = ovx.compile(ov_model, threads=THREADS, profiling=True)
    print("profiling and timing ...", flush=True)
    start, before = time.perf_counter(), cpu_seconds()
    layer_times = ovx.profile(profiled, x, runs=50)
    # rounds of --runs consecutive runs per engine, the engines taking turns
    times = time_interleaved(engines, runs=args.rounds * args.runs, warmup=3, block=args.runs)
    others = other_load(before, cpu_seconds(), time.perf_counter() - start)
    by_type = ovx.summarize_profile(layer_times)
    by_stage: dict[str, float] = {}
    for t in layer_times:
        by_stage[stage_of(t.name)] = by_stage.get(stage_of(t.name), 0.0) + t.ms
    profile_total = sum(by_type.values())
    bconv_ms = by_type.get("BinaryConvolution", 0.0)

    ov_median = statistics.median(times["OpenVINO binary"])
    lines = []
    out = lines.append
    out("# OpenVINO binary path: BinaryDenseNet28, 224×224, batch 1, 2 threads\n")
    out(f"Command: `{COMMAND}`\n")
    cpu = ov.Core().get_property("CPU", "FULL_DEVICE_NAME")
    out(
        f"Machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"openvino {ov.__version__.split('-')[0]}, tensorflow {tf.__version__}. Other "
        f"processes kept {others:.2f} of {os.cpu_count()} cores busy while the engines were "
        f"profiled and timed (the numbers are only clean near 0).\n"
    )
    out(
        f"Random weights with BatchNorm statistics measured on data (verify.randomize_weights, "
        f"seed {args.seed}), logits. {args.rounds} rounds × {args.runs} timed runs "
        f"per engine, engines taking turns.\n"
    )
    out(
        "| engine | median ms | min ms | × slower than OpenVINO (median) | max rel. diff vs Keras |"
    )
    out("| --- | ---: | ---: | ---: | ---: |")
    for name, values in times.items():
        median = statistics.median(values)
        out(
            f"| {name} | {median:.1f} | {min(values):.1f} | {median / ov_median:.2f} | "
            f"{agreement[name]:.1e} |"
        )
    out("")
    for name in times:
        if name != "OpenVINO binary":
            ratio = statistics.median(times[name]) / ov_median
            out(f"* {name} / OpenVINO binary: **{ratio:.1f}×** (median latency)")
    out("")
    out(
        f"Binary MACs (count_model): {binary_macs / 1e9:.3f} G → "
        f"{binary_macs / (ov_median * 1e-3) / 1e9:.0f} G binary MACs/s end to end, "
        f"{binary_macs / (bconv_ms * 1e-3) / 1e9:.0f} G/s inside the BinaryConvolution nodes "
        f"({bconv_ms:.2f} ms by the profile).\n"
    )
    out(
        f"Runtime model: {len(runtime_binary)} of {len(expected_binary)} binary convolutions "
        f"execute as BinaryConvolution (kernels: {', '.join(sorted(set(runtime_binary.values())))}"
        f"); export took {export_s:.1f} s.\n"
    )
    out(f"Float TFLite op histogram: {dict(sorted(tflite_ops.items()))}\n")
    out(
        f"## Where the time goes (OpenVINO PERF_COUNT, median of 50 runs per node; sum "
        f"{profile_total:.2f} ms against {ov_median:.2f} ms end to end without profiling)\n"
    )
    out("| node type | ms | share |")
    out("| --- | ---: | ---: |")
    for node_type, ms in by_type.items():
        out(f"| {node_type} | {ms:.2f} | {100 * ms / profile_total:.0f}% |")
    out("")
    out("| part of the network | ms | share |")
    out("| --- | ---: | ---: |")
    for stage, ms in sorted(by_stage.items(), key=lambda kv: -kv[1]):
        out(f"| {stage} | {ms:.2f} | {100 * ms / profile_total:.0f}% |")
    out("")
    out(
        "Reading the profile: `Convolution` is the float part of the network (the 7×7 stem "
        "with its BatchNorm and ReLU fused in, and the three 1×1 transition convolutions); "
        "`BinaryConvolution` is the 23 xnor-popcount convolutions; `FakeQuantize` is the "
        "binarization that turns each dense layer's BatchNorm + sign into per-channel thresholds "
        "and packs the bits (output u1); `Concat` is DenseNet's growing concatenation, which the "
        "CPU plugin copies in NHWC with its reference kernel; `Subgraph` is the transition "
        "BatchNorms; `FullyConnected` is the 1000-way classifier. Per-node timing adds its own "
        "overhead, so the shares are the useful part of this table.\n"
    )
    out("Slowest 15 nodes:\n")
    out("| node | type | kernel | ms |")
    out("| --- | --- | --- | ---: |")
    for t in layer_times[:15]:
        out(f"| {t.name} | {t.node_type} | {t.exec_type} | {t.ms:.3f} |")
    out("")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
