"""DWR's speed claim: is a reshaped backbone, with fewer activations at equal OPs, faster?

Xue, Lu, Chang, Wei, Wei 2023, "Fast and Accurate Binary Neural Networks based on Depth-Width
Reshaping" (DWR), §4.3: the reshaped network has about √s fewer activations at the same OPs,
and running time follows activations more than OPs, so it is faster (their ImageNet training
took 3.5 days against 4). This script times every released DWR preset against its original
backbone, at the default input of each (32×32 CIFAR, 224×224 ImageNet):

* batch 1 on every engine of ``bnnzoo.converters.bench`` (Keras, float TFLite, LCE, OpenVINO),
  the two models of a pair benchmarked one after the other with the same threads and runs;
* a larger batch (``--batch``) in Keras, the two models of a pair interleaved
  (``bench.time_interleaved``), one compiled ``tf.function`` each.

It writes a markdown report: per pair and engine the median milliseconds of original and DWR,
the ratio DWR / original, and the OPs and activations ratios of ``bnnzoo reproduce dwr``. Models
get random weights (speed does not depend on them).

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/dwr_speed.py --runs 30 --batch 32
    # smallest setting (a minute or two)
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/dwr_speed.py --pairs dwr_resnet20_s3 \\
        --runs 3 --warmup 1 --batch 4 --engines keras lce --markdown /tmp/s.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import bnnzoo  # noqa: E402,F401  (Keras 2 before TensorFlow)

# isort: split
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bnnzoo._host import describe  # noqa: E402
from bnnzoo.analysis import count_model  # noqa: E402
from bnnzoo.converters.bench import ENGINES, bench, time_interleaved  # noqa: E402
from bnnzoo.zoo import create_model  # noqa: E402
from bnnzoo.zoo.dwr import RELEASED  # noqa: E402

HERE = Path(__file__).resolve().parent


def batch_times(names: list[str], batch: int, runs: int, warmup: int) -> dict[str, float]:
    """Median milliseconds per batch of each model in Keras, the models interleaved."""
    calls = {}
    for name in names:
        model = create_model(name, classifier_activation=None)
        x = tf.constant(
            np.random.default_rng(0).normal(size=(batch, *model.input_shape[1:])), tf.float32
        )
        function = tf.function(lambda x, model=model: model(x, training=False))
        calls[name] = lambda f=function, x=x: f(x).numpy()
    times = time_interleaved(calls, runs=runs, warmup=warmup)
    return {name: statistics.median(t) for name, t in times.items()}


def costs(name: str) -> tuple[float, int]:
    counts = count_model(create_model(name))
    return counts.ops_bops64, counts.activations


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=list(RELEASED), choices=list(RELEASED))
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="the larger batch (Keras)")
    parser.add_argument("--markdown", default=str(HERE / "dwr_speed.md"))
    args = parser.parse_args(argv)
    given = argv if argv is not None else sys.argv[1:]
    command = "TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/dwr_speed.py " + shlex.join(given)
    header = ["pair", "engine", "batch", "original ms", "DWR ms", "DWR / original"]
    rows, notes = [], []
    for name in args.pairs:
        original, _ = RELEASED[name]
        ops = [costs(n) for n in (original, name)]
        notes.append(
            f"- `{name}` / `{original}`: OPs {ops[1][0] / ops[0][0]:.3f}×, activations "
            f"{ops[1][1] / ops[0][1]:.3f}× ({ops[1][1]:,} vs {ops[0][1]:,} per image)"
        )
        reports = {}
        for model in (original, name):
            print(f"bench {model} (batch 1: {', '.join(args.engines)})", file=sys.stderr)
            reports[model] = bench(model, threads=args.threads, runs=args.runs,
                                   warmup=args.warmup, engines=args.engines)  # fmt: skip
        for engine in args.engines:
            times = [reports[m].engines.get(engine) for m in (original, name)]
            if None in times:
                reason = "; ".join(reports[m].unavailable.get(engine, "") for m in reports)
                rows.append([name, engine, "1", "n/a", "n/a", reason[:60]])
                continue
            rows.append([name, engine, "1", f"{times[0].median_ms:.3f}",
                         f"{times[1].median_ms:.3f}",
                         f"{times[1].median_ms / times[0].median_ms:.3f}"])  # fmt: skip
        print(f"keras batch {args.batch}: {original} vs {name}", file=sys.stderr)
        medians = batch_times([original, name], args.batch, args.runs, args.warmup)
        ratio = medians[name] / medians[original]
        rows.append([name, "keras", str(args.batch), f"{medians[original]:.3f}",
                     f"{medians[name]:.3f}", f"{ratio:.3f}"])  # fmt: skip
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# DWR's speed claim: released DWR presets against their original backbones",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {now}. Machine: {describe()}. {args.threads} threads per engine, {args.runs} "
        f"timed runs after {args.warmup} warm-up runs; median milliseconds per batch.",
        "",
        "| " + " | ".join(header) + " |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "Cost ratios (DWR / original, `bnnzoo.analysis.count_model` at the default input, whole "
        "model):",
        "",
        *notes,
        "",
    ]
    text = "\n".join(lines)
    Path(args.markdown).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
