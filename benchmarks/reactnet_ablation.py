"""ReActNet's recipe on Fashion-MNIST: what each of its parts adds, and ResNetE-deep beside it.

Liu, Shen, Savvides, Cheng 2020, "ReActNet: Towards Precise Binary Neural Network with
Generalized Activation Functions", build their network from a baseline with the plain sign and
PReLU, then add RSign (a learnable threshold before each sign), RPReLU (a shifted PReLU), the
distribution loss (the student learns a real-valued teacher's softmax, no labels) and two steps
(binary activations with real weights first, then both binary). This script trains, with the
real ``bnnzoo`` commands and the ``reactnet_fashion_mnist`` recipe's budget (5 + 5 epochs, Adam
5e-4 decayed linearly, batch 128, all of Fashion-MNIST at 28×28), one arm per part taken away:

* ``full``: ``bnnzoo two-step --recipe reactnet_fashion_mnist``, the teacher
  (``wide_resnet_fashion_mnist``) trained first; its time counts;
* ``no_rsign``, ``no_rprelu``, ``baseline`` (neither): the same with ``model_kwargs`` ``rsign``
  / ``rprelu`` false, distilled from the ``full`` arm's teacher of the same seed (whose
  training time is added to theirs);
* ``labels``: the two steps with ``distillation.alpha=0``: the labels' cross-entropy only (the
  teacher still runs beside the student, unused; its training time is not added);
* ``one_step``: ``bnnzoo train`` with binary weights from the start for the two steps' 10
  epochs, the distribution loss against the same teacher (its time added);
* ``resnet_e_deep``: ``bnnzoo train --recipe resnet_e_fashion_mnist_deep``, the zoo's best
  Fashion-MNIST recipe so far (issue 26's comparison; no teacher).

A run directory that holds ``results.json`` is reused; one that holds a plan or config but no
results is resumed. ``--report-only`` rewrites the report from the runs.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/reactnet_ablation.py --seeds 0 1
    # smoke test: digits, the quick recipes, one epoch per step
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/reactnet_ablation.py --quick \\
        --seeds 0 --out-root /tmp/reactnet_smoke --markdown /tmp/reactnet_smoke/r.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
from pathlib import Path

from _runs import add_run_arguments, command_line, runs_section, timing_cell, train_or_read

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RECIPE = "reactnet_fashion_mnist"
BASELINE_RECIPE = "resnet_e_fashion_mnist_deep"
# arm: (what it changes, extra --set overrides, how it gets its teacher)
ARMS = {
    "full": ("RSign, RPReLU, distribution loss, two steps (the recipe)", [], "trains"),
    "no_rsign": ("the plain sign instead of RSign", ["rsign=false"], "shared"),
    "no_rprelu": ("PReLU instead of RPReLU", ["rprelu=false"], "shared"),
    "baseline": (
        "the plain sign and PReLU (the paper's baseline)",
        ["rsign=false", "rprelu=false"],
        "shared",
    ),  # fmt: skip
    "labels": ("labels instead of the distribution loss", ["distillation.alpha=0"], "unused"),
    "one_step": ("one step: binary weights from the start, 2× epochs", [], "shared"),
    "resnet_e_deep": (f"`{BASELINE_RECIPE}` (no teacher)", [], "none"),
}
CAVEATS = """\
What the numbers can and cannot say:

* The arms differ by one part each from `full`; a difference smaller than the seed spread of
  one arm is not a difference this benchmark can show.
* Every arm but `full` and `resnet_e_deep` learns from the `full` arm's teacher of the same
  seed; its training time is added to the arms that use it, so each arm's total is what a user
  would spend from nothing. `labels` runs the teacher beside the student without using it.
* Fashion-MNIST at 28×28 with a half-width, seven-block ReActNet-A for minutes on a 2-core CPU
  is not ImageNet for 256 epochs per step: this checks the direction of each part's effect."""


def model_kwargs(config_overrides: list[str], quick: bool) -> dict:
    """The recipe's ``model_kwargs`` with the arm's ``rsign``/``rprelu`` switches."""
    from bnnzoo.training import recipes

    kwargs = dict(recipes.resolve(RECIPE, quick=quick)["model_kwargs"])
    for override in config_overrides:
        key, value = override.split("=", 1)
        if key in ("rsign", "rprelu"):
            kwargs[key] = json.loads(value)
    return kwargs


