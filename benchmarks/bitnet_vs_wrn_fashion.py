"""BitNet against the Wide ResNet of the same depth and width, trained on Fashion-MNIST.

Zhang, Ozay, Li, Okatani 2017, "Truncating Wide Networks using Binary Tree Architectures"
(BitNet), claims that the binary tree block keeps a strong gradient at the first
convolution (Figure 2) and reaches the accuracy of a Wide ResNet of the same depth with far fewer
parameters. This script trains, with the real ``bnnzoo train`` command and the same budget
(optimizer, schedule, epochs, batch, seed, data), ``BitNetCifar(d, k, n)`` and
``WideResNetCifar(d, k=2, n)`` on the full Fashion-MNIST training set at 28×28×1, in each
precision asked (``float`` is the paper's setting; ``binary`` puts Larq binary convs in the
blocks), records the first convolution's mean gradient L2 norm per epoch
(``monitor.first_conv_gradient``), and writes a markdown report and the gradient plot.

Every run starts from the ``bitnet_cifar`` recipe (SGD, momentum 0.9, lr 0.1, weight decay 5e-4,
batch 128) with Fashion-MNIST, no augmentation and cosine decay over the epochs given. A run
directory that already holds ``results.json`` is reused; one that holds a config but no results
is resumed (``bnnzoo train --resume``). ``--report-only`` rewrites the report from the runs.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/bitnet_vs_wrn_fashion.py \\
        --d 1 --k 2 --n 2 --epochs 4 --precisions float binary
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

from _runs import command_line, report_tail, timing_cell, train_or_read

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
RECIPE = "bitnet_cifar"
DATASET = "fashion_mnist"
INPUT_SIZE = 28

CAVEATS = """\
What the numbers can and cannot say:

* One seed per model, so accuracy differences of a few tenths of a point are within what another
  seed could move; this benchmark did not measure seed-to-seed spread.
* Zhang et al. 2017's Figure 2 compares 38-layer networks on CIFAR-100 over 200 epochs, where
  vanishing gradients matter; these networks have 14 layers and train for a few epochs, so the
  gradient comparison here is a small-scale check of the direction of the effect, not a
  reproduction.
* The recorded norm is that of the loss gradient, taken before ``bnnzoo.training.steps`` adds the
  coupled weight decay; the table gives the size of the decay term ``weight_decay · ‖W‖`` for
  comparison. (Runs recorded before 2026-11-22 08:15 UTC included that term in the norm.)
* In the BitNet the stem conv feeds batch norm directly, so its loss gradient scales as 1/‖W‖;
  in the Wide ResNet the stem output reaches batch norm directly and, through the identity
  shortcut, added to the first blocks' outputs, so the same holds only roughly. The first conv's
  ‖W‖ at the end of training is given so that the norms can be compared at similar weight scale.
* MACs are not CPU time at this size: a BitBlock of depth 2 has four convs, four batch norms and a
  concatenation where the residual block has two convs, so the BitNet's smaller MAC count does not
  make it cheaper to train on the CPU (compare the CPU seconds). Wall times were taken while other
  jobs shared the two cores (load average before → after each run in the table)."""


def runs(args) -> list[dict]:
    """One entry per (precision, family): the run's label, directory and command line."""
    out = []
    for precision in args.precisions:
        bit_depth, wrn_depth = 3 * args.n * args.k + 2, 6 * args.n + 2
        pair = (
            ("bitnet_cifar", f"BitNet(d={args.d}, k={args.k}, n={args.n})-{bit_depth}",
             {"d": args.d, "k": args.k, "n": args.n}),
            ("wide_resnet_cifar", f"Wide ResNet(d={args.d}, k=2, n={args.n})-{wrn_depth}",
             {"d": args.d, "k": 2, "n": args.n}),
        )  # fmt: skip
        for model, label, kwargs in pair:
            if precision != "float":
                kwargs = {**kwargs, "precision": precision}
            tag = "_".join(f"{key}{value}" for key, value in kwargs.items() if key != "precision")
            run_dir = Path(args.out_root) / f"{model}_{tag}_{precision}_e{args.epochs}"
            sets = [
                f"model_kwargs={json.dumps(kwargs, separators=(',', ':'))}",
                f"input_size={INPUT_SIZE}",
                "augment=none",
                "schedule.name=cosine",
                "monitor.first_conv_gradient=true",
                f"seed={args.seed}",
                *args.set,
            ]
            argv = ["bnnzoo", "train", "--recipe", RECIPE, "--model", model,
                    "--dataset", DATASET, "--epochs", str(args.epochs),
                    "--batch-size", str(args.batch_size)]  # fmt: skip
            for item in sets:
                argv += ["--set", item]
            argv += ["--quiet", "--out", str(run_dir)]
            out.append(
                {"model": model, "label": label, "precision": precision, "dir": run_dir,
                 "argv": argv}
            )  # fmt: skip
    return out


