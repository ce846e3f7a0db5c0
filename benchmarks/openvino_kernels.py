"""Which kernels OpenVINO's CPU plugin runs for the exported zoo models, and what bf16 costs in
agreement with Keras: the figures behind issue 14's IR half.

Sections (markdown on stdout):

1. **Reference kernels**: per zoo family (one model, 32×32 px), the nodes that run a ``ref_*``
   primitive on every inference (``runtime.reference_kernels``).
2. **BinaryDenseNet28, 224×224, batch 1, 2 threads**, f32 and bf16, with the transitions'
   BatchNorm before the max pool (``before``: the exporter until this change) and after it
   (``after``): whole-model median over ``--runs`` plain inferences (variants take turns in
   blocks of 20), and the per-node-type profile (``runtime.profile``, ``--profile-runs``);
   the bytes per millisecond the dense blocks' NHWC ``Concat`` nodes move, against numpy's
   copy of the same bytes.
3. **Binarization fused**: binarizing ``FakeQuantize`` nodes left standalone and those the
   plugin fused into the producing node.
4. **Dense-block IR forms**: one synthetic dense block (56×56, 64 channels + 6 binary layers of
   64) emitted as the exporter does (a chain of concatenations) and with each binary conv split
   by input piece and summed (no concatenation but one at the end). A third form, binarizing
   each piece before a concatenation of bits, crashes the plugin (segmentation fault,
   OpenVINO 2026.4) and is not run.
5. ``--accuracy``: OpenVINO f32 and bf16 against Keras: zoo models with random weights on
   random inputs, and two small models trained for 2 epochs on 20000 Fashion-MNIST images
   (``/usr/share/datasets/fashion-mnist``), on 1000 test images and on 16 random inputs.

Command (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=3 nice -n 19 .venv/bin/python benchmarks/openvino_kernels.py --accuracy

Times are medians; on a shared machine they carry its load, which the report states.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import bnnzoo  # noqa: F401  (selects Keras 2; before TensorFlow)

# isort: split
import numpy as np
import openvino as ov
import openvino.opset13 as ops
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo._host import cpu_flags, cpu_model
from bnnzoo._text import format_table
from bnnzoo.converters import openvino as ovx
from bnnzoo.converters.openvino import float_layers
from bnnzoo.converters.openvino.binary_layers import u1_constant
from bnnzoo.converters.verify import random_inputs, randomize_weights
from bnnzoo.training.data import read_idx

FAMILIES = {
    "binary_densenet": "binary_densenet28",
    "bireal": "bireal_resnet18",
    "bitnet": "bitnet_cifar_d4_k2_n2_binary",
    "dwr": "dwr_resnet18_cifar_s2",
    "igp": "igp_resnet21",
    "larq_zoo": "birealnet",
    "resnet_e": "binary_resnet_e18",
    "wide_resnet": "wide_resnet_cifar_d10_k2_n2_binary",
}
# (model, input side) checked with random weights in --accuracy
RANDOM_WEIGHTS = (
    ("binary_densenet28", 224),
    ("binary_densenet28", 64),
    ("binary_resnet_e18", 64),
    ("quicknet", 64),
    ("bireal_resnet18", 32),
    ("bitnet_cifar_d4_k2_n2_binary", 32),
    ("igp_densenet51", 32),
)
FASHION = Path("/usr/share/datasets/fashion-mnist")
_SMALL = dict(input_shape=(28, 28, 1), num_classes=10, classifier_activation=None)
# the two small models trained on Fashion-MNIST here and in openvino_int8_stem.py
SMALL_MODELS = {
    "BinaryDenseNet(2, 2)": lambda: zoo.BinaryDenseNet(
        layers_per_stage=(2, 2), reduction=(2,), **_SMALL
    ),
    "BinaryResNetE(1, 1)": lambda: zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(32, 64), **_SMALL
    ),
}


def host() -> str:
    flags = sorted(cpu_flags() & {"avx512f", "avx512_vpopcntdq", "avx512_bf16", "amx_bf16"})
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu_model()}, {os.cpu_count()} CPUs ({', '.join(flags)}); OpenVINO "
        f"{ov.__version__}; load average {load}"
    )


def reference_kernels() -> str:
    rows = [["family", "model", "ref nodes per inference", "kinds"]]
    for family, name in FAMILIES.items():
        model = zoo.create_model(name, input_shape=(32, 32, 3))
        refs = ovx.reference_kernels(ovx.compile(ovx.to_openvino(model)))
        kinds = Counter(f"{op.layer_type} {op.primitive_type} {op.output_layout}" for op in refs)
        rows.append(
            [family, name, str(len(refs)), "; ".join(f"{n}× {k}" for k, n in kinds.items())]
        )
        tf.keras.backend.clear_session()
    return format_table(rows)


def export_bdn28(directory: Path, pool_first: bool) -> Path:
    original = float_layers.batch_norm_after_max_pool
    if not pool_first:
        float_layers.batch_norm_after_max_pool = lambda layer, x: None
    try:
        model = zoo.create_model("binary_densenet28", input_shape=(224, 224, 3))
        path = directory / f"bdn28_{'after' if pool_first else 'before'}.xml"
        ovx.to_openvino(model, path)
    finally:
        float_layers.batch_norm_after_max_pool = original
        tf.keras.backend.clear_session()
    return path


def bdn28(runs: int, profile_runs: int) -> str:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {v: export_bdn28(Path(tmp), v == "after") for v in ("before", "after")}
        variants = [(v, p) for v in paths for p in ("f32", "bf16")]
        x = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype(np.float32)
        requests = {
            (v, p): ovx.compile(paths[v], threads=2, precision=p).create_infer_request()
            for v, p in variants
        }
        times = defaultdict(list)
        for _ in range(max(1, runs // 20)):
            for key, request in requests.items():
                for _ in range(3):
                    request.infer([x])
                for _ in range(20):
                    start = time.perf_counter()
                    request.infer([x])
                    times[key].append(1e3 * (time.perf_counter() - start))
        profiles = {}
        for v, p in variants:
            compiled = ovx.compile(paths[v], threads=2, profiling=True, precision=p)
            profiles[(v, p)] = ovx.profile(compiled, x, runs=profile_runs)
    rows = [["variant", "median ms", "p10 ms"]]
    for key, values in times.items():
        rows.append([" ".join(key), f"{np.median(values):.2f}", f"{np.percentile(values, 10):.2f}"])
    out.append(format_table(rows))
    types = sorted({t.node_type for ts in profiles.values() for t in ts})
    summaries = {k: ovx.summarize_profile(ts) for k, ts in profiles.items()}
    rows = [["node type (ms)", *(" ".join(k) for k in profiles)]]
    for node_type in sorted(types, key=lambda t: -summaries[variants[0]].get(t, 0.0)):
        rows.append([node_type, *(f"{summaries[k].get(node_type, 0.0):.3f}" for k in profiles)])
    rows.append(["all nodes", *(f"{sum(s.values()):.3f}" for s in summaries.values())])
    out.append(format_table(rows))
    kernels = defaultdict(float)
    for t in profiles[("after", "f32")]:
        kernels[(t.node_type, t.exec_type)] += t.ms
    rows = [["after f32: node type", "kernel", "ms"]]
    for (node_type, kernel), ms in sorted(kernels.items(), key=lambda kv: -kv[1]):
        rows.append([node_type, kernel, f"{ms:.3f}"])
    out.append(format_table(rows))
    out.append(concat_bandwidth(profiles))
    return "\n\n".join(out)


def concat_bandwidth(profiles) -> str:
    """What the NHWC ``Concat`` nodes (labelled ``ref``) move per millisecond: bytes read and
    written (the output's size, twice) over the node's median time, against numpy's
    single-threaded copy of the largest one's bytes."""
    model = zoo.create_model("binary_densenet28", input_shape=(224, 224, 3))
    elements = {
        layer.name: int(np.prod(layer.output_shape[1:]))
        for layer in model.layers
        if isinstance(layer, tf.keras.layers.Concatenate)
    }
    tf.keras.backend.clear_session()
    rows = [["after: Concat nodes", "precision", "kernel", "MB moved", "ms", "GB/s"]]
    for precision, size in (("f32", 4), ("bf16", 2)):
        concats = [t for t in profiles[("after", precision)] if t.name in elements]
        moved = sum(2 * size * elements[t.name] for t in concats) / 1e6
        ms = sum(t.ms for t in concats)
        kernels = ", ".join(sorted({t.exec_type for t in concats}))
        rows.append([f"all {len(concats)}", precision, kernels, f"{moved:.1f}", f"{ms:.3f}",
                     f"{moved / ms:.0f}"])  # fmt: skip
    largest = max(elements.values())
    source = np.random.default_rng(0).random(largest, dtype=np.float32)
    target = np.empty_like(source)
    times = []
    for _ in range(200):
        start = time.perf_counter()
        np.copyto(target, source)
        times.append(1e3 * (time.perf_counter() - start))
    moved = 2 * 4 * largest / 1e6
    ms = float(np.median(times))
    rows.append(["numpy copy, 1 thread", "f32", "memcpy", f"{moved:.1f}", f"{ms:.3f}",
                 f"{moved / ms:.0f}"])  # fmt: skip
    return format_table(rows) + (
        "\n\nMB moved: the concatenation's output read once and written once; numpy copy: the "
        "largest concatenation's bytes (56×56×448 floats), median of 200 copies."
    )


def fusion() -> str:
    rows = [["model (64 px)", "binarizations", "standalone FakeQuantize", "fused into"]]
    for name in (
        "binary_densenet28",
        "binary_resnet_e18",
        "birealnet",
        "bitnet_cifar_d4_k2_n2_binary",
    ):
        model = zoo.create_model(name, input_shape=(64, 64, 3))
        runtime = ovx.runtime_ops(ovx.compile(ovx.to_openvino(model)))
        alone = sum(op.layer_type == "FakeQuantize" for op in runtime)
        fused = Counter(
            op.layer_type
            for op in runtime
            if op.layer_type != "FakeQuantize"
            and any(n.endswith("/sign") for n in op.original_names)
        )
        into = ", ".join(f"{n}× {t}" for t, n in fused.items()) or "-"
        rows.append([name, str(len(ovx.binary_conv_layers(model))), str(alone), into])
        tf.keras.backend.clear_session()
    return format_table(rows)


def dense_block(form: str, side: int = 56, c0: int = 64, growth: int = 64, layers: int = 6):
    rng = np.random.default_rng(0)
    thresholds = [rng.normal(size=c0 + growth * k).astype(np.float32) for k in range(layers)]
    weights = [rng.random((growth, c0 + growth * k, 3, 3)) > 0.5 for k in range(layers)]

    def sign(x, t):
        t = t.reshape(1, -1, 1, 1)
        return ops.fake_quantize(x, t, t, np.zeros_like(t), np.ones_like(t), levels=2).output(0)

    def conv(x, w):
        w = u1_constant(w)
        return ops.binary_convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1], "xnor-popcount", 0.0)

    parameter = ops.parameter([1, c0, side, side], np.float32)
    pieces = [ops.relu(parameter).output(0)]
    x = pieces[0]
    for k in range(layers):
        if form == "chain":
            x = ops.concat([x, conv(sign(x, thresholds[k]), weights[k]).output(0)], 1).output(0)
            continue
        total, start = None, 0
        for piece in pieces:  # sum over input pieces: one conv per piece, no concatenation
            c = piece.get_partial_shape()[1].get_length()
            part = conv(
                sign(piece, thresholds[k][start : start + c]), weights[k][:, start : start + c]
            )
            total = part if total is None else ops.add(total, part)
            start += c
        pieces.append(total.output(0))
    out = x if form == "chain" else ops.concat(pieces, 1).output(0)
    return ov.Model([ops.result(out)], [parameter]), (1, c0, side, side)


