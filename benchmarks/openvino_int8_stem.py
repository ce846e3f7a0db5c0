"""The stem in int8 on OpenVINO (``to_openvino(model, int8_stem=images)``): what it costs in
agreement with Keras and in accuracy on real images, and what it saves in time.

Sections (markdown on stdout):

1. **Accuracy.** A BinaryDenseNet and a BinaryResNetE (small, 28×28×1) trained for 3 epochs
   on the 60000 Fashion-MNIST training images (``/usr/share/datasets/fashion-mnist``), the stem
   calibrated on 300 training images, run on the 10000 test images: per input max |OpenVINO -
   Keras| / max |Keras logit| (median, 99th percentile, max), top-1 agreement with Keras, test
   accuracy; float layers in f32 and in bf16, with and without the int8 stem.
2. **Speed.** BinaryDenseNet28 and BinaryResNetE18 at 224×224, batch 1, 2 threads: the whole
   model on OpenVINO in f32 and bf16 with and without the int8 stem, and on float TFLite
   (engines taking turns in blocks, median of all timed runs), and the stem convolution's
   own time and kernel from OpenVINO's profile. These models have random weights
   (``verify.randomize_weights``) and the stem is calibrated on 300 random inputs: speed does
   not depend on either.

Command (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/openvino_int8_stem.py
"""

from __future__ import annotations

import argparse
import os
import time

import bnnzoo  # noqa: F401  (selects Keras 2; before TensorFlow)

# isort: split
import numpy as np
import openvino as ov
import tensorflow as tf

# the same two models, trained the same way
from openvino_kernels import FASHION, SMALL_MODELS, train_small

from bnnzoo import zoo
from bnnzoo._host import describe
from bnnzoo._text import format_table
from bnnzoo.converters import openvino as ovx
from bnnzoo.converters.bench.engines import build_engine
from bnnzoo.converters.verify import random_inputs, randomize_weights
from bnnzoo.training.data import read_idx

CALIBRATION = 300


def host() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{describe()}; OpenVINO {ov.get_version()}; load average {load}"


def _fashion(split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(FASHION / f"{prefix}-images-idx3-ubyte.gz")[:, :, :, None]
    labels = read_idx(FASHION / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return (images / 127.5 - 1).astype(np.float32), labels


def _agreement(reference: np.ndarray, outputs: np.ndarray, labels: np.ndarray) -> list[str]:
    rel = np.abs(outputs - reference).max(1) / np.abs(reference).max(1)
    return [
        f"{100 * np.median(rel):.1f}",
        f"{100 * np.percentile(rel, 99):.1f}",
        f"{100 * rel.max():.1f}",
        f"{100 * np.mean(outputs.argmax(1) == reference.argmax(1)):.1f}",
        f"{100 * np.mean(outputs.argmax(1) == labels):.2f}",
    ]


def accuracy(epochs: int) -> str:
    if not FASHION.is_dir():
        return f"(no Fashion-MNIST at {FASHION}: skipped)"
    x_train, y_train = _fashion("train")
    x_test, y_test = _fashion("test")
    head = ["model (10000 test images)", "engine", "median %", "p99 %", "max %", "top-1 %", "acc %"]
    rows = [head]
    for name, build in SMALL_MODELS.items():
        model = train_small(build, x_train, y_train, epochs)
        reference = model.predict(x_test, batch_size=500, verbose=0)
        keras_acc = 100 * np.mean(reference.argmax(1) == y_test)
        rows.append([name, "Keras", "", "", "", "", f"{keras_acc:.2f}"])
        variants = {
            "": ovx.to_openvino(model),
            " + int8 stem": ovx.to_openvino(model, int8_stem=x_train[:CALIBRATION]),
        }
        for precision in ("f32", "bf16"):
            for label, ov_model in variants.items():
                got = ovx.predict(ovx.compile(ov_model, precision=precision), x_test)
                rows.append(
                    ["", f"OpenVINO {precision}{label}", *_agreement(reference, got, y_test)]
                )
        tf.keras.backend.clear_session()
    return format_table(rows) + (
        "\n\nmedian, p99, max: per test image, max |OpenVINO - Keras| / max |Keras logit|; "
        "top-1: agreement with Keras; acc: test accuracy."
    )


def _runner(request):
    def run(x: np.ndarray) -> None:
        request.infer([x])

    return run


def speed(rounds: int, block: int) -> str:
    head = ["model", "engine", "median ms", "vs OpenVINO f32", "float TFLite / it", "stem ms",
            "stem kernel"]  # fmt: skip
    rows = [head]
    for name in ("binary_densenet28", "binary_resnet_e18"):
        model = zoo.create_model(name, input_shape=(224, 224, 3))
        randomize_weights(model, seed=0)
        calibration = random_inputs(model, CALIBRATION, seed=2)
        x = random_inputs(model, 1, seed=1)
        models = {
            "": ovx.to_openvino(model),
            " + int8 stem": ovx.to_openvino(model, int8_stem=calibration),
        }
        variants = {
            f"{precision}{label}": (ov_model, precision)
            for precision in ("f32", "bf16")
            for label, ov_model in models.items()
        }
        runners = {
            key: _runner(ovx.compile(m, threads=2, precision=p).create_infer_request())
            for key, (m, p) in variants.items()
        }
        runners["float TFLite"] = build_engine("tflite", model, threads=2).run
        times: dict[str, list[float]] = {key: [] for key in runners}
        for _ in range(rounds):  # variants take turns in blocks
            for key, run in runners.items():
                for _ in range(3):
                    run(x)
                for _ in range(block):
                    start = time.perf_counter()
                    run(x)
                    times[key].append(1e3 * (time.perf_counter() - start))
        base = np.median(times["f32"])
        tflite = np.median(times["float TFLite"])
        rows.append([name, "float TFLite (XNNPACK)", f"{tflite:.3f}", f"{tflite / base:.3f}", "",
                     "", ""])  # fmt: skip
        for key, (m, p) in variants.items():
            prof = ovx.profile(ovx.compile(m, profiling=True, precision=p), x, runs=50)
            stem = max(
                (t for t in prof if t.node_type == "Convolution" and t.name.startswith("stem")),
                key=lambda t: t.ms,
            )
            median = np.median(times[key])
            rows.append(
                ["", f"OpenVINO {key}", f"{median:.3f}",
                 f"{median / base:.3f}", f"{tflite / median:.1f}x", f"{stem.ms:.3f}",
                 stem.exec_type]
            )  # fmt: skip
        tf.keras.backend.clear_session()
    return format_table(rows) + (
        f"\n\nmedian of {rounds} blocks of {block} runs per engine (3 untimed runs before "
        f"each block), the engines taking turns (float TFLite as bench runs it, XNNPACK, 2 "
        f"threads); stem ms: median of 50 profiled runs."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (section 1)")
    parser.add_argument("--rounds", type=int, default=6, help="turns per variant (section 2)")
    parser.add_argument("--block", type=int, default=50, help="timed runs per turn (section 2)")
    args = parser.parse_args()
    print(f"Host: {host()}\n")
    print("## 1. Accuracy: Fashion-MNIST, trained, 10000 test images\n\n```")
    print(accuracy(args.epochs) + "\n```\n")
    print("## 2. Speed: 224×224, batch 1, 2 threads\n\n```")
    print(speed(args.rounds, args.block) + "\n```\n")
    print(f"Host at the end: {host()}")


if __name__ == "__main__":
    main()
