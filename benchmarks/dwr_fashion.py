"""DWR on Fashion-MNIST: ResNet-20 reshaped with s = 1.5 and 3, naive and with pruning, against the
original ResNet-20 trained with the same recipe and OPs budget.

Xue, Lu, Chang, Wei, Wei 2023, "Fast and Accurate Binary Neural Networks based on Depth-Width
Reshaping" (DWR), Table 4, claim on CIFAR-10 (binary ResNet-20 with Bi-Real shortcuts): original
85.2%, naive reshaping 85.4% (s = 1.5) and 85.8% (s = 3), DWR 85.5% and 86.0%, all at the
original's OPs or below. This script runs the same comparison with the real commands on the full
Fashion-MNIST training set (60,000 images, 28×28×1, no augmentation):

* the original: ``bnnzoo train --recipe dwr_cifar --model resnet20_bireal``, for ``--epochs`` and,
  as a control, for ``--epochs`` + ``--pretrain-epochs`` (as many epochs as DWR's networks see);
* naive reshaping: ``bnnzoo dwr --method naive --s S`` (N_b[√s w, d/s], trained from scratch);
* DWR: ``bnnzoo dwr --s S`` (N_b[s w, d/s] pre-trained ``--pretrain-epochs``, cluster-pruned to
  the original's OPs, then trained ``--epochs``).

Every run uses recipe ``dwr_cifar`` (SGD, momentum 0.9, lr 0.1, weight decay 1e-4, batch 128,
cosine decay) with the same epochs and seeds; DWR's pre-training epochs come on top, as in the
paper. It writes a markdown report (OPs, activations, parameters, test accuracy, wall-clock
training time, the machine) and an accuracy-versus-OPs plot. Finished runs are reused and
unfinished ones resumed, so a killed benchmark continues where it was.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/dwr_fashion.py --epochs 3 \\
        --pretrain-epochs 1 --seeds 0 1
    # smallest setting (a minute or two): a subset, one epoch each
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/dwr_fashion.py --epochs 1 \\
        --pretrain-epochs 1 --max-train 512 --out-root /tmp/dwr_smoke --markdown /tmp/d.md \\
        --png /tmp/d.png
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import sys
from pathlib import Path

from _runs import command_line, train_or_read  # benchmarks/_runs.py

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
DATASET = "fashion_mnist"
BACKBONE = "resnet20"
ORIGINAL = "resnet20_bireal"
PAPER_TABLE_4 = {  # CIFAR-10, Xue et al. 2023
    ("original", 1.0): 85.2,
    ("naive", 1.5): 85.4,
    ("naive", 3.0): 85.8,
    ("dwr", 1.5): 85.5,
    ("dwr", 3.0): 86.0,
}


def common_sets(args, seed: int) -> list[str]:
    sets = ["input_size=28", "augment=none", f"seed={seed}"]
    if args.max_train:
        sets.append(f"max_train_examples={args.max_train}")
    if args.max_test:
        sets.append(f"max_test_examples={args.max_test}")
    return sets + args.set


def runs(args) -> list[dict]:
    """Every run of every seed: method, s, epochs, seed, directory and the command line."""
    return [run for seed in args.seeds for run in runs_of_seed(args, seed)]


def runs_of_seed(args, seed: int) -> list[dict]:
    root = Path(args.out_root) / f"seed{seed}"
    sets = [x for item in common_sets(args, seed) for x in ("--set", item)]

    def original(epochs: int, name: str) -> dict:
        return {
            "method": "original", "s": 1.0, "epochs": epochs, "seed": seed, "dir": root / name,
            "argv": ["bnnzoo", "train", "--recipe", "dwr_cifar", "--model", ORIGINAL,
                     "--dataset", DATASET, "--epochs", str(epochs), *sets, "--quiet",
                     "--out", str(root / name)],
        }  # fmt: skip

    out = [original(args.epochs, "original")]
    if args.pretrain_epochs:
        # the control: DWR's networks see the data for pre-training + training epochs, so the
        # original also trains that many, to separate the reshaping from the extra epochs
        total = args.epochs + args.pretrain_epochs
        out.append(original(total, f"original_e{total}"))
    for method in ("naive", "dwr"):
        for s in args.s:
            run_dir = root / f"{method}_s{s:g}"
            argv = ["bnnzoo", "dwr", "--backbone", BACKBONE, "--s", f"{s:g}", "--method", method,
                    "--dataset", DATASET, "--pretrain-epochs", str(args.pretrain_epochs),
                    "--epochs", str(args.epochs), "--calibration", str(args.calibration),
                    "--no-original", *sets, "--quiet", "--out", str(run_dir)]  # fmt: skip
            epochs = args.epochs + (args.pretrain_epochs if method == "dwr" else 0)
            out.append({"method": method, "s": s, "epochs": epochs, "seed": seed, "dir": run_dir,
                        "argv": argv})  # fmt: skip
    return out


def measure(run: dict) -> dict:
    """OPs, activations, parameters, accuracy and training seconds of a finished run."""
    import bnnzoo  # noqa: F401  (Keras 2 before TensorFlow)

    # isort: split
    from bnnzoo.analysis import count_model
    from bnnzoo.training.loop import build_model
    from bnnzoo.training.rundir import RunDir

    run_dir: Path = run["dir"]
    if run["method"] == "original":
        rundir = RunDir(run_dir)
        config = rundir.read_config()
        pre = config["preprocessing"]
        model = build_model(config, input_shape=(pre["size"], pre["size"], pre["channels"]),
                            num_classes=config["num_classes"])  # fmt: skip
        counts = count_model(model)
        results = json.loads(rundir.results_path.read_text())
        return {"ops": counts.ops_bops64, "activations": counts.activations,
                "params": counts.params, "test_accuracy": results["test_accuracy"],
                "train_seconds": results["train_seconds"], "widths": "16/32/64, blocks 3/3/3",
                "metrics": rundir.read_metrics()}  # fmt: skip
    summary = json.loads((run_dir / "results.json").read_text())
    result = summary["result"]
    stages = result["spec"]["stages"]
    widths = "/".join(str(s[0]) for s in stages)
    blocks = "/".join(str(len(s) // 2) for s in stages)
    return {"ops": result["ops"], "activations": result["activations"],
            "params": result["params"], "test_accuracy": result["test_accuracy"],
            "train_seconds": result["train_seconds"],
            "widths": f"{widths}, blocks {blocks}, align {result['spec']['align']}",
            "budget": summary["budget"],
            "metrics": RunDir(run_dir / "train").read_metrics()}  # fmt: skip


def label(row: dict) -> str:
    if row["method"] == "original":
        return f"original {row['epochs']} ep"
    return f"{row['method']} s={row['s']:g}"


def by_network(rows: list[dict]) -> dict[str, list[dict]]:
    """The runs of each network (every seed), in the order of ``rows``."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(label(row), []).append(row)
    return groups


