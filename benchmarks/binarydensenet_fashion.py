"""Bethge et al. 2019 (BinaryDenseNet): their four claims on accuracy, trained on Fashion-MNIST.

Bethge, Yang, Bornstein, Meinel 2019, "BinaryDenseNet: Developing an Architecture for Binary
Neural Networks" (also "Back to Simplicity: How to Train Accurate BNNs from Scratch?"), claim
from ImageNet and CIFAR-10 runs that, for a binary network trained from scratch:

1. scaling factors (XNOR-Net's) do not improve accuracy when a BatchNorm follows the binary
   convolution (Table 2);
2. full-precision downsampling convolutions are worth their bits: more accurate than binary
   ones (Tables 2 and 4);
3. splitting a block into more, narrower ones (more shortcut connections at about the same
   size) improves accuracy (Table 5);
4. a BinaryDenseNet is more accurate than a binary ResNetE of about the same size (Table 6).

This script trains, with the real ``bnnzoo train`` command and one budget for every arm (the
``quickstart`` recipe: Adam 1e-3, cosine decay, batch 128, no augmentation, 28×28, the epochs
given, ``precision=auto``), scaled-down versions of the paper's pairs: a three-stage binary
ResNetE (two blocks per stage, 32–64–128 filters: the quickstart model) with and without
scaling, with full-precision and with binary downsampling, and three-stage BinaryDenseNets with
the same stem (6, 12 and 24 "blocks", two per dense layer as the paper counts them, at growth
rates 64, 32 and 16 with binary downsampling and low reduction: Table 5's split of 8, 16 and 32
blocks, over three stages instead of four; 12 blocks with full-precision downsampling and high
reduction: Table 4's pair), on all of Fashion-MNIST, with two seeds each. It records test
accuracy per epoch and each network's size, MACs and OPs, and writes a markdown report whose
verdict per claim compares the difference of the seed means with the seed spread.

A run directory that holds ``results.json`` is reused; one that holds a config but no results
is resumed. ``--report-only`` rewrites the report from the runs.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/binarydensenet_fashion.py --epochs 3
    # smoke test: a few hundred images, one epoch, report elsewhere
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/binarydensenet_fashion.py --epochs 1 \\
        --seeds 0 --set max_train_examples=256 --set max_test_examples=128 \\
        --out-root /tmp/bdn_smoke --markdown /tmp/bdn_smoke/bdn.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from _runs import (
    add_run_arguments,
    command_line,
    finished,
    runs_section,
    timing_cell,
    train_or_read,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RECIPE = "quickstart"
DATASET = "fashion_mnist"
SHAPE = (28, 28, 1)
CLASSES = 10


@dataclass(frozen=True)
class Arm:
    """One network of the comparison: its label, the builder ``bnnzoo train --model`` names,
    and the builder's keyword arguments (the recipe's ``model_kwargs``)."""

    key: str
    label: str
    model: str
    kwargs: dict


RESNET_E = {"blocks_per_stage": [2, 2, 2], "filters": [32, 64, 128]}
LOW = {"downsampling": "binary", "reduction": [1.4, 1.4]}  # Tables 4 and 5: "binary, low"
HIGH = {"downsampling": "full_precision", "reduction": [2, 2]}  # Table 4: "FP, high"


def _densenet(key: str, per_stage: int, growth: int, mode: dict) -> Arm:
    kind = "binary ds, low reduction" if mode is LOW else "FP ds, high reduction"
    label = f"BinaryDenseNet {3 * per_stage * 2} blocks, k={growth}, {kind}"
    kwargs = {"layers_per_stage": [per_stage] * 3, "growth_rate": growth, **mode}
    return Arm(key, label, "binary_densenet", kwargs)


ARMS = {
    arm.key: arm
    for arm in (
        Arm("e", "ResNetE, FP ds", "binary_resnet_e", RESNET_E),
        Arm(
            "e_scaling", "ResNetE, FP ds, scaling", "binary_resnet_e", {**RESNET_E, "scaling": True}
        ),  # fmt: skip
        Arm(
            "e_binary_ds",
            "ResNetE, binary ds",
            "binary_resnet_e",
            {**RESNET_E, "downsampling": "binary"},
        ),  # fmt: skip
        _densenet("dn_1x64_low", 1, 64, LOW),
        _densenet("dn_2x32_low", 2, 32, LOW),
        _densenet("dn_4x16_low", 4, 16, LOW),
        _densenet("dn_2x32_high", 2, 32, HIGH),
    )
}


@dataclass(frozen=True)
class Claim:
    """A claim as a comparison: ``better`` is expected to beat ``worse`` (or, with
    ``expect="no gain"``, not to beat it)."""

    text: str
    table: str
    better: str
    worse: str
    expect: str = "higher"


CLAIMS = (
    Claim("scaling factors do not improve a ResNetE trained from scratch", "Table 2",
          "e_scaling", "e", expect="no gain"),
    Claim("full-precision downsampling beats binary downsampling (ResNetE)", "Table 2",
          "e", "e_binary_ds"),
    Claim("full-precision downsampling with high reduction beats binary with low "
          "(BinaryDenseNet, 12 blocks)", "Table 4", "dn_2x32_high", "dn_2x32_low"),
    Claim("splitting blocks helps: 12 blocks of k=32 beat 6 of k=64", "Table 5",
          "dn_2x32_low", "dn_1x64_low"),
    Claim("splitting blocks helps: 24 blocks of k=16 beat 12 of k=32", "Table 5",
          "dn_4x16_low", "dn_2x32_low"),
    Claim("a BinaryDenseNet beats a ResNetE of about the same size", "Table 6",
          "dn_2x32_high", "e"),
)  # fmt: skip

# sizes further apart than this are not "about the same size" (the verdict says so)
SAME_SIZE = 0.25

CAVEATS = """\
What the numbers can and cannot say:

