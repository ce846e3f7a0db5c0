"""What ``precision=auto`` chooses on this machine, and the two rates it chooses from.

``bnnzoo train`` with ``precision=auto`` on bfloat16 hardware (AVX512_BF16, AMX, or a GPU of
compute capability 8 or more) times a few train steps of the run's own model and batch in
float32 and in mixed_bfloat16 (``bnnzoo.training.precision.measure_rates``, the precisions
taking turns, best of each kept) and trains in the faster. This script calls the same function
for BinaryDenseNet28 and BinaryResNetE18 (their ImageNet recipes' optimizer and clip value, at
``--size`` pixels and ``--batch``, 10 classes) and for the network of the Fashion-MNIST recipe
(28×28×1, batch 128), and prints both rates, their ratio and the choice, with the machine.
Without bf16 hardware, ``auto`` is float32 and nothing is measured; the script says so.

Run:  .venv/bin/python benchmarks/precision_auto.py [--size 64] [--batch 32] [--steps 8]
"""

from __future__ import annotations

import argparse

import bnnzoo  # noqa: F401  (Keras 2 before TensorFlow)

# isort: split
from bnnzoo._host import describe
from bnnzoo.training import recipes
from bnnzoo.training.loop import build_model
from bnnzoo.training.precision import detect_hardware, fastest, has_bfloat16, measure_rates


def cases(size: int, batch: int) -> list[tuple[str, dict, tuple[int, ...]]]:
    """(label, config, batch shape) of each model timed."""
    fashion = recipes.resolve("resnet_e_fashion_mnist")
    return [
        (f"BinaryDenseNet28, {size} px, batch {batch}",
         recipes.resolve("binary_densenet_imagenet"), (batch, size, size, 3)),
        (f"BinaryResNetE18, {size} px, batch {batch}",
         recipes.resolve("resnet_e18_imagenet"), (batch, size, size, 3)),
        ("resnet_e_fashion_mnist recipe, 28 px, batch 128",
         fashion, (fashion["batch_size"], 28, 28, 1)),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the precisions in turn")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    gpus, flags = detect_hardware()
    if not has_bfloat16(gpus, flags):
        print("no bfloat16 hardware: precision=auto trains in float32 and measures nothing")
        return
    print(f"measure_rates: {args.rounds} rounds of {args.steps} train steps per precision, "
          f"taking turns, best kept (train measures 2 rounds of 4)\n")  # fmt: skip
    print("| model | float32 images/s | mixed_bfloat16 images/s | bf16 / f32 | auto chooses |")
    print("|---|---:|---:|---:|---|")
    for label, config, shape in cases(args.size, args.batch):
        rates = measure_rates(
            lambda config=config, shape=shape: build_model(
                config, input_shape=shape[1:], num_classes=10
            ),
            config, shape, 10, steps=args.steps, rounds=args.rounds,
        )  # fmt: skip
        f32, bf16 = rates["float32"], rates["mixed_bfloat16"]
        print(f"| {label} | {f32:.1f} | {bf16:.1f} | {bf16 / f32:.2f} | {fastest(rates)} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
