"""The DWR pipeline (Xue, Lu, Chang, Wei, Wei 2023, "Fast and Accurate Binary Neural Networks
based on Depth-Width Reshaping", §4.2, Figure 1): reshape → pre-train → prune to the OPs budget →
train → evaluate, next to the original backbone trained with the same recipe.

Everything lands in one folder::

    DIR/dwr.json          the plan and each finished stage (written atomically after each)
    DIR/pretrain/         the reshaped network N_b[s w, d/s], pre-trained (a `bnnzoo train` run)
    DIR/pruned.weights.h5 the pruned network's starting weights
    DIR/train/            the pruned network trained (or, with ``method="naive"``, the naive
                          reshaping N_b[√s w, d/s] trained from scratch)
    DIR/original/         the original backbone trained for the same epochs
    DIR/results.json      original and result side by side: OPs, activations, params, accuracy
    DIR/model_card.md     the same as a model card

A killed pipeline resumes at the stage it was in: finished stages are read back from
``dwr.json``, and an unfinished training run resumes from its last checkpoint
(``bnnzoo.training.train(..., resume=True)``).

Example:
    >>> plan = make_plan("resnet20", 3, dataset="fashion_mnist", pretrain_epochs=5, epochs=20)
    >>> summary = run_pipeline(plan, "runs/dwr_r20_s3")
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import tensorflow as tf

from bnnzoo._checks import one_of, positive_int
from bnnzoo._io import write_atomically
from bnnzoo._text import format_table
from bnnzoo.analysis import count_model, shapes_only
from bnnzoo.training import data as data_lib
from bnnzoo.training import recipes
from bnnzoo.training.jobs import open_job, run_or_resume, run_summary, save_job
from bnnzoo.training.pruning import prune_to_budget
from bnnzoo.training.rundir import RunDir
from bnnzoo.zoo import dwr as dwr_zoo

PLAN_FILE = "dwr.json"
METHODS = ("dwr", "naive")
ORIGINAL_SPECS = {
    "resnet20": dwr_zoo.RESNET20,
    "resnet18": dwr_zoo.RESNET18_CIFAR,
    "vgg_small": dwr_zoo.VGG_SMALL,
    "vgg11": dwr_zoo.VGG_11,
}


def make_plan(
    backbone: str,
    s: float,
    *,
    dataset: str = "fashion_mnist",
    pretrain_epochs: int = 5,
    epochs: int = 20,
    method: str = "dwr",
    recipe: str = "dwr_cifar",
    overrides: list[str] | tuple[str, ...] = (),
    budget: float | None = None,
    calibration_images: int = 256,
    train_original: bool = True,
) -> dict:
    """A checked plan for ``run_pipeline``; every bad argument fails here, before any work.

    Args:
        backbone: ``resnet20``, ``resnet18``, ``vgg_small`` or ``vgg11``.
        s: the depth divisor (valid values depend on the backbone, DWR Table 2).
        dataset: a dataset name of ``bnnzoo.training.data`` (``digits``, ``fashion_mnist``...).
        pretrain_epochs: epochs of the wide network before pruning (Table 5: 5 are enough).
        epochs: epochs of the final training, and of the original backbone's.
        method: ``dwr`` (reshape to s·w, pre-train, prune to the budget) or ``naive`` (§4.1:
            √s·w, no pruning).
        recipe: the training recipe, ``overrides`` its ``--set key=value`` changes.
        budget: the OPs budget; default the original backbone's OPs at the run's input.
        calibration_images: training images whose conv outputs the pruning clusters.
        train_original: also train the original backbone, for the accuracy comparison.
    """
    one_of("backbone", backbone, tuple(ORIGINAL_SPECS), hint="`bnnzoo dwr --help` lists them.")
    one_of("method", method, METHODS)
    dwr_zoo.reshape_depth_width(ORIGINAL_SPECS[backbone], s)  # an s that does not divide fails
    positive_int("epochs", epochs)
    positive_int("pretrain_epochs", pretrain_epochs)
    positive_int("calibration_images", calibration_images, minimum=16,
                 hint="The authors use a few hundred; pass e.g. 256.")  # fmt: skip
    if budget is not None and not (isinstance(budget, (int, float)) and budget > 0):
        raise ValueError(f"Expected budget to be a positive number of OPs. Received: {budget!r}.")
    config = recipes.resolve(recipe, list(overrides), dataset=dataset, epochs=epochs)
    data_lib.check_dataset(config["dataset"], config.get("data_dir"))  # before dwr.json
    return {
        "backbone": backbone,
        "s": float(s),
        "method": method,
        "dataset": dataset,
        "pretrain_epochs": pretrain_epochs,
        "epochs": epochs,
        "recipe": recipe,
        "overrides": list(overrides),
        "budget": budget,
        "calibration_images": calibration_images,
        "train_original": bool(train_original),
        "config": config,
    }


def run_pipeline(
    plan: dict | None, out_dir: str | os.PathLike, *, resume: bool = False, verbose: int = 1
) -> dict:
    """Run (or resume) the pipeline of ``plan`` in ``out_dir``; returns the results
    (``format_summary`` prints them).

    Raises:
        FileNotFoundError: ``resume`` with nothing to resume in ``out_dir``.
        TrainingError: ``out_dir`` already holds a pipeline and ``resume`` is False.
    """
    out = Path(out_dir)
    state_path = out / PLAN_FILE
    state = open_job(plan, out, plan_file=PLAN_FILE, resume=resume, what="a DWR pipeline",
                     start="bnnzoo dwr --backbone B --s S", again="bnnzoo dwr")  # fmt: skip
    plan, done = state["plan"], state["done"]
    say = print if verbose else (lambda *a, **k: None)
    original_name = dwr_zoo.BACKBONES[plan["backbone"]]
    original = ORIGINAL_SPECS[plan["backbone"]]
    naive = plan["method"] == "naive"

    if "reshape" not in done:
        factor = None if naive else plan["s"]
        spec = dwr_zoo.reshape_depth_width(original, plan["s"], width_factor=factor)
        done["reshape"] = _fields(spec)
        save_job(state_path, state)
    reshaped = original.replace(**done["reshape"])
    say(f"[reshape] {_describe(original)} → {_describe(reshaped)}")

    if naive:
        final_kwargs = done["reshape"]
    else:
        if "pretrain" not in done:
            say(f"[pretrain] {plan['pretrain_epochs']} epochs in {out / 'pretrain'}")
            result = _train(plan, original_name, done["reshape"], plan["pretrain_epochs"],
                            out / "pretrain", verbose)  # fmt: skip
            done["pretrain"] = run_summary(result)
            save_job(state_path, state)
        if "prune" not in done:
            done["prune"] = _prune(plan, original, reshaped, out, say)
            save_job(state_path, state)
        final_kwargs = {**done["prune"]["spec"], "weights": str(out / "pruned.weights.h5")}
        say(f"[prune] {_describe(original.replace(**done['prune']['spec']))}")

    if "train" not in done:
        say(f"[train] {plan['epochs']} epochs in {out / 'train'}")
        result = _train(plan, original_name, final_kwargs, plan["epochs"], out / "train", verbose)
        done["train"] = run_summary(result)
        save_job(state_path, state)
    if plan["train_original"] and "original" not in done:
        say(f"[original] {original_name}, {plan['epochs']} epochs in {out / 'original'}")
        result = _train(plan, original_name, {}, plan["epochs"], out / "original", verbose)
        done["original"] = run_summary(result)
        save_job(state_path, state)

    summary = _summarize(plan, state, out)
    write_atomically(out / "results.json", json.dumps(summary, indent=2))
    write_atomically(out / "model_card.md", model_card(summary))
    return summary


def _train(plan, model_name, model_kwargs, epochs, run_dir: Path, verbose):
    """A `bnnzoo train` run of the preset with spec fields as model_kwargs; resumed if it was
    started, read back if it finished (``jobs.run_or_resume``)."""
    config = recipes.resolve(plan["recipe"], plan["overrides"], dataset=plan["dataset"],
                             epochs=epochs, model=model_name)  # fmt: skip
    config["model_kwargs"] = dict(model_kwargs)
    config["clip_value"] = None  # the DWR binarization keeps its own clip
    return run_or_resume(config, run_dir, verbose=verbose)


def _prune(plan, original, reshaped, out: Path, say) -> dict:
    """Cluster-prune the pre-trained wide network to the budget; save its starting weights."""
    run = RunDir(out / "pretrain")
    config = run.read_config()
    model = tf.keras.models.load_model(run.model_path)
    images = calibration_images(config, plan["calibration_images"])
    shape = dict(input_shape=tuple(model.input_shape[1:]), num_classes=config["num_classes"],
                 classifier_activation=None)  # fmt: skip

    def build(spec):
        return dwr_zoo.build(spec, **shape)

    result = prune_to_budget(
        model, reshaped, images, budget=plan["budget"], original=original, build=build
    )
    say(result.report())
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        path = Path(tmp) / "pruned.weights.h5"
        result.model.save_weights(str(path))
        write_atomically(out / "pruned.weights.h5", path.read_bytes())
    return {**result.to_dict(), "spec": _fields(result.spec)}


def calibration_images(config: dict, n: int) -> np.ndarray:
    """The first ``n`` training images of a run's dataset, preprocessed as for evaluation."""
    source = data_lib.load_dataset(
        config["dataset"], data_dir=config.get("data_dir"), seed=int(config["seed"]),
        max_train=config.get("max_train_examples"),
    )  # fmt: skip
    preprocessing = data_lib.Preprocessing.from_dict(config["preprocessing"])
    ds = data_lib.pipeline(source.train_elements(0), preprocessing, batch_size=n, training=False)
    images, _ = next(iter(ds))
    return images.numpy()