def plot(rows: list[dict], png: Path) -> None:
    """Mean test accuracy of each network over its seeds against its OPs; bars span the seeds."""
    from bnnzoo.training.rundir import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = {"original": "o", "naive": "s", "dwr": "^"}
    for name, group in by_network(rows).items():
        accuracies = [100 * r["test_accuracy"] for r in group]
        mean = statistics.mean(accuracies)
        spread = [[mean - min(accuracies)], [max(accuracies) - mean]]
        ops = statistics.mean(r["ops"] for r in group)  # pruning may differ between seeds
        ax.errorbar(ops / 1e6, mean, yerr=spread, marker=markers[group[0]["method"]],
                    markersize=8, capsize=3, linestyle="none", label=name)  # fmt: skip
    ax.set_xlabel("OPs (BOPs/64 + FLOPs), millions, at 28×28×1")
    ax.set_ylabel("Fashion-MNIST test accuracy (%)")
    seeds = sorted({r["seed"] for r in rows})
    ax.set_title("Binary ResNet-20: original vs depth-width reshaping"
                 + (f"\n(mean of seeds {seeds}; bars: lowest to highest)" if len(seeds) > 1
                    else ""))  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(plt, fig, png)


def seed_summary(rows: list[dict]) -> list[str]:
    """Markdown lines: each network's mean test accuracy over the seeds, its spread, and its
    difference from the first network's (the original); nothing for one seed."""
    if len({r["seed"] for r in rows}) < 2:
        return []
    groups = by_network(rows)
    reference = statistics.mean([100 * r["test_accuracy"] for r in next(iter(groups.values()))])
    lines = [
        "Over the seeds (means; accuracy's lowest to highest; difference from the first row's "
        "mean; a DWR network's widths, OPs and activations can differ between seeds, since each "
        "seed's pre-trained network is pruned on its own):",
        "",
        "| network | OPs (mean) | activations (mean) | seeds | test accuracy | range "
        "| vs first row | train s (mean) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, group in groups.items():
        accuracies = [100 * r["test_accuracy"] for r in group]
        lines.append(
            f"| {name} | {statistics.mean(r['ops'] for r in group):,.0f} "
            f"| {statistics.mean(r['activations'] for r in group):,.0f} | {len(group)} "
            f"| {statistics.mean(accuracies):.2f}% | {min(accuracies):.2f}-{max(accuracies):.2f} "
            f"| {statistics.mean(accuracies) - reference:+.2f} "
            f"| {statistics.mean(r['train_seconds'] for r in group):.0f} |"
        )
    return [*lines, ""]


def write_report(args, rows: list[dict], png: Path, command: str) -> str:
    import tensorflow as tf

    from bnnzoo._host import describe

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    train_images = args.max_train or "all 60,000"
    lines = [
        "# DWR on Fashion-MNIST: binary ResNet-20, original vs naive reshaping vs DWR",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {now}. Machine: {describe()}; tensorflow {tf.__version__}.",
        "",
        f"Setting: recipe `dwr_cifar` (SGD momentum 0.9, lr 0.1, weight decay 1e-4, batch 128, "
        f"cosine decay), {DATASET} with {train_images} training images and "
        f"{args.max_test or 'all 10,000'} test images at 28×28×1, no augmentation, seeds "
        f"{', '.join(map(str, args.seeds))}; {args.epochs} training epochs for every network, plus "
        f"{args.pretrain_epochs} pre-training epoch(s) of the wide network for DWR (and a "
        f"control: the original trained {args.epochs + args.pretrain_epochs} epochs, as many as "
        f"DWR's networks see); pruning "
        f"calibrates on {args.calibration} training images; OPs budget = the original's OPs.",
        "",
        "| network | method | s | widths | epochs seen | seed | OPs | activations | params "
        "| test accuracy | CIFAR-10 in Table 4 | train s | wall s |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        paper = PAPER_TABLE_4.get((row["method"], float(row["s"])))
        if row["method"] == "original" and row["epochs"] != args.epochs:
            paper = None  # the control run: Table 4 has no such row
        lines.append(
            f"| ResNet-20 | {row['method']} | {row['s']:g} | {row['widths']} | {row['epochs']} "
            f"| {row['seed']} "
            f"| {row['ops']:,.0f} | {row['activations']:,} | {row['params']:,} "
            f"| {100 * row['test_accuracy']:.2f}% | {f'{paper}%' if paper else '-'} "
            f"| {row['train_seconds']:.0f} | {row['timing'].get('wall_seconds', 0):.0f} |"
        )
    lines += [
        "",
        "OPs = binary MACs / 64 + float MACs and activations = conv output elements per image, "
        "both from `bnnzoo.analysis.count_model` at 28×28×1. 'train s' is the training time "
        "the runs record (pre-training included for DWR); 'wall s' the whole command "
        "(data loading, pruning search, evaluation).",
        "",
        *seed_summary(rows),
        f"![accuracy versus OPs]({png.name})",
        "",
        "## Test accuracy per epoch (final training)",
        "",
        "| epoch | " + " | ".join(f"{label(r)} seed {r['seed']}" for r in rows) + " |",
        "| ---: | " + " | ".join("---:" for _ in rows) + " |",
    ]
    for e in range(max(len(r["metrics"]) for r in rows)):
        cells = [f"{r['metrics'][e]['test_accuracy']:.4f}" if e < len(r["metrics"]) else ""
                 for r in rows]  # fmt: skip
        lines.append(f"| {e + 1} | " + " | ".join(cells) + " |")
    if args.notes:
        lines += ["", "## What it shows", "", Path(args.notes).read_text().strip()]
    lines += [
        "",
        "## The commands (one per run)",
        "",
        "```",
        *(shlex.join(r["argv"]) for r in rows),
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s", type=float, nargs="+", default=[1.5, 3.0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--calibration", type=int, default=256)
    parser.add_argument("--max-train", type=int, help="fewer training images (smoke tests)")
    parser.add_argument("--max-test", type=int)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out-root", default="/tmp/runs/dwr_fashion")
    parser.add_argument("--markdown", default=str(HERE / "dwr_fashion.md"))
    parser.add_argument("--png", default=str(HERE / "dwr_fashion.png"))
    parser.add_argument("--notes", help="markdown added as 'What it shows'")
    parser.add_argument("--report-only", action="store_true", help="no training; report runs")
    args = parser.parse_args(argv)
    command = command_line("dwr_fashion.py", argv)
    rows = []
    for run in runs(args):
        timing = train_or_read(run, args.report_only)
        rows.append({**run, **measure(run), "timing": timing})
    png = Path(args.png)
    plot(rows, png)
    text = write_report(args, rows, png, command)
    Path(args.markdown).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