* Two seeds per network: a difference of the seed means smaller than the larger seed-to-seed
  spread of the two networks is reported as "not distinguishable", not as a result.
* The paper trains ImageNet networks for 40 or more epochs and CIFAR-10 networks for 120; these
  are 28×28 networks trained for a few epochs on a 2-core CPU, with one budget for every arm:
  a small-scale check of the direction of each effect, not of the paper's accuracies.
* "About the same size" holds only roughly at this scale: transitions round to multiples of 32
  channels, and the 64-channel stem and the full-precision downsampling convolutions are a
  larger share of a small network. The size, MAC and OPs columns say how far each pair is
  apart; read a verdict together with them.
* Sizes and OPs as the paper counts them: 32 bits per full-precision and 1 bit per binary
  weight (bnnzoo's ``size_bytes``), float MACs + binary MACs / 32 (§5.2; ``ops_bdn``)."""


def build(arm: Arm):
    """The arm's network at 28×28×1 with 10 classes, as ``bnnzoo train`` builds it."""
    import bnnzoo  # noqa: F401  (Keras 2 before TensorFlow)
    from bnnzoo.training.loop import BUILDERS

    return BUILDERS[arm.model](**arm.kwargs, input_shape=SHAPE, num_classes=CLASSES)


def figures(arm: Arm) -> dict:
    """Size, parameters, MACs and OPs of an arm's network."""
    from bnnzoo.analysis import count_model

    counts = count_model(build(arm))
    return {
        "params": counts.params,
        "size_kib": counts.size_bytes / 1024,
        "binary_macs": counts.binary_macs,
        "float_macs": counts.float_macs,
        "ops": counts.ops_bdn,
    }


def runs(args) -> list[dict]:
    """One entry per (arm, seed): directory and command line."""
    out = []
    for key in args.arms:
        arm = ARMS[key]
        for seed in args.seeds:
            run_dir = Path(args.out_root) / f"{key}_s{seed}_e{args.epochs}"
            kwargs = json.dumps(arm.kwargs, separators=(",", ":"))
            argv = ["bnnzoo", "train", "--recipe", RECIPE, "--model", arm.model,
                    "--dataset", DATASET, "--epochs", str(args.epochs),
                    "--set", f"model_kwargs={kwargs}", "--set", f"seed={seed}"]  # fmt: skip
            for item in args.set:
                argv += ["--set", item]
            argv += ["--quiet", "--out", str(run_dir)]
            out.append({"key": key, "seed": seed, "dir": run_dir, "argv": argv})
    return out


def accuracies(rows: list[dict]) -> dict[str, list[float]]:
    """Final test accuracy of every seed, per arm."""
    acc: dict[str, list[float]] = {}
    for r in rows:
        acc.setdefault(r["key"], []).append(r["results"]["test_accuracy"])
    return acc


def verdict(claim: Claim, acc: dict[str, list[float]]) -> tuple[float, float, str]:
    """Difference of the seed means (better − worse), the larger seed spread of the two arms,
    and whether the claim holds here."""
    diff = statistics.mean(acc[claim.better]) - statistics.mean(acc[claim.worse])
    spread = max(max(acc[k]) - min(acc[k]) for k in (claim.better, claim.worse))
    if claim.expect == "no gain":
        word = "contradicted: higher" if diff > spread else "holds"
    elif diff > spread:
        word = "holds"
    elif diff < -spread:
        word = "contradicted: lower"
    else:
        word = "not distinguishable"
    return diff, spread, word


def claim_rows(rows: list[dict], figs: dict) -> list[str]:
    acc = accuracies(rows)
    out = [
        "| claim | paper | arm | against | accuracy (mean of seeds) | difference | seed spread "
        "| size | OPs | verdict here |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for claim in CLAIMS:
        if claim.better not in acc or claim.worse not in acc:
            continue
        diff, spread, word = verdict(claim, acc)
        a, b = figs[claim.better], figs[claim.worse]
        mean_a, mean_b = statistics.mean(acc[claim.better]), statistics.mean(acc[claim.worse])
        if abs(a["size_kib"] / b["size_kib"] - 1) > SAME_SIZE:
            word += ", not at the same size"
        out.append(
            f"| {claim.text} | {claim.table} | {ARMS[claim.better].label} "
            f"| {ARMS[claim.worse].label} "
            f"| {mean_a:.2%} vs {mean_b:.2%} "
            f"| {diff * 100:+.2f} pts | {spread * 100:.2f} pts "
            f"| {a['size_kib'] / b['size_kib'] - 1:+.0%} | {a['ops'] / b['ops'] - 1:+.0%} "
            f"| {word} |"
        )
    return out


def network_rows(args, figs: dict) -> list[str]:
    out = [
        "| arm | builder and arguments | params | size (KiB) | binary MACs | float MACs | OPs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in args.arms:
        arm, f = ARMS[key], figs[key]
        kwargs = ", ".join(f"{k}={v}" for k, v in arm.kwargs.items())
        out.append(
            f"| {arm.label} | `{arm.model}({kwargs})` | {f['params']:,} | {f['size_kib']:.1f} "
            f"| {f['binary_macs'] / 1e6:.1f}M | {f['float_macs'] / 1e6:.2f}M "
            f"| {f['ops'] / 1e6:.2f}M |"
        )
    return out


def run_rows(rows: list[dict]) -> list[str]:
    out = [
        "| arm | seed | test accuracy | accuracy per epoch | train s | wall s (CPU s, load) |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        per_epoch = ", ".join(f"{m['test_accuracy']:.4f}" for m in r["metrics"])
        out.append(
            f"| {ARMS[r['key']].label} | {r['seed']} | {r['results']['test_accuracy']:.4f} "
            f"| {per_epoch} | {r['results']['train_seconds']:.0f} | {timing_cell(r['timing'])} |"
        )
    return out


def write_report(args, rows: list[dict], figs: dict, command: str) -> str:
    import tensorflow as tf

    from bnnzoo._host import describe

    config = rows[0]["config"]
    opt, sched = config["optimizer"], config["schedule"]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    train_images = config.get("max_train_examples") or "all"
    test_images = config.get("max_test_examples") or "all"
    out = [
        "# Bethge et al. 2019 (BinaryDenseNet): the accuracy claims on Fashion-MNIST",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {now}. Host: {describe()}; {platform.machine()}, Python "
        f"{platform.python_version()}, tensorflow {tf.__version__}. The timing column gives the "
        "load average before and after each run (about 2 means the run had the machine alone); "
        "CPU seconds are the training process's own.",
        "",
        f"Setting (identical for every run): recipe `{RECIPE}` with the model, its arguments, "
        f"the epochs and the seed overridden; {DATASET}, {train_images} "
        f"training images, {test_images} test images, 28×28×1, no "
        f"augmentation; {args.epochs} epoch(s), batch {config['batch_size']}, {opt['name']} lr "
        f"{opt['lr']}, {sched['name']} schedule, precision {config['precision']}.",
        "",
        "## The claims",
        "",
        *claim_rows(rows, figs),
        "",
        "Size and OPs: the arm's relative to the one it is compared against.",
        "",
        "## The networks (28×28×1, 10 classes)",
        "",
        *network_rows(args, figs),
        *runs_section(run_rows(rows), CAVEATS, args.notes, [r["argv"] for r in rows]),
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    add_run_arguments(parser, "binarydensenet_fashion")
    args = parser.parse_args(argv)
    command = command_line("binarydensenet_fashion.py", argv)

    figs = {key: figures(ARMS[key]) for key in args.arms}
    rows = [finished(run, train_or_read(run, args.report_only)) for run in runs(args)]
    text = write_report(args, rows, figs, command)
    from bnnzoo._io import write_atomically

    write_atomically(args.markdown, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