def _summarize(plan, state, out: Path) -> dict:
    """Original and result side by side at the run's input: OPs, activations, params,
    accuracy and training time."""
    done = state["done"]
    config = RunDir(out / "train").read_config()
    size = config["preprocessing"]["size"]
    shape = dict(input_shape=(size, size, config["preprocessing"]["channels"]),
                 num_classes=config["num_classes"])  # fmt: skip
    original = ORIGINAL_SPECS[plan["backbone"]]
    result_spec = original.replace(**(done["prune"]["spec"] if "prune" in done
                                      else done["reshape"]))  # fmt: skip
    rows = {}
    for key, spec, run in (("original", original, done.get("original")),
                           ("result", result_spec, done["train"])):  # fmt: skip
        with shapes_only():
            counts = count_model(dwr_zoo.build(spec, **shape))
        rows[key] = {
            "spec": _fields(spec),
            "ops": counts.ops_bops64,
            "activations": counts.activations,
            "params": counts.params,
            "test_accuracy": None if run is None else run["test_accuracy"],
            "train_seconds": None if run is None else run["train_seconds"],
        }
    seconds = [done[k]["train_seconds"] for k in ("pretrain", "train") if k in done]
    rows["result"]["train_seconds"] = sum(seconds)
    return {
        "plan": {k: v for k, v in plan.items() if k != "config"},
        "budget": done["prune"]["budget"] if "prune" in done else None,
        "prune": {k: done["prune"][k] for k in ("eps", "widths")} if "prune" in done else None,
        **rows,
    }


