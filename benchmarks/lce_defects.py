"""LCE 0.16 on the large quantized kernel of a float layer: alone it crashes, through bnnzoo it
converts exactly (``bnnzoo/converters/lce/upstream_kernels.py``).

Each conversion runs in its own process (a segmentation fault kills the process that converts),
on one ``QuantDense`` without bias, DoReFa-Net's kind of head layer:

1. **LCE alone** (``larq_compute_engine.convert_keras_model``) on growing kernels: the exit
   status, the file size against the float weights, and the ops; where the converter stops
   folding the kernel quantizer (``SIGN``/``ABS`` ops, or a file twice the weights) and where
   it crashes.
2. **bnnzoo** (``bnnzoo.converters.to_tflite``, which folds the kernel quantizer first) on the
   model that crashes LCE: size, ops, time, and ``bnnzoo.converters.exact.check_conversion``
   (the file against Keras on every input, to float rounding).
3. **Small layers of each kind**, LCE alone against bnnzoo: the same ops, size and weight bytes
   (LCE folds small kernels itself, so folding them in bnnzoo changes nothing).

    TF_CPP_MIN_LOG_LEVEL=3 nice -n 10 .venv/bin/python benchmarks/lce_defects.py
    TF_CPP_MIN_LOG_LEVEL=3 nice -n 10 .venv/bin/python benchmarks/lce_defects.py --quick

``--quick`` runs only the crash and bnnzoo's conversion of the same model (2 and 3 skipped
from 1). Peak memory is about 3 GB per process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# (inputs, units, kernel quantizer, input quantizer) of the LCE-alone ladder
LADDER = [
    (6144, 4096, "ste_sign", "none"),
    (8192, 4096, "ste_sign", "none"),
    (8192, 4096, "magnitude_aware", "dorefa"),
    (9216, 4096, "none", "none"),
    (9216, 4096, "ste_sign", "none"),
    (9216, 4096, "magnitude_aware", "dorefa"),
]
CRASH = [(9216, 4096, "ste_sign", "none"), (9216, 4096, "magnitude_aware", "dorefa")]


# -- the child: one conversion ------------------------------------------------------------


def dense_model(n_in: int, units: int, kernel: str, inputs: str):
    import larq as lq
    import tensorflow as tf
    from larq_zoo.literature.dorefanet import magnitude_aware_sign_unclipped

    kernel_quantizer = {
        "ste_sign": "ste_sign",
        "magnitude_aware": magnitude_aware_sign_unclipped,
        "none": None,
    }[kernel]
    input_quantizer = lq.quantizers.DoReFaQuantizer(k_bit=2) if inputs == "dorefa" else None
    x = tf.keras.Input((n_in,))
    layer = lq.layers.QuantDense(
        units,
        input_quantizer=input_quantizer,
        kernel_quantizer=kernel_quantizer,
        kernel_constraint="weight_clip" if kernel == "ste_sign" else None,
        use_bias=False,
    )
    return tf.keras.Model(x, layer(x))


def child(args) -> None:
    import bnnzoo  # noqa: F401  (selects Keras 2 before TensorFlow)

    # isort: split
    import larq_compute_engine as lce

    from bnnzoo.converters.lce import lce_engine, op_histogram, to_tflite

    def show_handled_error(message, *rest, **kwargs):
        # LCE hides why its saved-model path failed behind a warning raised in its except
        # block; the exception being handled there is still at hand
        error = sys.exc_info()[1]
        if error is not None:
            print(f"HANDLED {type(error).__name__}: {error}"[:300], flush=True)
        print(f"WARNING {message}", flush=True)

    warnings.showwarning = show_handled_error
    n_in, units = int(args.child[0]), int(args.child[1])
    model = dense_model(n_in, units, args.child[2], args.child[3])
    start = time.perf_counter()
    if args.bnnzoo:
        from bnnzoo.converters.exact import check_conversion

        files = []

        def convert(m):
            files.append(to_tflite(m))
            return lce_engine(files[-1])

        report, _ = check_conversion(model, convert, n=4)
        flatbuffer, check = files[0], str(report)
    else:
        flatbuffer, check = lce.convert_keras_model(model), None
    result = {
        "seconds": time.perf_counter() - start,
        "bytes": len(flatbuffer),
        "ops": op_histogram(flatbuffer),
        "check": check,
    }
    print("RESULT " + json.dumps(result), flush=True)


def small_layers() -> list[str]:
    """LCE alone and bnnzoo on small layers of each kind whose kernel bnnzoo folds."""
    import bnnzoo  # noqa: F401

    # isort: split
    import larq as lq
    import larq_compute_engine as lce
    import numpy as np
    import tensorflow as tf
    from larq_compute_engine.mlir.python import tflite_schema as schema
    from larq_zoo.literature.dorefanet import magnitude_aware_sign_unclipped as magnitude

    from bnnzoo.converters import randomize_weights
    from bnnzoo.converters.lce import op_histogram, to_tflite

    def weight_bytes(flatbuffer: bytes) -> list[bytes]:
        model = schema.Model.GetRootAs(bytearray(flatbuffer), 0)
        buffers = (model.Buffers(i).DataAsNumpy() for i in range(model.BuffersLength()))
        return sorted(b.tobytes() for b in buffers if isinstance(b, np.ndarray))

    def one(layer, shape):
        x = tf.keras.Input(shape)
        return randomize_weights(tf.keras.Model(x, layer(x)), seed=0)

    dorefa = lq.quantizers.DoReFaQuantizer(k_bit=2)
    cases = {
        "QuantDense 1024x512, ste_sign": lambda: one(
            lq.layers.QuantDense(512, kernel_quantizer="ste_sign", use_bias=False), (1024,)
        ),
        "QuantDense 1024x512, DoReFa input, magnitude-aware": lambda: one(
            lq.layers.QuantDense(512, input_quantizer=dorefa, kernel_quantizer=magnitude),
            (1024,),
        ),
        "QuantConv2D 3x3x64x64, DoReFa input, magnitude-aware": lambda: one(
            lq.layers.QuantConv2D(64, 3, input_quantizer=dorefa, kernel_quantizer=magnitude),
            (16, 16, 64),
        ),
        "QuantDepthwiseConv2D 3x3x64, ste_sign": lambda: one(
            lq.layers.QuantDepthwiseConv2D(3, depthwise_quantizer="ste_sign"), (16, 16, 64)
        ),
    }
    rows = []
    for name, build in cases.items():
        model = build()
        raw, folded = lce.convert_keras_model(model), to_tflite(model)
        same_ops = op_histogram(raw) == op_histogram(folded)
        same_weights = weight_bytes(raw) == weight_bytes(folded)
        ops = ", ".join(f"{op} {n}" for op, n in op_histogram(raw).items())
        rows.append(
            f"| {name} | {len(raw):,} | {len(folded):,} | {ops} | "
            f"{'same' if same_ops else 'DIFFERENT'} | {'same' if same_weights else 'DIFFERENT'} |"
        )
    return rows


# -- the parent ---------------------------------------------------------------------------


def run_child(spec, *, bnnzoo: bool) -> dict:
    command = [sys.executable, "-X", "faulthandler", __file__, "--child", *map(str, spec)]
    command += ["--bnnzoo"] if bnnzoo else []
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    result = {"rc": done.returncode, "wall": wall}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result.update(json.loads(line[len("RESULT ") :]))
        elif line.startswith("HANDLED "):
            result["saved_model_error"] = line[len("HANDLED ") :]
    errors = done.stderr.splitlines()
    if done.returncode != 0 and "bytes" not in result:
        # a Python error's last line, or the innermost frame faulthandler prints at a crash
        current = [i for i, line in enumerate(errors) if line.startswith("Current thread")]
        after = errors[current[0] :] if current else []
        frames = [line.strip() for line in after if line.strip().startswith("File ")]
        crashed = any("Segmentation fault" in line for line in errors)
        last = [line for line in errors if line.strip()][-1:] or [""]
        result["error"] = f"segmentation fault in {frames[0]}" if crashed and frames else last[0]
    return result


def describe_result(spec, result) -> str:
    n_in, units, kernel, inputs = spec
    float_mb = n_in * units * 4 / 1e6
    head = (
        f"| {n_in}x{units} | {kernel} | {inputs} | {float_mb:.0f} | "
        f"{result['rc']}{' (SIGSEGV)' if result['rc'] == -11 else ''} | "
    )
    if "bytes" not in result:
        saved = result.get("saved_model_error", "-")
        notes = f"saved-model path: {saved}; then: {result.get('error', '')}"
        return head + f"failed: {notes[:400]} | - | {result['wall']:.0f} |"
    ops = ", ".join(f"{op} {n}" for op, n in result["ops"].items())
    return head + (
        f"{result['bytes'] / 1e6:.1f} MB ({result['bytes'] / (n_in * units * 4):.2f}x the "
        f"float weights) | {ops} | {result['wall']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the crash and bnnzoo's fix")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--bnnzoo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    import bnnzoo  # noqa: F401  (selects Keras 2 before TensorFlow)

    # isort: split
    import larq_compute_engine as lce
    import tensorflow as tf

    from bnnzoo._host import describe

    print(
        f"# LCE {lce.__version__} on large quantized float kernels: TensorFlow "
        f"{tf.__version__}; {describe()}\n"
    )
    header = (
        "| QuantDense | kernel quantizer | input quantizer | float MB | exit | file | ops "
        "| wall s |\n|---|---|---|---|---|---|---|---|"
    )
    print("## LCE alone (larq_compute_engine.convert_keras_model), one process each\n")
    print(header, flush=True)
    for spec in CRASH if args.quick else LADDER:
        print(describe_result(spec, run_child(spec, bnnzoo=False)), flush=True)
    print("\n## bnnzoo (bnnzoo.converters.to_tflite), one process each\n")
    top, rule = header.splitlines()
    print(f"{top} conversion check |\n{rule}---|", flush=True)
    for spec in CRASH:
        result = run_child(spec, bnnzoo=True)
        print(f"{describe_result(spec, result)} {result.get('check', '-')} |", flush=True)
    if not args.quick:
        print("\n## Small layers: LCE alone vs bnnzoo\n")
        print("| layer | LCE bytes | bnnzoo bytes | ops (LCE) | ops | weight bytes |")
        print("|---|---|---|---|---|---|", flush=True)
        print("\n".join(small_layers()))


if __name__ == "__main__":
    main()