def runs(args) -> list[dict]:
    """Each arm of each seed: its folder and ``bnnzoo`` command line (teachers first)."""
    root, out = Path(args.out_root), []
    quick = ["--quick"] if args.quick else []
    for seed in args.seeds:
        teacher = root / f"full_s{seed}" / "teacher" / "model.keras"
        for arm in [a for a in ARMS if a in args.arms]:  # `full` first: it trains the teacher
            _, changes, teacher_use = ARMS[arm]
            run_dir = root / f"{arm}_s{seed}"
            sets = [*args.set, f"seed={seed}"]
            if arm == "resnet_e_deep":
                argv = ["bnnzoo", "train", "--recipe", BASELINE_RECIPE, *quick]
            elif arm == "one_step":
                epochs = 2 * (1 if args.quick else args.epochs)
                argv = ["bnnzoo", "train", "--recipe", RECIPE, *quick, "--epochs", str(epochs)]
                sets.append(f"distillation.teacher={teacher}")
            else:
                argv = ["bnnzoo", "two-step", "--recipe", RECIPE, *quick]
                argv += ["--epochs", str(1 if args.quick else args.epochs)]
                argv += ["--teacher-set", f"seed={seed}"] if teacher_use == "trains" else [
                    "--teacher", str(teacher)
                ]  # fmt: skip
            switches = [c for c in changes if c.split("=")[0] in ("rsign", "rprelu")]
            if switches:
                kwargs = model_kwargs(switches, args.quick)
                sets.append(f"model_kwargs={json.dumps(kwargs, separators=(',', ':'))}")
            sets += [c for c in changes if c not in switches]
            argv += [a for s in sets for a in ("--set", s)] + ["--quiet", "--out", str(run_dir)]
            out.append({"arm": arm, "seed": seed, "dir": run_dir, "argv": argv,
                        "teacher_use": teacher_use})  # fmt: skip
    return out


def read(run: dict, timing: dict, teachers: dict) -> dict:
    """A finished run's accuracy, and its training seconds with the teacher's where it counts."""
    if not (run["dir"] / "results.json").exists():
        raise SystemExit(f"{run['dir']} has no results.json; train it first.")
    results = json.loads((run["dir"] / "results.json").read_text())
    teacher_seconds = 0.0
    if run["teacher_use"] == "trains":
        teachers[run["seed"]] = results["steps"]["teacher"]
    elif run["teacher_use"] == "shared":
        teacher_seconds = teachers[run["seed"]]["train_seconds"]
    return {**run, "results": results, "timing": timing,
            "total_seconds": results["train_seconds"] + teacher_seconds}  # fmt: skip


def arm_rows(rows: list[dict]) -> list[str]:
    """One line per arm: mean accuracy over the seeds, spread, difference to ``full``, time."""
    by_arm: dict[str, list[dict]] = {}
    for row in rows:
        by_arm.setdefault(row["arm"], []).append(row)
    means = {a: statistics.mean(r["results"]["test_accuracy"] for r in rs)
             for a, rs in by_arm.items()}  # fmt: skip
    out = ["| arm | what it changes | test accuracy (seeds) | mean | vs full | total s |",
           "| --- | --- | --- | ---: | ---: | ---: |"]  # fmt: skip
    for arm, arm_runs in by_arm.items():
        accs = " / ".join(f"{100 * r['results']['test_accuracy']:.2f}" for r in arm_runs)
        delta = f"{100 * (means[arm] - means['full']):+.2f}" if "full" in means else "n/a"
        seconds = statistics.mean(r["total_seconds"] for r in arm_runs)
        out.append(f"| `{arm}` | {ARMS[arm][0]} | {accs} % | {100 * means[arm]:.2f} % | "
                   f"{delta} | {seconds:.0f} |")  # fmt: skip
    return out


def run_rows(rows: list[dict]) -> list[str]:
    out = ["| arm | seed | test accuracy | train s (student) | total s | wall s (CPU s, load) |",
           "| --- | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for r in rows:
        res = r["results"]
        out.append(f"| `{r['arm']}` | {r['seed']} | {100 * res['test_accuracy']:.2f} % | "
                   f"{res['train_seconds']:.0f} | "
                   f"{r['total_seconds']:.0f} | {timing_cell(r['timing'])} |")  # fmt: skip
    return out


def write_report(args, rows: list[dict], command: str) -> str:
    import tensorflow as tf

    from bnnzoo._host import describe

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# ReActNet's parts on Fashion-MNIST: an ablation, and ResNetE-deep beside it",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {now}. Host: {describe()}; {platform.machine()}, Python "
        f"{platform.python_version()}, tensorflow {tf.__version__}. Seconds are each run's own "
        "training time (`results.json`); the timing column gives the command's wall and CPU "
        "seconds and the load average before and after (about 2: the run had the machine).",
        "",
        "## The arms",
        "",
        *arm_rows(rows),
        *runs_section(run_rows(rows), CAVEATS, args.notes, [r["argv"] for r in rows]),
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs of each step")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--quick", action="store_true", help="the quick recipes (digits)")
    add_run_arguments(parser, "reactnet_ablation")
    args = parser.parse_args(argv)
    if "full" not in args.arms and set(args.arms) - {"resnet_e_deep"}:
        parser.error("every ReActNet arm needs the 'full' arm: it trains their teacher")
    command = command_line("reactnet_ablation.py", argv)

    teachers: dict = {}
    rows = [read(run, train_or_read(run, args.report_only), teachers) for run in runs(args)]
    from bnnzoo._io import write_atomically

    text = write_report(args, rows, command)
    Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.markdown, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