def measure(run: dict, weight_decay: float) -> dict:
    """Parameters, MACs, per-epoch metrics and the weight-decay share of the gradient norm."""
    import bnnzoo  # noqa: F401  (Keras 2 before TensorFlow)

    # isort: split
    import numpy as np
    import tensorflow as tf

    from bnnzoo.analysis import count_model
    from bnnzoo.reproduce.bitnet import paper_params
    from bnnzoo.training.loop import build_model
    from bnnzoo.training.monitors import first_conv_kernel_index
    from bnnzoo.training.rundir import RunDir

    run_dir = run["dir"]
    config = RunDir(run_dir).read_config()
    pre = config["preprocessing"]
    model = build_model(
        config, input_shape=(pre["size"], pre["size"], pre["channels"]),
        num_classes=config["num_classes"],
    )  # fmt: skip
    counts = count_model(model)
    trained = tf.keras.models.load_model(run_dir / "model.keras", compile=False)
    index = first_conv_kernel_index(trained)
    first_kernel = trained.trainable_variables[index]
    # The recorded norm is that of the loss gradient plus weight_decay * kernel (the decay is
    # added to the gradient before the norm is taken), so this is its floor late in training.
    decay_norm = weight_decay * float(np.linalg.norm(first_kernel.numpy()))
    return {
        "params": counts.params,
        "trainable_params": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
        "paper_params": paper_params(model),
        "binary_macs": counts.binary_macs,
        "float_macs": counts.float_macs,
        "size_mb": counts.size_mb,
        "first_conv": f"{first_kernel.name} {tuple(first_kernel.shape)}",
        "decay_norm": decay_norm,
        "first_kernel_norm": float(np.linalg.norm(first_kernel.numpy())),
        "metrics": RunDir(run_dir).read_metrics(),
        "results": json.loads((run_dir / "results.json").read_text()),
        "config": config,
    }


def _fmt_int(value: int) -> str:
    return f"{value:,}"


def _fmt_macs(binary: int, floating: int) -> str:
    if binary:
        return f"{binary / 1e6:.1f}M binary + {floating / 1e6:.2f}M float"
    return f"{floating / 1e6:.1f}M float"