def format_summary(summary: dict) -> str:
    """Original and result side by side, as a table."""

    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    rows = [["", "OPs", "activations", "params", "test accuracy", "train s"]]
    for key in ("original", "result"):
        r = summary[key]
        rows.append([key, f"{r['ops']:.4g}", f"{r['activations']:,}", f"{r['params']:,}",
                     fmt(r["test_accuracy"], ".4f"), fmt(r["train_seconds"], ".0f")])  # fmt: skip
    plan = summary["plan"]
    head = (f"DWR {plan['method']}: {plan['backbone']}, s = {plan['s']:g}, {plan['dataset']}, "
            f"{plan['pretrain_epochs']} + {plan['epochs']} epochs")  # fmt: skip
    return "\n".join([head, format_table(rows)])


def model_card(summary: dict) -> str:
    """The pipeline's result as a markdown model card."""
    plan = summary["plan"]
    result = summary["result"]
    prune = summary["prune"]
    widths = (", ".join(f"{name} {before}→{after}" for name, before, after in prune["widths"])
              if prune else "no pruning (naive reshaping)")  # fmt: skip
    return f"""# Model card: DWR {plan["backbone"]}, s = {plan["s"]:g} ({plan["method"]})

Xue, Lu, Chang, Wei, Wei 2023, "Fast and Accurate Binary Neural Networks based on Depth-Width
Reshaping" (DWR), reproduced by `bnnzoo dwr`.

- data: `{plan["dataset"]}`, recipe `{plan["recipe"]}` {json.dumps(plan["overrides"])}, \
{plan["pretrain_epochs"]} pre-training + {plan["epochs"]} training epochs
- result spec: `{json.dumps(result["spec"])}`
- pruning: OPs budget {summary["budget"] or 0:.4g}; {widths}

```
{format_summary(summary)}
```
"""


def _fields(spec) -> dict:
    """A spec's fields as JSON values (tuples become lists)."""
    return json.loads(json.dumps(asdict(spec)))


def _describe(spec) -> str:
    return f"blocks {list(spec.blocks)}, widths {list(spec.widths)}, align {spec.align}"
