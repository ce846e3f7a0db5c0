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
results is resumed. ``--report-only`` rewrites the report from the runs (``--partial`` too: from
those that have finished, naming the others).

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
from typing import NamedTuple

from _runs import (
    add_run_arguments,
    command_line,
    has_results,
    read_results,
    runs_section,
    timing_cell,
    train_or_read,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RECIPE = "reactnet_fashion_mnist"
BASELINE_RECIPE = "resnet_e_fashion_mnist_deep"


class Arm(NamedTuple):
    """What an arm changes, its model switches (``model_kwargs`` added to the recipe's), its
    other ``--set`` overrides, and its teacher: ``trains`` it, uses the ``full`` arm's
    (``shared``, its time added), runs it ``unused``, or has ``none``."""

    what: str
    switches: dict
    sets: list
    teacher: str


ARMS = {
    "full": Arm("RSign, RPReLU, distribution loss, two steps (the recipe)", {}, [], "trains"),
    "no_rsign": Arm("the plain sign instead of RSign", {"rsign": False}, [], "shared"),
    "no_rprelu": Arm("PReLU instead of RPReLU", {"rprelu": False}, [], "shared"),
    "baseline": Arm(
        "the plain sign and PReLU (the paper's baseline)",
        {"rsign": False, "rprelu": False},
        [],
        "shared",
    ),  # fmt: skip
    "labels": Arm(
        "labels instead of the distribution loss", {}, ["distillation.alpha=0"], "unused"
    ),  # fmt: skip
    "one_step": Arm("one step: binary weights from the start, 2× epochs", {}, [], "shared"),
    "resnet_e_deep": Arm(f"`{BASELINE_RECIPE}` (no teacher)", {}, [], "none"),
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


def runs(args) -> list[dict]:
    """Each arm of each seed: its folder and ``bnnzoo`` command line (``full`` first: it trains
    the teacher of the others)."""
    from bnnzoo.training import recipes

    root, out = Path(args.out_root), []
    quick = ["--quick"] if args.quick else []
    recipe_kwargs = recipes.resolve(RECIPE, quick=args.quick)["model_kwargs"]
    for seed in args.seeds:
        full = root / f"full_s{seed}"
        teacher = full / "teacher" / "model.keras"
        for key in [a for a in ARMS if a in args.arms]:
            arm = ARMS[key]
            sets = [*args.set, f"seed={seed}"]
            if key == "resnet_e_deep":
                argv = ["bnnzoo", "train", "--recipe", BASELINE_RECIPE, *quick]
            elif key == "one_step":
                epochs = 2 * (1 if args.quick else args.epochs)
                argv = ["bnnzoo", "train", "--recipe", RECIPE, *quick, "--epochs", str(epochs)]
                sets.append(f"distillation.teacher={teacher}")
            else:
                argv = ["bnnzoo", "two-step", "--recipe", RECIPE, *quick]
                argv += ["--epochs", str(1 if args.quick else args.epochs)]
                argv += ["--teacher-set", f"seed={seed}"] if arm.teacher == "trains" else [
                    "--teacher", str(teacher)
                ]  # fmt: skip
            if arm.switches:
                kwargs = {**recipe_kwargs, **arm.switches}
                sets.append(f"model_kwargs={json.dumps(kwargs, separators=(',', ':'))}")
            sets += arm.sets
            run_dir = root / f"{key}_s{seed}"
            argv += [a for s in sets for a in ("--set", s)] + ["--quiet", "--out", str(run_dir)]
            out.append({"arm": key, "seed": seed, "dir": run_dir, "argv": argv,
                        "teacher_run": full if arm.teacher == "shared" else None})  # fmt: skip
    return out


def read(run: dict, timing: dict) -> dict:
    """A finished run's accuracy, and its training seconds with those of the teacher it shares
    (the ``full`` arm trained it: its ``results.json`` holds the teacher's seconds)."""
    results = read_results(run["dir"])
    teacher_seconds = 0.0
    if run["teacher_run"] is not None:
        teacher_seconds = read_results(run["teacher_run"])["steps"]["teacher"]["train_seconds"]
    return {**run, "results": results, "timing": timing,
            "total_seconds": results["train_seconds"] + teacher_seconds}  # fmt: skip


def arm_rows(rows: list[dict]) -> list[str]:
    """One line per arm: its accuracy per seed and their mean, its difference to ``full`` paired
    by seed (the arms of a seed share the teacher and the data order), and its time."""
    by_arm: dict[str, list[dict]] = {}
    for row in rows:
        by_arm.setdefault(row["arm"], []).append(row)
    full = {r["seed"]: r["results"]["test_accuracy"] for r in by_arm.get("full", [])}
    out = ["| arm | what it changes | test accuracy (seeds) | mean | vs full (paired) | total s |",
           "| --- | --- | --- | ---: | ---: | ---: |"]  # fmt: skip
    for arm, arm_runs in by_arm.items():
        accs = [r["results"]["test_accuracy"] for r in arm_runs]
        seeds = " / ".join(f"{100 * a:.2f} (s{r['seed']})" for a, r in zip(accs, arm_runs))
        paired = [a - full[r["seed"]] for a, r in zip(accs, arm_runs) if r["seed"] in full]
        delta = f"{100 * statistics.mean(paired):+.2f}" if paired else "n/a"
        seconds = statistics.mean(r["total_seconds"] for r in arm_runs)
        out.append(f"| `{arm}` | {ARMS[arm].what} | {seeds} | {100 * statistics.mean(accs):.2f} %"
                   f" | {delta} | {seconds:.0f} |")  # fmt: skip
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


def not_run_yet(missing: list[dict]) -> list[str]:
    """The line of a partial report that names the runs it leaves out (none: no line)."""
    if not missing:
        return []
    names = ", ".join(f"`{r['arm']}` seed {r['seed']}" for r in missing)
    return ["", f"Not run yet (the command above trains them): {names}."]


def write_report(args, rows: list[dict], command: str, missing: list[dict]) -> str:
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
        *not_run_yet(missing),
        *runs_section(run_rows(rows), CAVEATS, args.notes, [r["argv"] for r in rows]),
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs of each step")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--quick", action="store_true", help="the quick recipes (digits)")
    parser.add_argument(
        "--partial",
        action="store_true",
        help="with --report-only: report the runs that have finished",
    )
    add_run_arguments(parser, "reactnet_ablation")
    args = parser.parse_args(argv)
    if "full" not in args.arms and set(args.arms) - {"resnet_e_deep"}:
        parser.error("every ReActNet arm needs the 'full' arm: it trains their teacher")
    if args.partial and not args.report_only:
        parser.error("--partial only reports (add --report-only); training runs every arm")
    command = command_line("reactnet_ablation.py", argv)

    planned = runs(args)
    missing = [r for r in planned if not has_results(r["dir"])] if args.partial else []
    rows = [read(run, train_or_read(run, args.report_only))
            for run in planned if run not in missing]  # fmt: skip
    from bnnzoo._io import write_atomically

    text = write_report(args, rows, command, missing)
    Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.markdown, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