def findings(rows: list[dict], precisions) -> list[str]:
    """Plain statements computed from the numbers, one per precision."""
    lines = []
    for precision in precisions:
        pair = [r for r in rows if r["precision"] == precision]
        if len(pair) != 2:
            continue
        bit, wrn = pair
        b_acc, w_acc = bit["results"]["test_accuracy"], wrn["results"]["test_accuracy"]
        b_norms = [m["first_conv_grad_norm"] for m in bit["metrics"]]
        w_norms = [m["first_conv_grad_norm"] for m in wrn["metrics"]]
        ratios = [b / w for b, w in zip(b_norms, w_norms)]
        param_share = bit["paper_params"] / wrn["paper_params"]
        mac_share = (bit["binary_macs"] + bit["float_macs"]) / (
            wrn["binary_macs"] + wrn["float_macs"]
        )
        larger = sum(r > 1 for r in ratios)
        if larger == len(ratios):
            verdict = "consistently larger"
        elif larger == 0:
            verdict = "consistently smaller"
        else:
            verdict = "neither consistently larger nor smaller"
        cpu = [r["timing"].get("cpu_seconds") for r in (bit, wrn)]
        cpu_text = (
            f" Training took {cpu[0]:.0f} CPU s for the BitNet and {cpu[1]:.0f} for the WRN."
            if all(cpu)
            else ""
        )
        lines.append(
            f"* **{precision}**: {bit['label']} has {param_share:.0%} of the Wide ResNet's "
            f"parameters (paper count) and {mac_share:.0%} of its MACs. "
            f"Test accuracy {b_acc:.2%} against {w_acc:.2%} "
            f"({(b_acc - w_acc) * 100:+.2f} points). The BitNet's first-conv gradient norm is "
            f"{verdict}: larger in {larger} of {len(ratios)} epochs; BitNet / WRN ratio per epoch: "
            + ", ".join(f"{r:.2f}" for r in ratios)
            + "."
            + cpu_text
        )
    return lines


