"""Every registered model on every engine: does it convert, and is the conversion exact?

For each model of ``zoo.list_models(PATTERN, family=--family)`` at its default input (ImageNet
models at 224, the CIFAR families at 32) and each engine of ``--engines``:

* ``lce``: ``to_tflite(model)`` (Larq Compute Engine, target arm, float32 with binary ops), run
  in LCE's interpreter;
* ``openvino``: ``openvino.to_openvino(model)`` compiled in f32 on the CPU plugin;
* ``openvino-bf16``: the same model compiled with its float layers in bfloat16 (a lossy
  conversion: compared by ``verify.tolerance("bf16")``, reported and not judged; its
  conversion is the f32 row's).

A row gives: whether the engine took the model (else the one line it refused it with), the
exact conversion check (``exact.check_conversion``: the model with tie-free weights, ``--n``
random inputs, every one must agree with Keras to float rounding), the smallest margin of a
sign input, the largest difference relative to the largest output, the share of binary MACs
the engine runs bitwise (LCE: in ``LceBconv2d``; OpenVINO: binary layers executing as
``BinaryConvolution``), the file size against the 1-bit figure (LCE), the batch-1 latency of
the converted model alone (median of ``--runs`` after 3 warm-up runs, ``--threads`` threads),
and the wall time of the row.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/export_matrix.py --family larq_zoo
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/export_matrix.py '*cifar*' --engines lce

A user gets the same figures for their own model with ``bnnzoo export FILE --format tflite``
(or ``openvino``): the export runs the same conversion check and prints it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import bnnzoo  # noqa: E402,F401  (selects Keras 2 before TensorFlow)

# isort: split
from bnnzoo import zoo  # noqa: E402
from bnnzoo._host import describe  # noqa: E402
from bnnzoo.converters.exact import check_conversion  # noqa: E402
from bnnzoo.converters.lce import (  # noqa: E402
    binary_mac_report,
    lce_engine,
    size_report,
    to_tflite,
)
from bnnzoo.converters.verify import random_inputs  # noqa: E402

HEADER = (
    "| model | input | engine | converts | exact check | inputs exact | smallest margin "
    "| max diff / max output | bitwise MACs | file / 1-bit | latency ms | row s |"
)


def _lce(args):
    built = {}

    def convert(model):
        built["flatbuffer"] = to_tflite(model)
        return lce_engine(built["flatbuffer"], num_threads=args.threads)

    def details(model):
        flatbuffer = built["flatbuffer"]
        share = binary_mac_report(model, flatbuffer).share_percent
        size = size_report(model, flatbuffer)
        bitwise = "n/a" if share is None else f"{share:.1f}%"
        return bitwise, f"{size.ratio:.2f}x"

    return convert, details


def _openvino(args, precision: str = "f32"):
    from bnnzoo.converters import openvino as ov

    built = {}

    def convert(model):
        compiled = ov.compile(ov.to_openvino(model), threads=args.threads, precision=precision)
        built["compiled"] = compiled
        return lambda batch: ov.predict(compiled, batch)

    def details(model):
        layers = ov.binary_conv_layers(model)
        running = set(ov.binary_ops_in_runtime(built["compiled"])) & set(layers)
        bitwise = f"{len(running)}/{len(layers)} layers" if layers else "n/a"
        return bitwise, "-"

    return convert, details


ENGINES = {
    "lce": _lce,
    "openvino": _openvino,
    "openvino-bf16": lambda args: _openvino(args, precision="bf16"),
}
# the criteria of each engine's check: exact, or a lossy conversion's figures (reported)
PRECISION = {"openvino-bf16": "bf16"}


def latency_ms(engine, model, runs: int) -> float:
    x = random_inputs(model, 1, seed=1)
    for _ in range(3):
        engine(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        engine(x)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def row(name: str, engine_name: str, args) -> str:
    start = time.perf_counter()
    model = zoo.create_model(name)
    shape = "x".join(str(d) for d in model.inputs[0].shape[1:])
    convert, details = ENGINES[engine_name](args)
    engines = []

    def keep(m):
        engines.append(convert(m))
        return engines[-1]

    try:
        precision = PRECISION.get(engine_name, "exact")
        report, margins = check_conversion(
            model, keep, n=args.n, engine_name=engine_name, precision=precision
        )
    except Exception as err:  # a refusal: the engine's own one line
        message = " ".join(str(err).split())[:160]
        return (
            f"| {name} | {shape} | {engine_name} | refused: {message} | - | - | - | - | - | - "
            f"| - | {time.perf_counter() - start:.0f} |"
        )
    bitwise, size = details(model)
    relative = report.max_abs_diff / max(report.max_abs_reference, 1e-30)
    verdict = "pass" if report.passed else "FAIL"
    if precision != "exact":  # lossy: stated, not judged (the f32 row checks the conversion)
        verdict = f"{precision}: {'within' if report.passed else 'outside'} its criteria"
    latency = latency_ms(engines[-1], model, args.runs)
    return (
        f"| {name} | {shape} | {engine_name} | yes | {verdict} | {report.rounding_exact}/"
        f"{report.n} | {margins.smallest:.1e} | {relative:.1e} | {bitwise} | {size} "
        f"| {latency:.2f} | {time.perf_counter() - start:.0f} |"
    )


def crashed_row(name: str, engine: str, result: subprocess.CompletedProcess, seconds: float) -> str:
    """The row of a conversion that killed its process (LCE aborts on some models)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    reason = " ".join((lines[-1] if lines else "").split())[:120]
    code = result.returncode
    how = f"signal {-code}" if code < 0 else f"exit status {code}"
    return (
        f"| {name} | - | {engine} | crashed ({how}): {reason} | - | - | - | - | - | - | - "
        f"| {seconds:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", default="*")
    parser.add_argument("--family", default=None)
    parser.add_argument("--engines", default="lce,openvino,openvino-bf16")
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--row", nargs=2, metavar=("MODEL", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:  # one row, in its own process (a crash ends only that row)
        print(row(*args.row, args), flush=True)
        return
    print(f"# {describe()}; Python {platform.python_version()}")
    print(HEADER)
    print("|" + "---|" * HEADER.count(" | ") + "---|")
    options = ["--n", str(args.n), "--runs", str(args.runs), "--threads", str(args.threads)]
    for name in zoo.list_models(args.pattern, family=args.family):
        for engine in args.engines.split(","):
            start = time.perf_counter()
            command = [sys.executable, __file__, "--row", name, engine, *options]
            result = subprocess.run(command, capture_output=True, text=True)
            rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
            if result.returncode == 0 and rows:
                print(rows[-1], flush=True)
            else:
                print(crashed_row(name, engine, result, time.perf_counter() - start), flush=True)


if __name__ == "__main__":
    main()