def dense_block_forms(runs: int) -> str:
    rows = [["form", "median ms", "Concat ms", "BinaryConvolution ms", "FakeQuantize ms"]]
    outputs = {}
    for form in ("chain", "split"):
        model, shape = dense_block(form)
        x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
        request = ovx.compile(model, threads=2).create_infer_request()
        for _ in range(3):
            request.infer([x])
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            request.infer([x])
            times.append(1e3 * (time.perf_counter() - start))
        outputs[form] = np.array(request.get_output_tensor(0).data, copy=True)
        summary = ovx.summarize_profile(
            ovx.profile(ovx.compile(model, profiling=True), x, runs=runs)
        )
        rows.append(
            [form, f"{np.median(times):.3f}"]
            + [
                f"{summary.get(t, 0.0):.3f}"
                for t in ("Concat", "BinaryConvolution", "FakeQuantize")
            ]
        )
    same = np.array_equal(outputs["chain"], outputs["split"])
    return format_table(rows) + f"\n\nboth forms give the same output: {same}"


def train_small(build, x_train, y_train, epochs: int) -> tf.keras.Model:
    """One of ``SMALL_MODELS``, trained from seed 0 (Adam 1e-3, batch 128, logits)."""
    tf.keras.utils.set_random_seed(0)
    model = build()
    model.compile(
        tf.keras.optimizers.Adam(1e-3),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x_train, y_train, batch_size=128, epochs=epochs, verbose=0)
    return model


