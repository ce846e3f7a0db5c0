"""A scaled-down IGP-ResNet against the Bi-Real ResNet of the same OPs, trained on Fashion-MNIST.

Zhu, Hofstee, Lee, Al-Ars 2022, "Improving Gradient Paths for Binary Convolutional Neural
Networks" (IGP), claims that an IGP-ResNet, whose binary convolutions are narrower and each sit
on their own shortcut-joined path, has better gradient paths (lower N_2nd, N_3rd) than the
Bi-Real ResNet of the same complexity, and so trains to a lower error. This script trains, with
the real ``bnnzoo train`` command and the same budget (recipe, optimizer, schedule, epochs,
batch, data, seeds), an IGP-ResNet (registered ``igp_resnet21`` or ``igp_resnet37`` at a
smaller base width) and the Bi-Real ResNet18 whose base width gives the OPs closest to it
(OPs = binary MACs / 64 + float MACs at 28×28×1, as the paper counts; ``--match binary-macs``:
the binary MACs closest to it instead), on the full Fashion-MNIST training set, with two seeds
each (``--seeds``). It records test accuracy per epoch, the first convolution's
mean gradient L2 norm per epoch (``monitor.first_conv_gradient``), the OPs and the gradient-path
figures of both networks (``bnnzoo.analysis.gradient_paths``), and writes a markdown report and
a plot.

Every run is ``bnnzoo train --recipe resnet_e_fashion_mnist`` (Adam 1e-3, cosine decay, batch
128, no augmentation, 28×28) with the model, its width, the epochs and the seed overridden. A run
directory that holds ``results.json`` is reused; one that holds a config but no results is
resumed. ``--report-only`` rewrites the report from the runs.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/igp_fashion.py --width 8 --epochs 5
    # the same IGP runs (reused) against the Bi-Real ResNet of the same binary MACs
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/igp_fashion.py --width 8 --epochs 5 \\
        --match binary-macs --markdown benchmarks/igp_fashion_binary_macs.md \\
        --png benchmarks/igp_fashion_binary_macs.png
    # trained until the accuracy has stopped rising: 12 epochs, three seeds
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/igp_fashion.py --width 8 --epochs 12 \\
        --seeds 0 1 2 --markdown benchmarks/igp_fashion_long.md \\
        --png benchmarks/igp_fashion_long.png
    # smoke test: a few hundred images, one epoch, report elsewhere
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/igp_fashion.py --width 4 --epochs 1 \\
        --set max_train_examples=256 --set max_test_examples=128 --out-root /tmp/igp_smoke \\
        --markdown /tmp/igp_smoke/igp.md --png /tmp/igp_smoke/igp.png
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import statistics
import sys
from pathlib import Path

from _runs import add_run_arguments, command_line, finished, report_tail, timing_cell, train_or_read

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
RECIPE = "resnet_e_fashion_mnist"
DATASET = "fashion_mnist"
SHAPE = (28, 28, 1)
CLASSES = 10
BASELINE = "bireal_resnet18"

CAVEATS = """\
What the numbers can and cannot say:

* Two or three seeds per model: a difference smaller than the spread between the seeds of one
  model is not a difference this benchmark can show.
* The paper trains ImageNet networks for many epochs; these are 28×28 networks trained for a few
  epochs on a 2-core CPU, so this is a small-scale check of the direction of the effect,
  not a reproduction of Table 1's accuracies.
* Both networks have the same OPs (or binary MACs), not the same CPU time: training runs the
  binary convs as float convs, and layer count, widths and joins set the time (compare the CPU
  seconds).
