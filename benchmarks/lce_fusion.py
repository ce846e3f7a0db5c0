"""How completely Larq Compute Engine fuses every registered zoo model, and whether it is exact.

For each model of ``zoo.list_models(PATTERN, family=--family)`` (larq-zoo's own models, family
``larq_zoo``, included): build it (its default input shape unless
``--input-shape`` is given; logits head where the factory accepts ``classifier_activation``),
give it random weights with BatchNorm statistics measured on data (``randomize_weights``: the
stand-in for trained weights, see ``bnnzoo.converters.verify``), convert it with LCE for ARM,
and print the op histogram, the share of the Keras model's binary MACs that runs in
``LceBconv2d``, the binary layers LCE left in float, the file size against the 1-bit figure of
``bnnzoo summary``, and LCE's interpreter against Keras on ``--n`` random inputs (max abs diff
on the logits, top-1 agreement, inputs that agree to float rounding, verdict with the default
criteria of ``verify_tflite``).
``--untrained`` also converts and checks each model with its initial weights.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/lce_fusion.py --n 8 > out.txt
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/lce_fusion.py 'binary_*' --untrained
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/lce_fusion.py --family larq_zoo --n 8
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import bnnzoo  # noqa: E402,F401  (selects Keras 2 before TensorFlow)

# isort: split
import tensorflow as tf  # noqa: E402

from bnnzoo import zoo  # noqa: E402
from bnnzoo._host import describe  # noqa: E402
from bnnzoo.converters.lce import (  # noqa: E402
    binary_mac_report,
    op_histogram,
    size_report,
    to_tflite,
    verify_tflite,
)
from bnnzoo.converters.verify import randomize_weights  # noqa: E402

HEADER = (
    "| model | input | LceBconv2d | binary GMACs | in LceBconv2d | share | left in float "
    "| file MiB | 1-bit MiB | ratio | max abs diff | top-1 | exact | verify | untrained "
    "| convert s |"
)


def build(name: str, input_shape):
    """The registered model with a logits head where its factory takes one (``create_model``
    drops None arguments, so the factory is called directly)."""
    factory = zoo.get_model_spec(name).factory
    kwargs = {"input_shape": input_shape} if input_shape else {}
    try:
        return factory(classifier_activation=None, **kwargs), "logits"
    except (TypeError, ValueError):
        return factory(**kwargs), "as built"


def check_untrained(name: str, input_shape, n: int, threads: int) -> str:
    model, _ = build(name, input_shape)
    report = verify_tflite(
        model, to_tflite(model), n=n, num_threads=threads, raise_on_failure=False
    )
    verdict = "pass" if report.passed else "FAIL"
    return f"{verdict} ({report.max_abs_diff:.2g})"


def run(name: str, args) -> str:
    start = time.perf_counter()
    model, head = build(name, args.input_shape)
    randomize_weights(model, seed=0)
    flatbuffer = to_tflite(model)
    convert_s = time.perf_counter() - start
    histogram = op_histogram(flatbuffer)
    macs = binary_mac_report(model, flatbuffer)
    size = size_report(model, flatbuffer)
    check = verify_tflite(
        model, flatbuffer, n=args.n, num_threads=args.threads, raise_on_failure=False
    )
    untrained = (
        check_untrained(name, args.input_shape, args.n, args.threads) if args.untrained else "-"
    )
    shape = "x".join(str(d) for d in model.input_shape[1:])
    print(f"## {name} ({shape}, {head})", flush=True)
    print("ops: " + ", ".join(f"{op} {count}" for op, count in histogram.items()))
    print(macs)
    print(size)
    print(check)
    if not check.passed:
        print(check.failure_message())
    print(flush=True)
    share = "n/a" if macs.share_percent is None else f"{macs.share_percent:.1f}%"
    left = ", ".join(f"{u.name}→{u.carried_by or '?'}" for u in macs.unfused) or "-"
    top1 = "n/a" if check.top1_agreement is None else f"{100 * check.top1_agreement:.0f}%"
    return (
        f"| {name} | {shape} | {histogram.get('LceBconv2d', 0)} | "
        f"{macs.keras_binary_macs / 1e9:.3f} | {macs.bconv_macs / 1e9:.3f} | {share} | {left} | "
        f"{size.file_bytes / 2**20:.3f} | {size.one_bit_bytes / 2**20:.3f} | {size.ratio:.2f} | "
        f"{check.max_abs_diff:.2g} | {top1} | {check.rounding_exact}/{check.n} | "
        f"{'pass' if check.passed else 'FAIL'} | "
        f"{untrained} | {convert_s:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", default="*")
    parser.add_argument("--family", default=None, help="only this family (bnnzoo list)")
    parser.add_argument("--input-shape", default=None, help="H,W,C for every model")
    parser.add_argument("--n", type=int, default=8, help="inputs for the numeric check")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--untrained", action="store_true", help="also check initial weights")
    args = parser.parse_args()
    if args.input_shape:
        args.input_shape = tuple(int(v) for v in args.input_shape.split(","))
    import larq_compute_engine as lce

    names = zoo.list_models(args.pattern, family=args.family)
    print(
        f"# LCE fusion of {len(names)} models: larq-compute-engine {lce.__version__}, "
        f"TensorFlow {tf.__version__}, {platform.machine()}; {describe()}\n"
    )
    rows = []
    for name in names:
        try:
            rows.append(run(name, args))
        except Exception as err:  # report and go on: one broken model must not hide the rest
            print(f"## {name}: ERROR {type(err).__name__}: {err}\n", flush=True)
            rows.append(f"| {name} | ERROR: {type(err).__name__}: {str(err)[:120]} |")
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