def _agreement(reference, outputs, labels=None) -> list[str]:
    rel = np.abs(outputs - reference).max(1) / np.abs(reference).max(1)
    cells = [
        f"{np.median(rel):.1e}",
        f"{np.percentile(rel, 99):.1e}",
        f"{rel.max():.1e}",
        f"{100 * np.mean(outputs.argmax(1) == reference.argmax(1)):.1f}",
    ]
    if labels is not None:
        cells.append(f"{100 * np.mean(outputs.argmax(1) == labels):.1f}")
    return cells


def accuracy() -> str:
    out = []
    rows = [
        ["random weights, 16 random inputs", "px", "precision", "median", "p99", "max", "top-1 %"]
    ]
    for name, side in RANDOM_WEIGHTS:
        model = zoo.create_model(name, input_shape=(side, side, 3), classifier_activation=None)
        randomize_weights(model, seed=0)
        x = random_inputs(model, 16, seed=1)
        reference = model.predict(x, batch_size=16, verbose=0)
        ov_model = ovx.to_openvino(model)
        for precision in ("f32", "bf16"):
            got = ovx.predict(ovx.compile(ov_model, precision=precision), x)
            rows.append([name, str(side), precision, *_agreement(reference, got)])
        tf.keras.backend.clear_session()
    out.append(format_table(rows))
    if not FASHION.is_dir():
        return out[0] + f"\n\n(no Fashion-MNIST at {FASHION}: trained models skipped)"
    x_train = read_idx(FASHION / "train-images-idx3-ubyte.gz")[:20000, :, :, None] / 127.5 - 1
    y_train = read_idx(FASHION / "train-labels-idx1-ubyte.gz")[:20000].astype(np.int64)
    x_test = (
        read_idx(FASHION / "t10k-images-idx3-ubyte.gz")[:1000, :, :, None] / 127.5 - 1
    ).astype(np.float32)
    y_test = read_idx(FASHION / "t10k-labels-idx1-ubyte.gz")[:1000].astype(np.int64)
    builds = SMALL_MODELS
    rows = [
        [
            "trained, Fashion-MNIST",
            "inputs",
            "precision",
            "median",
            "p99",
            "max",
            "top-1 %",
            "acc %",
        ]
    ]
    for name, build in builds.items():
        model = train_small(build, x_train.astype(np.float32), y_train, epochs=2)
        noise = random_inputs(model, 16, seed=1)
        references = {
            "1000 test images": model.predict(x_test, batch_size=100, verbose=0),
            "16 random": model.predict(noise, verbose=0),
        }
        keras_acc = 100 * np.mean(references["1000 test images"].argmax(1) == y_test)
        rows.append([name, "1000 test images", "Keras", "", "", "", "", f"{keras_acc:.1f}"])
        ov_model = ovx.to_openvino(model)
        for precision in ("f32", "bf16"):
            compiled = ovx.compile(ov_model, precision=precision)
            for inputs, x, labels in (
                ("1000 test images", x_test, y_test),
                ("16 random", noise, None),
            ):
                got = ovx.predict(compiled, x)
                cells = _agreement(references[inputs], got, labels)
                rows.append([name, inputs, precision, *cells, *([""] if labels is None else [])])
        tf.keras.backend.clear_session()
    out.append(format_table(rows))
    return "\n\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed inferences per variant")
    parser.add_argument("--profile-runs", type=int, default=50, help="profiled inferences")
    parser.add_argument("--accuracy", action="store_true", help="also bf16 against Keras")
    args = parser.parse_args()
    print(f"Host: {host()}\n")
    print("## 1. Reference kernels per inference (32×32 px)\n\n```")
    print(reference_kernels() + "\n```\n")
    print("## 2. BinaryDenseNet28, 224×224, batch 1, 2 threads\n\n```")
    print(bdn28(args.runs, args.profile_runs) + "\n```\n")
    print("## 3. Binarization fused\n\n```")
    print(fusion() + "\n```\n")
    print("## 4. Dense-block IR forms (56×56, 64 + 6×64 channels, f32)\n\n```")
    print(dense_block_forms(args.profile_runs) + "\n```\n")
    if args.accuracy:
        print("## 5. OpenVINO against Keras: max |diff| / max |logit| per input\n\n```")
        print(accuracy() + "\n```\n")
    print(f"Host at the end: {host()}")


if __name__ == "__main__":
    main()