* The first conv is the full-precision stem; its gradient reaches it through every stage. The
  recorded norm is that of the loss gradient (the recipe has no weight decay)."""


def build(name: str, width: int):
    """The registered model ``name`` at base width ``width``, at 28×28×1 with 10 classes."""
    import bnnzoo  # noqa: F401  (Keras 2 before TensorFlow)
    from bnnzoo import zoo

    return zoo.create_model(name, width=width, input_shape=SHAPE, num_classes=CLASSES)


# what the baseline's width is matched on: OPs (binary MACs / 64 + float MACs), as the paper
# compares, or binary MACs alone, which separates the gradient paths from the binary capacity
MATCH = {"ops": ("OPs", "ops_bops64"), "binary-macs": ("binary MACs", "binary_macs")}


@functools.cache  # the bisection and its final pick ask for the same widths
def cost(name: str, width: int, match: str = "ops") -> float:
    """The matched figure (``MATCH``) of ``name`` at ``width``."""
    from bnnzoo.analysis import count_model

    return getattr(count_model(build(name, width)), MATCH[match][1])


def matching_width(target: float, match: str = "ops", low: int = 2, high: int = 256) -> int:
    """The Bi-Real ResNet18 base width whose matched figure is closest to ``target`` (it grows
    with the width, so a bisection finds the two neighbours)."""
    while high - low > 1:
        mid = (low + high) // 2
        if cost(BASELINE, mid, match) < target:
            low = mid
        else:
            high = mid
    return min((low, high), key=lambda w: abs(cost(BASELINE, w, match) - target))


def runs(args, widths: dict) -> list[dict]:
    """One entry per (model, seed): label, directory and command line."""
    out = []
    for model in (args.igp, BASELINE):
        width = widths[model]
        for seed in args.seeds:
            run_dir = Path(args.out_root) / f"{model}_w{width}_s{seed}_e{args.epochs}"
            sets = [
                f"model_kwargs={json.dumps({'width': width}, separators=(',', ':'))}",
                "monitor.first_conv_gradient=true",
                f"seed={seed}",
                *args.set,
            ]
            argv = ["bnnzoo", "train", "--recipe", RECIPE, "--model", model,
                    "--dataset", DATASET, "--epochs", str(args.epochs)]  # fmt: skip
            for item in sets:
                argv += ["--set", item]
            argv += ["--quiet", "--out", str(run_dir)]
            label = f"{model}(w={width})"
            out.append(
                {"model": model, "width": width, "seed": seed, "label": label, "dir": run_dir,
                 "argv": argv}
            )  # fmt: skip
    return out


def figures(name: str, width: int) -> dict:
    """Parameters, MACs, OPs and gradient-path figures of a model at 28×28×1."""
    from bnnzoo.analysis import count_model, gradient_paths

    model = build(name, width)
    counts = count_model(model)
    paths = gradient_paths(model)
    return {
        "params": counts.params,
        "binary_macs": counts.binary_macs,
        "float_macs": counts.float_macs,
        "ops": counts.ops_bops64,
        "binary_layers": len(paths.layers),
        "input_n": paths.input.n,
        "mean_n2": paths.mean("n2"),
        "mean_n3": paths.mean("n3"),
        "worst_n2": paths.worst("n2"),
    }


def _m(value) -> str:
    return "" if value is None else f"{value / 1e6:.3g}M"


def plot(rows: list[dict], png: Path, match: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for r in rows:
        epochs = [m["epoch"] for m in r["metrics"]]
        style = "-" if r["model"] == BASELINE else "--"
        label = f"{r['label']} seed {r['seed']}"
        left.plot(epochs, [m["first_conv_grad_norm"] for m in r["metrics"]], style, marker="o",
                  label=label)  # fmt: skip
        right.plot(epochs, [m["test_accuracy"] for m in r["metrics"]], style, marker="o",
                   label=label)  # fmt: skip
    left.set(xlabel="epoch", ylabel="first-conv gradient L2 norm (epoch mean)", yscale="log")
    right.set(xlabel="epoch", ylabel="test accuracy")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.suptitle(f"IGP-ResNet vs Bi-Real ResNet18 of the same {match}, Fashion-MNIST")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def findings(rows: list[dict], figs: dict, args) -> list[str]:
    by_model = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append(r)
    igp, base = by_model[args.igp], by_model[BASELINE]
    acc = {m: [r["results"]["test_accuracy"] for r in rs] for m, rs in by_model.items()}
    spread = max(max(a) - min(a) for a in acc.values())
    diff = statistics.mean(acc[args.igp]) - statistics.mean(acc[BASELINE])
    verdict = "higher" if diff > spread else "lower" if diff < -spread else "not distinguishable"
    f_igp, f_base = figs[args.igp], figs[BASELINE]
    norms = {
        m: [seed_mean(rs, e, "first_conv_grad_norm")
            for e in range(1, min(len(r["metrics"]) for r in rs) + 1)]
        for m, rs in by_model.items()
    }  # fmt: skip
    ratios = [a / b for a, b in zip(norms[args.igp], norms[BASELINE])]
    cpu = {
        m: statistics.mean([r["timing"].get("cpu_seconds", 0) for r in rs])
        for m, rs in by_model.items()
    }
    float_share = {m: f["float_macs"] / f["ops"] for m, f in figs.items()}
    if args.match == "ops":
        matched = (
            f"* OPs: {igp[0]['label']} {f_igp['ops'] / 1e6:.3g}M, {base[0]['label']} "
            f"{f_base['ops'] / 1e6:.3g}M ({f_igp['ops'] / f_base['ops'] - 1:+.1%}): the closest "
            f"integer width. Full-precision MACs (stem, transitions, classifier) are "
            f"{float_share[args.igp]:.0%} of the IGP-ResNet's OPs and "
            f"{float_share[BASELINE]:.0%} of the Bi-Real ResNet's, so at equal OPs the "
            f"IGP-ResNet has {f_igp['binary_macs'] / f_base['binary_macs'] - 1:+.0%} binary MACs "
            f"and {f_igp['params'] / f_base['params'] - 1:+.0%} parameters."
        )
    else:
        matched = (
            f"* Binary MACs: {igp[0]['label']} {_m(f_igp['binary_macs'])}, {base[0]['label']} "
            f"{_m(f_base['binary_macs'])} "
            f"({f_igp['binary_macs'] / f_base['binary_macs'] - 1:+.1%}): the closest integer "
            f"width. At equal binary MACs the Bi-Real ResNet has "
            f"{f_base['ops'] / f_igp['ops'] - 1:+.0%} OPs (its full-precision layers are wider) "
            f"and {f_base['params'] / f_igp['params'] - 1:+.0%} parameters: this pair asks "
            f"whether the IGP-ResNet's gradient paths help at equal binary capacity."
        )
    lines = [
        matched,
        f"* Gradient paths (binary MACs): mean N_2nd over the binary layers "
        f"{_m(f_igp['mean_n2'])} against {_m(f_base['mean_n2'])}, mean N_3rd "
        f"{_m(f_igp['mean_n3'])} against {_m(f_base['mean_n3'])}; the IGP-ResNet's are "
        + (
            "lower, as the paper designs them."
            if f_igp["mean_n2"] < f_base["mean_n2"] and f_igp["mean_n3"] < f_base["mean_n3"]
            else "not both lower."
        ),
        f"* Test accuracy after {args.epochs} epoch(s), mean of seeds {list(args.seeds)}: "
        f"{statistics.mean(acc[args.igp]):.2%} against {statistics.mean(acc[BASELINE]):.2%} "
        f"({diff * 100:+.2f} "
        f"points); the largest seed-to-seed spread of one model is {spread * 100:.2f} points, "
        f"so the IGP-ResNet's accuracy is {verdict} "
        + ("within this budget." if verdict == "not distinguishable" else "beyond the spread."),
        "* First-conv gradient norm, IGP / Bi-Real ratio of the seed means per epoch: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + ".",
        f"* CPU seconds per run (mean): {cpu[args.igp]:.0f} for the IGP-ResNet, "
        f"{cpu[BASELINE]:.0f} for the Bi-Real ResNet.",
        plateau(by_model),
        "* IGP-ResNet minus Bi-Real ResNet per epoch (seed means, points): "
        + ", ".join(f"{g * 100:+.2f}" for g in gaps(igp, base))
        + ".",
    ]
    return lines


def plateau(by_model: dict) -> str:
    """Whether the epochs were enough: how much each model's seed-mean test accuracy still rose
    over the last quarter of its epochs, and its training accuracy at the end."""
    parts = []
    for model, rs in by_model.items():
        last = min(len(r["metrics"]) for r in rs)
        start = max(1, last - max(1, last // 4))
        first, end = seed_mean(rs, start), seed_mean(rs, last)
        parts.append(
            f"{model} {first:.2%} after epoch {start}, {end:.2%} after epoch {last} "
            f"({(end - first) * 100:+.2f} points; training accuracy "
            f"{seed_mean(rs, last, 'train_accuracy'):.2%})"
        )
    return "* The last quarter of the epochs (seed means): " + "; ".join(parts) + "."


def gaps(igp: list[dict], base: list[dict]) -> list[float]:
    """Per epoch, the IGP runs' mean test accuracy minus the baseline runs' mean."""
    epochs = min(len(r["metrics"]) for r in igp + base)
    return [seed_mean(igp, e) - seed_mean(base, e) for e in range(1, epochs + 1)]


def seed_mean(runs: list[dict], epoch: int, key: str = "test_accuracy") -> float:
    """The mean over ``runs`` of ``key`` after ``epoch`` (counted from 1)."""
    return statistics.mean(r["metrics"][epoch - 1][key] for r in runs)


def write_report(args, run_list, rows, figs, png: Path, command: str) -> str:
    import tensorflow as tf

    from bnnzoo._host import describe

    config = rows[0]["config"]
    opt, sched = config["optimizer"], config["schedule"]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"# IGP-ResNet against the Bi-Real ResNet18 of the same {MATCH[args.match][0]} on "
        "Fashion-MNIST",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {now}. Host: {describe()}; {platform.machine()}, Python "
        f"{platform.python_version()}, tensorflow {tf.__version__}. The timing column gives the "
        "load average before and after each run (the run itself keeps about as many cores busy "
        "as it has; more means other processes shared them, and wall times then compare only "
        "roughly); CPU seconds are the training process's own.",
        "",
        f"Setting (identical for every run): recipe `{RECIPE}` with the overrides in the "
        f"commands below; {DATASET}, {config.get('max_train_examples') or 'all 60,000'} training "
        f"images, {config.get('max_test_examples') or 'all 10,000'} test images, "
        f"{SHAPE[0]}×{SHAPE[1]}×1, no augmentation; {config['epochs']} epoch(s), batch "
        f"{config['batch_size']}, {opt['name']} lr {opt['lr']}, weight decay "
        f"{opt['weight_decay']}, {sched['name']} schedule, precision {config['precision']}.",
        "",
        "## The two networks (28×28×1, 10 classes)",
        "",
        "| model | params | binary MACs | float MACs | OPs | binary layers "
        "| input N_1st / N_2nd / N_3rd | mean N_2nd | mean N_3rd | worst N_2nd |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model in (args.igp, BASELINE):
        f = figs[model]
        label = next(r["label"] for r in rows if r["model"] == model)
        out.append(
            f"| {label} | {f['params']:,} | {_m(f['binary_macs'])} | {_m(f['float_macs'])} "
            f"| {_m(f['ops'])} | {f['binary_layers']} "
            f"| {' / '.join(_m(n) if n else '0' for n in f['input_n'])} | {_m(f['mean_n2'])} "
            f"| {_m(f['mean_n3'])} | {_m(f['worst_n2'])} |"
        )
    out += [
        "",
        "## Runs",
        "",
        "| model | seed | test accuracy | best epoch accuracy | train s | wall s (CPU s, load) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        wall = timing_cell(r["timing"])
        best = max(m["test_accuracy"] for m in r["metrics"])
        out.append(
            f"| {r['label']} | {r['seed']} | {r['results']['test_accuracy']:.4f} | {best:.4f} "
            f"| {r['results']['train_seconds']:.0f} | {wall} |"
        )
    head = " | ".join(f"{r['label']} s{r['seed']}" for r in rows)
    epochs = max(len(r["metrics"]) for r in rows)
    for title, key, fmt in (
        ("Test accuracy per epoch", "test_accuracy", ".4f"),
        ("First-conv gradient norm per epoch (mean L2 norm over the epoch's steps)",
         "first_conv_grad_norm", ".4g"),
    ):  # fmt: skip
        out += ["", f"## {title}", "", f"| epoch | {head} |",
                "| ---: | " + " | ".join("---:" for _ in rows) + " |"]  # fmt: skip
        for e in range(epochs):
            cells = [
                format(r["metrics"][e][key], fmt) if e < len(r["metrics"]) else "" for r in rows
            ]
            out.append(f"| {e + 1} | " + " | ".join(cells) + " |")
    out += [
        "",
        f"![gradient norm and accuracy per epoch]({png.name})",
        "",
        "## What it shows",
        "",
        *findings(rows, figs, args),
        *report_tail(CAVEATS, args.notes, [run["argv"] for run in run_list]),
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--igp", default="igp_resnet21", choices=("igp_resnet21", "igp_resnet37"))
    parser.add_argument("--width", type=int, default=8, help="base width of the IGP-ResNet")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--match", choices=sorted(MATCH), default="ops",
                        help="the Bi-Real ResNet's width matches the IGP-ResNet's OPs (the "
                        "paper's comparison) or its binary MACs")  # fmt: skip
    parser.add_argument("--png", default=str(HERE / "igp_fashion.png"))
    add_run_arguments(parser, "igp_fashion")
    args = parser.parse_args(argv)
    command = command_line("igp_fashion.py", argv)

    target = cost(args.igp, args.width, args.match)
    widths = {args.igp: args.width, BASELINE: matching_width(target, args.match)}
    print(f"widths: {widths} (IGP {MATCH[args.match][0]} {target / 1e6:.3f}M)", flush=True)
    figs = {m: figures(m, w) for m, w in widths.items()}
    run_list = runs(args, widths)
    rows = [finished(run, train_or_read(run, args.report_only)) for run in run_list]
    png = Path(args.png)
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, png, MATCH[args.match][0])
    text = write_report(args, run_list, rows, figs, png, command)
    from bnnzoo._io import write_atomically

    write_atomically(args.markdown, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
