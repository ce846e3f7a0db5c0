"""Where a real training run's time goes: the bare train step against ``bnnzoo.training.train``.

On the ``resnet_e_fashion_mnist`` recipe or another (``--recipe``; its model, batch and
precision), this measures in one process:

* the **step rate**: images/s of the compiled train step alone, on batches already in memory
  (no input pipeline, no evaluation, no files);
* the **run rate**: images/s of a real ``train(...)`` run on Fashion-MNIST, shortened to
  ``--steps`` steps per epoch and ``--epochs`` epochs, with the test set shrunk in the same
  proportion as the training set (the full recipe evaluates 10,000 test images per 60,000
  training images), so evaluation weighs what it weighs in the full run. "steady" is the last
  epoch (from the end of the previous epoch to the end of this one: input, steps, evaluation,
  metrics, checkpoint); "whole" is the whole ``train`` call, setup and final save included;

and prints them side by side with their ratio, per wall-clock second and per CPU second of the
process (on a machine shared with other work the CPU-second rates are the steadier ones), the
seconds of each phase of the run (input wait, steps, evaluation, checkpoints, records) and the
machine. With ``--profile N`` it prints
the N most expensive functions of the run (cProfile, cumulative time).

Run:  PYTHONPATH=. .venv/bin/python benchmarks/train_end_to_end.py [--steps 120] [--epochs 2]
      [--precision auto|float32|mixed_bfloat16] [--profile 25]

``--precision auto`` (the default) first measures as ``train`` does for the recipe's
``precision=auto`` (``measure_rates``) and prints both rates and the choice.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

import bnnzoo  # noqa: F401  (Keras 2 before TensorFlow)

# isort: split
import numpy as np
import tensorflow as tf

from bnnzoo._host import describe
from bnnzoo.training import recipes, train
from bnnzoo.training.loop import build_model
from bnnzoo.training.optimizers import make_optimizer
from bnnzoo.training.precision import (
    detect_hardware,
    dtype_policy,
    fastest,
    has_bfloat16,
    measure_rates,
)
from bnnzoo.training.rundir import RunDir
from bnnzoo.training.steps import make_train_step

RECIPE = "resnet_e_fashion_mnist"
TEST_PER_TRAIN = 10_000 / 60_000  # Fashion-MNIST's test images per training image


def step_rate(config: dict, precision: str, steps: int, warmup: int = 5) -> tuple[float, float]:
    """Images per second of the recipe's train step alone, on random batches already in
    memory: (per wall-clock second, per CPU second of the process)."""
    batch = int(config["batch_size"])
    size = int(config["input_size"])
    with dtype_policy(precision):
        model = build_model(config, input_shape=(size, size, 1), num_classes=10)
    optimizer = make_optimizer(config, steps)
    step = make_train_step(model, optimizer, global_batch=batch)
    rng = np.random.default_rng(0)
    batches = [
        (
            tf.constant(rng.normal(size=(batch, size, size, 1)).astype("float32")),
            tf.constant(rng.integers(0, 10, size=batch)),
        )
        for _ in range(4)
    ]
    for i in range(warmup):
        float(step(*batches[i % 4])[0])
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(steps):
        float(step(*batches[i % 4])[0])  # the loop reads the loss of every step too
    images = steps * batch
    return images / (time.perf_counter() - start), images / (time.process_time() - cpu)


def run_rate(config: dict, out: Path, profile: int = 0) -> dict:
    """Images/s of a real run of ``config`` into ``out``: the last epoch's and the whole call's,
    with the seconds of each phase."""
    ends = []
    append = RunDir.append_metrics

    def stamped(self, row):  # the end of every epoch (after its evaluation)
        ends.append((time.perf_counter(), time.process_time()))
        return append(self, row)

    RunDir.append_metrics = stamped
    profiler = cProfile.Profile() if profile else None
    try:
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        result = train(config, out, verbose=1)
        if profiler:
            profiler.disable()
        whole = time.perf_counter() - start
    finally:
        RunDir.append_metrics = append
    batch = int(config["batch_size"])
    per_epoch = int(config["max_train_examples"]) // batch * batch
    epochs = int(config["epochs"])
    first = ends[-2] if len(ends) > 1 else (start, 0.0)
    report = {
        "steady": per_epoch / (ends[-1][0] - first[0]),
        "steady_cpu": per_epoch / (ends[-1][1] - first[1]),
        "whole": per_epoch * epochs / whole,
        "phases": getattr(result, "phases", {}),  # absent before bnnzoo recorded phases
        "seconds": whole,
        "accuracy": result.test_accuracy,
    }
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(profile)
        report["profile"] = text.getvalue()
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=RECIPE, help="a Fashion-MNIST recipe")
    parser.add_argument("--steps", type=int, default=120, help="train steps per epoch")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--precision", default="auto",
                        help="auto: mixed_bfloat16 on bf16 hardware, else float32")  # fmt: skip
    parser.add_argument("--step-steps", type=int, default=40, help="timed bare steps")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N most expensive functions of the run")  # fmt: skip
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="more overrides of the recipe, as for bnnzoo train")  # fmt: skip
    args = parser.parse_args()
    print(describe(), flush=True)
    base = recipes.resolve(args.recipe)
    precision = args.precision
    if precision == "auto" and has_bfloat16(*detect_hardware()):  # as train() decides it
        size = int(base["input_size"])
        rates = measure_rates(
            lambda: build_model(base, input_shape=(size, size, 1), num_classes=10), base,
            (int(base["batch_size"]), size, size, 1), 10,
        )  # fmt: skip
        precision = fastest(rates)
        measured = ", ".join(f"{name} {rate:.0f} images/s" for name, rate in rates.items())
        print(f"precision=auto: {measured}: {precision}")
    elif precision == "auto":
        precision = "float32"
    train_examples = args.steps * int(base["batch_size"])
    config = recipes.resolve(
        args.recipe,
        [
            f"precision={precision}",
            f"max_train_examples={train_examples}",
            f"max_test_examples={round(train_examples * TEST_PER_TRAIN)}",
            *args.set,
        ],
        epochs=args.epochs,
    )
    print(f"TensorFlow {tf.__version__}; recipe {args.recipe}, batch {config['batch_size']}, "
          f"{precision}; run: {args.epochs} epochs of {args.steps} steps, "
          f"{config['max_test_examples']} test images per epoch", flush=True)  # fmt: skip
    # the step first: the run turns TensorFlow's op determinism on for the rest of the process
    step, step_cpu = step_rate(config, precision, args.step_steps)
    tf.keras.backend.clear_session()
    with tempfile.TemporaryDirectory(prefix="bnnzoo-e2e-") as tmp:
        run = run_rate(config, Path(tmp) / "run", args.profile)
    print()
    print(f"{'':<16} {'step':>8} {'run steady':>11} {'run whole':>10} {'steady/step':>12} "
          f"{'whole/step':>11}")  # fmt: skip
    print(f"{'images/s':<16} {step:>8.1f} {run['steady']:>11.1f} {run['whole']:>10.1f} "
          f"{run['steady'] / step:>12.2f} {run['whole'] / step:>11.2f}")  # fmt: skip
    print(f"{'images/CPU-s':<16} {step_cpu:>8.1f} {run['steady_cpu']:>11.1f} {'':>10} "
          f"{run['steady_cpu'] / step_cpu:>12.2f}")  # fmt: skip
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(run["phases"].items()))
    print(f"run: {run['seconds']:.1f} s in train(); phases: {phases}")
    if "profile" in run:
        print(run["profile"])


if __name__ == "__main__":
    main()
