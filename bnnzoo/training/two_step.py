"""Two-step training with a real-valued teacher, as one resumable job (Liu, Shen, Savvides, Cheng
2020, "ReActNet: Towards Precise Binary Neural Network with Generalized Activation Functions").

Step 1 trains the recipe's model with binary activations and real-valued weights
(``binary_weights=false``, ``bnnzoo.training.real_weights``) and ``two_step.step1_weight_decay``;
step 2 trains it with binary weights too, starting from step 1's weights, with the recipe's own
weight decay. Both learn from a real-valued teacher's outputs (the recipe's ``distillation``:
ReActNet's distribution loss, ``recipes.DISTRIBUTION_LOSS``). The teacher is a saved model
(``distillation.teacher``) or is trained first by the recipe ``two_step.teacher_recipe`` on the
same data; its time counts in the total.

Everything lands in one folder::

    DIR/two_step.json   the plan and each finished step (written atomically after each)
    DIR/teacher/        the teacher, when a recipe trains it (a `bnnzoo train` run)
    DIR/step1/          binary activations, real weights (a `bnnzoo train` run)
    DIR/step2/          binary activations and weights, from step 1's (the result)
    DIR/results.json    each step's test accuracy and training time, and the total

A killed job resumes at the step it was in: finished steps are read back, an unfinished one
resumes from its last checkpoint (``train(..., resume=True)``).

Example:
    >>> plan = make_plan("reactnet_fashion_mnist", ["epochs=3"])
    >>> summary = run_two_step(plan, "runs/reactnet")
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from bnnzoo._io import write_atomically
from bnnzoo._text import format_table
from bnnzoo.training import data as data_lib
from bnnzoo.training import recipes
from bnnzoo.training.distillation import check_teacher
from bnnzoo.training.jobs import open_job, run_or_resume, run_summary, save_job
from bnnzoo.training.loop import build_model
from bnnzoo.training.rundir import RunDir

PLAN_FILE = "two_step.json"
# the steps in order, with what each trains
STEPS = {
    "teacher": "real-valued teacher",
    "step1": "binary activations, real weights",
    "step2": "binary activations and weights",
}
# what a teacher trained by the job takes from the student's config: the same images and classes
SHARED_DATA = ("dataset", "data_dir", "download", "max_train_examples", "max_test_examples",
               "input_size", "channels", "seed", "strategy")  # fmt: skip


def make_plan(
    recipe: str,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    quick: bool = False,
    teacher: str | None = None,
    teacher_recipe: str | None = None,
    teacher_overrides: list[str] | tuple[str, ...] = (),
    **fields,
) -> dict:
    """A checked plan for ``run_two_step``; every bad argument fails here, before any work.

    Args:
        recipe: the student's recipe (``NAME_quick`` or ``quick`` for its quick variant);
            ``overrides`` are its ``--set key=value`` changes, ``fields`` its top-level keys
            (``epochs=3``: per step).
        teacher: a saved real-valued model (``.keras``/``.h5``); else the recipe's
            ``two_step.teacher_recipe``, or ``teacher_recipe``, is trained first.
        teacher_recipe: the recipe that trains the teacher (quick when the student is), on the
            student's data (``SHARED_DATA``), with ``teacher_overrides``.

    Raises:
        ValueError: a bad recipe, override, dataset, model or teacher, or no teacher at all.
        FileNotFoundError: the teacher file does not exist.
    """
    config = recipes.resolve(recipe, list(overrides), quick=quick, **fields)
    quick = config["recipe"].endswith(recipes.QUICK_SUFFIX)  # also from a NAME_quick recipe
    if teacher is not None and teacher_recipe is not None:
        raise ValueError(
            f"Received both a teacher file ({teacher!r}) and a teacher recipe "
            f"({teacher_recipe!r}). Pass one: --teacher FILE or --teacher-recipe R."
        )
    if teacher is not None:
        config["distillation"]["teacher"] = str(Path(teacher).absolute())
        config["two_step"]["teacher_recipe"] = None
    elif teacher_recipe is not None:
        config["two_step"]["teacher_recipe"] = teacher_recipe
    recipes.check(config)
    data_lib.check_dataset(config["dataset"], config.get("data_dir"))
    teacher_config = _teacher_config(config, quick, list(teacher_overrides))
    check_teacher(config["distillation"])
    steps = {"step1": step_config(config, 1), "step2": step_config(config, 2)}
    if teacher_config is not None:
        _check_model(teacher_config, f"Teacher recipe {teacher_config['recipe']!r}")
    _check_model(steps["step1"], f"Step 1 of {config['recipe']!r}")
    return {
        "recipe": config["recipe"],
        "teacher": config["distillation"]["teacher"],
        "teacher_recipe": config["two_step"]["teacher_recipe"],
        "configs": {"teacher": teacher_config, **steps},
    }


def step_config(config: dict, step: int) -> dict:
    """The config of step 1 (binary activations, real weights, ``step1_weight_decay``) or step 2
    (both binary, the recipe's weight decay) of a two-step recipe's ``config``.

    Example:
        >>> step_config(recipes.resolve("reactnet_imagenet"), 1)["optimizer"]["weight_decay"]
        1e-05
    """
    config = copy.deepcopy(config)
    config["binary_weights"] = step == 2
    decay = config["two_step"]["step1_weight_decay"]
    if step == 1 and decay is not None:
        config["optimizer"]["weight_decay"] = float(decay)
    return config


def _teacher_config(config: dict, quick: bool, overrides: list[str]) -> dict | None:
    """The config of the teacher the job trains first, or None when it is given as a file."""
    name = config["two_step"]["teacher_recipe"]
    if config["distillation"]["teacher"] is not None:
        if overrides:
            raise ValueError(
                f"--teacher-set {overrides} changes a teacher that the job trains, but the "
                f"teacher is the file {config['distillation']['teacher']!r}. Drop --teacher-set."
            )
        return None
    if name is None:
        raise ValueError(
            f"Recipe {config['recipe']!r} has no teacher: two-step training distills a "
            f"real-valued teacher. Pass --teacher FILE (a trained model of the same inputs and "
            f"classes) or --teacher-recipe R (e.g. wide_resnet_fashion_mnist) to train one first."
        )
    shared = {key: config[key] for key in SHARED_DATA}
    try:
        teacher = recipes.resolve(name, overrides, quick=quick, **shared)
        if teacher["distillation"]["teacher"] is not None:
            raise ValueError("it distills a teacher of its own; a teacher learns from labels")
        return recipes.check(teacher)
    except ValueError as err:
        raise ValueError(f"Teacher recipe {name!r}: {err}") from None


def _check_model(config: dict, what: str) -> None:
    """Build the model of ``config`` once (at its input size, 10 classes), so that a bad model
    name or argument, or a model without binary weights, is refused before any step starts."""
    size = int(config["input_size"])
    shape = (size, size, config.get("channels") or 3)
    try:
        build_model(config, input_shape=shape, num_classes=10)
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None


def run_two_step(
    plan: dict | None, out_dir: str | os.PathLike, *, resume: bool = False, verbose: int = 1
) -> dict:
    """Run (or resume) the two steps of ``plan`` in ``out_dir``, the teacher first when the plan
    trains one; returns each step's results (``format_summary`` prints them).

    Raises:
        FileNotFoundError: ``resume`` with nothing to resume in ``out_dir``.
        TrainingError: ``out_dir`` already holds a two-step job and ``resume`` is False, or a
            step stopped (``train``'s errors).
    """
    out = Path(out_dir).absolute()
    state = open_job(plan, out, plan_file=PLAN_FILE, resume=resume, what="a two-step job",
                     start="bnnzoo two-step --recipe R", again="bnnzoo two-step")  # fmt: skip
    plan, configs = state["plan"], state["plan"]["configs"]
    teacher = plan["teacher"]
    if teacher is None:
        _run_step(state, "teacher", configs["teacher"], out, verbose)
        teacher = str(RunDir(out / "teacher").model_path)
    step1 = _with_teacher(configs["step1"], teacher)
    _run_step(state, "step1", step1, out, verbose)
    step2 = _with_teacher(configs["step2"], teacher)
    step2["model_kwargs"]["weights"] = str(RunDir(out / "step1").weights_path)
    _run_step(state, "step2", step2, out, verbose)
    summary = _summarize(state)
    write_atomically(out / "results.json", json.dumps(summary, indent=2))
    return summary


def _with_teacher(config: dict, teacher: str) -> dict:
    config = copy.deepcopy(config)
    config["distillation"]["teacher"] = teacher
    return config


def _run_step(state: dict, name: str, config: dict, out: Path, verbose: int) -> None:
    """One step as a `bnnzoo train` run in ``out/name``: read back if it finished, resumed if it
    started, else started; recorded in the plan file."""
    done = state["done"]
    if name in done:
        return
    run = RunDir(out / name)
    if verbose:
        print(f"[{name}] {STEPS[name]}: {config['recipe']} ({config['model']}), "
              f"{config['epochs']} epochs in {run.path}", flush=True)  # fmt: skip
    run_or_resume(config, run.path, verbose=verbose)  # read back if it finished unrecorded
    done[name] = run_summary(run, epochs=config["epochs"])
    save_job(out / PLAN_FILE, state)


def _summarize(state: dict) -> dict:
    """Each step's test accuracy and training time, and the total (the teacher's included when
    the job trained it)."""
    plan, done = state["plan"], state["done"]
    steps = {name: done[name] for name in STEPS if name in done}
    return {
        "recipe": plan["recipe"],
        "teacher": plan["teacher"] or steps["teacher"]["dir"],
        "steps": steps,
        "test_accuracy": steps["step2"]["test_accuracy"],
        "train_seconds": sum(step["train_seconds"] for step in steps.values()),
    }


def format_summary(summary: dict) -> str:
    """Each step's epochs, test accuracy and training time, as a table."""
    rows = [["step", "trains", "epochs", "test accuracy", "train s"]]
    for name, step in summary["steps"].items():
        rows.append([name, STEPS[name], str(step["epochs"]), f"{step['test_accuracy']:.4f}",
                     f"{step['train_seconds']:.0f}"])  # fmt: skip
    rows.append(["total", "", "", "", f"{summary['train_seconds']:.0f}"])
    head = f"two-step {summary['recipe']}, teacher {summary['teacher']}"
    return "\n".join([head, format_table(rows)])