def write_report(args, run_list: list[dict], rows: list[dict], png: Path, command: str) -> str:
    import tensorflow as tf

    from bnnzoo._host import describe

    config = rows[0]["config"]
    opt, sched = config["optimizer"], config["schedule"]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# BitNet against the Wide ResNet of the same depth and width on Fashion-MNIST",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {now}. Machine: {describe()}; Python "
        f"{platform.python_version()}, tensorflow {tf.__version__}. Other processes shared "
        "the cores during some runs (load average in the wall-time column), so wall times "
        "compare only roughly; CPU seconds are the training process's own.",
        "",
        f"Setting (identical for every run): recipe `{RECIPE}` with the overrides below; "
        f"{DATASET}, {config.get('max_train_examples') or 'all 60,000'} training images, "
        f"{config.get('max_test_examples') or 'all 10,000'} test images; input "
        f"{INPUT_SIZE}×{INPUT_SIZE}×1, no augmentation; "
        f"{config['epochs']} epochs, batch {config['batch_size']}, {opt['name'].upper()} "
        f"lr {opt['lr']} momentum {opt['momentum']} weight decay {opt['weight_decay']}, "
        f"{sched['name']} schedule, seed {config['seed']}, deterministic ops. The models are "
        "those of Zhang et al. 2017's Table 1 at Fashion-MNIST's size: 3×3 stem of 16 filters, "
        f"three groups of width 16d, 32d, 64d (28→28→14→7), global average pooling, FC 10.",
        "",
        "| model | precision | params (Keras, BN incl.) | params (Zhang et al. count) | MACs "
        "| epochs | test accuracy | best epoch accuracy | train s (incl. test each epoch) "
        "| wall s (CPU s, load) "
        "| first-conv grad norm, epoch 1 → last |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        metrics = row["metrics"]
        best = max(m["test_accuracy"] for m in metrics)
        wall = timing_cell(row["timing"])
        norms = " → ".join(f"{m['first_conv_grad_norm']:.3g}" for m in metrics)
        macs = _fmt_macs(row["binary_macs"], row["float_macs"])
        out.append(
            f"| {row['label']} | {row['precision']} | {_fmt_int(row['params'])} "
            f"| {_fmt_int(row['paper_params'])} | {macs} "
            f"| {len(metrics)} | {row['results']['test_accuracy']:.4f} | {best:.4f} "
            f"| {row['results']['train_seconds']:.0f} | {wall} | {norms} |"
        )
    out += [
        "",
        "## First-conv gradient norm per epoch (mean over the epoch's steps of the L2 norm)",
        "",
        "| epoch | " + " | ".join(f"{r['label']} {r['precision']}" for r in rows) + " |",
        "| ---: | " + " | ".join("---:" for _ in rows) + " |",
    ]
    epochs = max(len(r["metrics"]) for r in rows)
    for e in range(epochs):
        cells = []
        for r in rows:
            m = r["metrics"][e] if e < len(r["metrics"]) else None
            cells.append(f"{m['first_conv_grad_norm']:.4g}" if m else "")
        out.append(f"| {e + 1} | " + " | ".join(cells) + " |")
    out.append(
        "| ‖W‖ of the first conv at the end | "
        + " | ".join(f"{r['first_kernel_norm']:.3g}" for r in rows)
        + " |"
    )
    out.append(
        "| its weight-decay term in the recorded norm, wd·‖W‖ | "
        + " | ".join(f"{r['decay_norm']:.2g}" for r in rows)
        + " |"
    )
    out += [
        "",
        "## Test accuracy per epoch",
        "",
        "| epoch | " + " | ".join(f"{r['label']} {r['precision']}" for r in rows) + " |",
        "| ---: | " + " | ".join("---:" for _ in rows) + " |",
    ]
    for e in range(epochs):
        cells = []
        for r in rows:
            m = r["metrics"][e] if e < len(r["metrics"]) else None
            cells.append(f"{m['test_accuracy']:.4f}" if m else "")
        out.append(f"| {e + 1} | " + " | ".join(cells) + " |")
    out += [
        "",
        f"![first-conv gradient norm per epoch]({png.name})",
        "",
        "## What it shows",
        "",
        *findings(rows, args.precisions),
        *report_tail(
            CAVEATS,
            args.notes,
            [run["argv"] for run in run_list],
            "The training commands (one per run, as a user would type them)",
        ),
        "Run directories: " + ", ".join(f"`{run['dir']}`" for run in run_list) + ".",
        "",
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=1, help="width multiplier of both models")
    parser.add_argument("--k", type=int, default=2, help="BitBlock depth of the BitNet")
    parser.add_argument("--n", type=int, default=2, help="blocks per group of both models")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precisions", nargs="+", default=["float"], choices=("float", "binary"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra override for every run, e.g. optimizer.lr=0.05")  # fmt: skip
    parser.add_argument("--out-root", default="/tmp/runs/bitnet_wrn")
    parser.add_argument("--markdown", default=str(HERE / "bitnet_vs_wrn_fashion.md"))
    parser.add_argument("--png", default=str(HERE / "bitnet_vs_wrn_fashion.png"))
    parser.add_argument("--notes", help="markdown appended under 'What it shows'")
    parser.add_argument("--report-only", action="store_true", help="no training; report runs")
    args = parser.parse_args(argv)
    if args.k != 2:
        print(
            f"note: BitNet(k={args.k}) has {3 * args.n * args.k + 2} layers, the Wide ResNet "
            f"{6 * args.n + 2}; they have the same depth only with k=2.",
            file=sys.stderr,
        )
    command = command_line("bitnet_vs_wrn_fashion.py", argv)
    run_list = runs(args)
    timings = {run["dir"]: train_or_read(run, args.report_only) for run in run_list}

    rows = []
    for run in run_list:
        if not (run["dir"] / "results.json").exists():
            raise SystemExit(f"{run['dir']} has no results.json; train it first.")
        decay = json.loads((run["dir"] / "config.json").read_text())["optimizer"]["weight_decay"]
        rows.append({**run, **measure(run, decay), "timing": timings[run["dir"]]})

    from bnnzoo.training.monitors import plot_gradient_norms

    png = Path(args.png)
    plot_gradient_norms(
        [r["dir"] for r in rows], png, labels=[f"{r['label']} {r['precision']}" for r in rows]
    )
    text = write_report(args, run_list, rows, png, command)
    Path(args.markdown).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
