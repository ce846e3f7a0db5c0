"""``bnnzoo quickstart``: the whole path of a binary network in one command, on real data.

1. train a small binary ResNetE (recipe ``quickstart``) on Fashion-MNIST when its files are on
   this machine, else on scikit-learn's digits (always available), saying so at the start and
   the end with the command that installs Fashion-MNIST (``FASHION_MNIST_INSTALL``);
2. export it to TFLite through Larq Compute Engine and to OpenVINO with ``BinaryConvolution``,
   each checked against Keras (``bnnzoo.converters``);
3. run Keras, LCE and OpenVINO on the same real test images and compare their accuracy and
   top-1 agreement;
4. benchmark every engine side by side (``bnnzoo.converters.bench``), each checked against Keras
   on those test images first (an engine failing in bf16 is measured again in f32), which names
   the engine to use on this machine for this model and says why each engine was or was not
   chosen;
5. write ``report.md`` and ``report.json`` and print the report.

``quickstart`` runs these as one function each, in order.

Everything lands in one directory: the training run (``run/``), ``model.tflite``,
``openvino/*.xml|bin`` and the reports. On 2 CPU cores it takes about 5 minutes with
Fashion-MNIST (``benchmarks/README.md`` has the measured time).

Example:
    >>> report = quickstart("quickstart-out")
    >>> report["engines_on_test_images"]["lce"]["accuracy"]
    0.887
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnnzoo._checks import one_of, positive_int
from bnnzoo._io import write_atomically
from bnnzoo.training import data as data_lib
from bnnzoo.training.rundir import RunDir

DATASETS = ("auto", "fashion_mnist", "digits")
# Debian's and Ubuntu's package of Fashion-MNIST's IDX files (in data_lib.FASHION_MNIST_DIRS)
FASHION_MNIST_INSTALL = "sudo apt-get install dataset-fashion-mnist"


def choose_dataset(dataset: str = "auto", data_dir: str | os.PathLike | None = None) -> str:
    """``"auto"``: Fashion-MNIST where its IDX files are found (``data_dir`` or Debian's
    location), else scikit-learn's digits."""
    one_of("dataset", dataset, DATASETS)
    if dataset != "auto":
        return dataset
    try:
        data_lib.load_dataset("fashion_mnist", data_dir=data_dir, max_train=1, max_test=1)
    except FileNotFoundError:
        return "digits"
    return "fashion_mnist"


def fallback_note(data_dir: str | os.PathLike | None = None) -> str:
    """What ``quickstart`` says when ``"auto"`` found no Fashion-MNIST and trains on digits."""
    looked = str(data_dir) if data_dir else ", ".join(data_lib.FASHION_MNIST_DIRS)
    return (
        f"Note: Fashion-MNIST is not on this machine (looked in {looked}), so this run trains on "
        f"scikit-learn's digits (1,797 images of 8x8 pixels) instead. To get Fashion-MNIST: "
        f"{FASHION_MNIST_INSTALL}, then run this again."
    )


def quickstart(
    out_dir: str | os.PathLike,
    *,
    dataset: str = "auto",
    data_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    overrides: tuple[str, ...] = (),
    threads: int = 2,
    runs: int = 20,
    eval_images: int = 1000,
    verbose: int = 1,
) -> dict:
    """Train, export, verify and benchmark a small binary model; returns the report as a dict.

    Args:
        out_dir: a new or empty directory for everything the run writes.
        dataset: ``"auto"``, ``"fashion_mnist"`` or ``"digits"``.
        data_dir: where Fashion-MNIST's IDX files are, if not in Debian's location.
        epochs: training epochs (None: the recipe's; digits gets 30, it is tiny).
        overrides: ``--set`` style overrides of the ``quickstart`` recipe.
        threads: inference threads of every engine in the benchmark.
        runs: timed runs per engine.
        eval_images: test images on which every engine's accuracy is measured, and on which
            the benchmark checks every engine against Keras before timing it.
        verbose: 1 prints progress and the report, 0 is silent.

    Raises:
        ValueError: bad arguments, or ``out_dir`` already holds files.
        bnnzoo.converters.VerificationError: an exported model disagrees with Keras.
    """
    out = _check_arguments(out_dir, threads=threads, runs=runs, eval_images=eval_images)
    say = print if verbose else (lambda *a, **k: None)
    clock = _Phases()
    trained = clock.run("train_s", _train, out, dataset, data_dir, epochs, overrides, verbose, say)
    exported = clock.run("export_s", _export, trained.model, out, threads, say)
    tested = clock.run("engines_s", _run_on_test_images, trained.model, out, exported.openvino,
                       threads, eval_images, say)  # fmt: skip
    timing = clock.run("bench_s", _benchmark, trained.model, tested.images, threads, runs, say)
    report = _assemble_report(out, trained, exported, tested, timing, clock.seconds())
    _write_report(out, report, timing.format(), trained.note, say)
    return report


class _Phases:
    """Seconds of each step, and of all of them from the start (``total_s``)."""

    def __init__(self):
        self.start = time.perf_counter()
        self.phases: dict[str, float] = {}

    def run(self, name: str, step, *args):
        # the first step counts from the start, as "total" does
        tick = time.perf_counter() if self.phases else self.start
        result = step(*args)
        self.phases[name] = time.perf_counter() - tick
        return result

    def seconds(self) -> dict[str, float]:
        return {**self.phases, "total_s": time.perf_counter() - self.start}


def _check_arguments(out_dir, *, threads: int, runs: int, eval_images: int) -> Path:
    """The counts, and an output directory that is new or empty, before any work."""
    for name, value in (("threads", threads), ("runs", runs), ("eval_images", eval_images)):
        positive_int(name, value)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ValueError(
            f"{str(out)!r} is not empty. Pass a new directory to --out (quickstart never "
            f"overwrites a previous run)."
        )
    return out


@dataclass(frozen=True)
class _Trained:
    result: object  # training.loop.TrainResult
    config: dict
    dataset: str
    note: str | None  # the fallback note when "auto" found no Fashion-MNIST

    @property
    def model(self):
        return self.result.model


def _train(out: Path, dataset, data_dir, epochs, overrides, verbose: int, say) -> _Trained:
    """Step 1: the ``quickstart`` recipe on Fashion-MNIST, or digits where it is missing."""
    from bnnzoo.training import loop, recipes

    chosen = choose_dataset(dataset, data_dir)
    note = fallback_note(data_dir) if dataset == "auto" and chosen == "digits" else None
    if note:
        say(note)
    fields = {"dataset": chosen, "data_dir": str(data_dir) if data_dir else None}
    if chosen == "digits":
        fields.update(epochs=30, batch_size=64)
    if epochs is not None:
        fields["epochs"] = epochs
    config = recipes.resolve("quickstart", overrides, **fields)
    say(f"[1/4] training {config['model']} on {chosen} for {config['epochs']} epochs")
    result = loop.train(config, out / "run", verbose=verbose, command="bnnzoo quickstart")
    return _Trained(result, config, chosen, note)


@dataclass(frozen=True)
class _Exported:
    tflite: object  # lce.ExportReport
    openvino: object  # openvino.OpenVINOExportReport


def _export(model, out: Path, threads: int, say) -> _Exported:
    """Step 2: TFLite (LCE) and OpenVINO, each checked against Keras by its exporter."""
    from bnnzoo.converters import export_tflite
    from bnnzoo.converters.openvino import export_openvino

    say("[2/4] exporting to TFLite (LCE) and OpenVINO, each checked against Keras")
    tflite = export_tflite(model, out / "model.tflite")
    openvino = export_openvino(model, out / "openvino", threads=threads)
    return _Exported(tflite, openvino)


@dataclass(frozen=True)
class _Tested:
    images: np.ndarray
    labels: np.ndarray
    test_size: int  # images in the test split the run was evaluated on
    on_test: dict  # engine → accuracy, top-1 agreement and max |diff| to Keras


def _run_on_test_images(model, out: Path, openvino, threads: int, count: int, say) -> _Tested:
    """Step 3: Keras, LCE and OpenVINO on the same real test images."""
    from bnnzoo.converters import lce_engine
    from bnnzoo.converters.openvino import compile as ov_compile
    from bnnzoo.converters.openvino import predict
    from bnnzoo.converters.reference import keras_outputs

    say(f"[3/4] Keras, LCE and OpenVINO on {count} real test images")
    images, labels, test_size = _test_images(out / "run", count)
    keras_logits = keras_outputs(model, images, batch_size=256)
    run_lce = lce_engine((out / "model.tflite").read_bytes(), num_threads=threads)
    engines = {
        "keras": keras_logits,
        "lce": run_lce(images),
        "openvino": predict(ov_compile(openvino.path, threads=threads), images),
    }
    keras_top1 = keras_logits.argmax(-1)
    on_test = {
        name: {
            "accuracy": float(np.mean(logits.argmax(-1) == labels)),
            "top1_agreement_with_keras": float(np.mean(logits.argmax(-1) == keras_top1)),
            "max_abs_diff_to_keras": float(np.max(np.abs(logits - keras_logits))),
        }
        for name, logits in engines.items()
    }
    return _Tested(images, labels, test_size, on_test)


def _benchmark(model, images: np.ndarray, threads: int, runs: int, say):
    """Step 4: every engine side by side, each checked on the real test images first."""
    from bnnzoo.converters import bench as bench_lib

    say(
        f"[4/4] benchmarking every engine ({runs} runs, {threads} threads), each checked on "
        f"{len(images)} real test images first"
    )
    return bench_lib.bench(model, threads=threads, runs=runs, images=images)


def _assemble_report(out: Path, trained: _Trained, exported: _Exported, tested: _Tested, timing,
                     seconds: dict) -> dict:  # fmt: skip
    """The report as JSON-able data."""
    tflite, openvino, model = exported.tflite, exported.openvino, trained.model
    bin_bytes = sum(p.stat().st_size for p in (out / "openvino").glob("*.bin"))
    return {
        "dataset": trained.dataset,
        "dataset_note": trained.note,
        "model": trained.config["model"],
        "model_kwargs": trained.config["model_kwargs"],
        "input_shape": list(model.input_shape[1:]),
        "epochs": trained.result.epochs,
        # "auto" resolved: what the run trained in (its evaluation is in float32)
        "precision": RunDir(out / "run").read_config()["precision"],
        "test_accuracy": trained.result.test_accuracy,
        "test_images": tested.test_size,
        **model_counts(model),
        "tflite": {
            "path": str(out / "model.tflite"),
            "bytes": tflite.size.file_bytes,
            "ratio_to_1bit": tflite.size.ratio,
            "binary_mac_share_in_lcebconv2d": tflite.macs.share_percent,
            "verified": None if not tflite.checks else tflite.passed,
            "conversion_exact": None if tflite.conversion is None else tflite.conversion.passed,
        },
        "openvino": {
            "path": str(openvino.path),
            "bin_bytes": bin_bytes,
            "all_binary_as_binaryconvolution": openvino.all_binary,
            "verified": None if not openvino.checks else openvino.passed,
            "conversion_exact": None if openvino.conversion is None else openvino.conversion.passed,
        },
        "engines_on_test_images": {"images": len(tested.labels), **tested.on_test},
        "recommended_engine": timing.recommended_engine,
        "recommendation_reasons": timing.reasons,
        "bench": timing.as_dict(),
        "seconds": seconds,
    }


def _write_report(out: Path, report: dict, bench_table: str, note: str | None, say) -> None:
    """Step 5: ``report.json`` and ``report.md``, and the report printed."""
    write_atomically(out / "report.json", json.dumps(report, indent=2))
    text = format_report(report, bench_table)
    write_atomically(out / "report.md", text)
    say(text)
    if note:
        say(note)


def model_counts(model) -> dict:
    """Parameters, MACs and 1-bit size of ``model`` (``bnnzoo.analysis.count_model``)."""
    from bnnzoo.analysis import count_model

    counts = count_model(model)
    return {
        "params": counts.params,
        "binary_params": counts.binary_params,
        "binary_macs": counts.binary_macs,
        "float_macs": counts.float_macs,
        "size_1bit_mib": counts.size_mb,
    }


def _test_images(run_dir: Path, count: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The first ``count`` test images of a run's dataset, preprocessed as in training, their
    labels, and the size of the test split the run was evaluated on."""
    saved = RunDir(run_dir).read_config()
    source = data_lib.load_dataset(
        saved["dataset"], data_dir=saved.get("data_dir"), max_test=saved.get("max_test_examples")
    )
    preprocessing = data_lib.Preprocessing.from_dict(saved["preprocessing"])
    batches = data_lib.pipeline(
        source.test_elements().take(count), preprocessing, batch_size=256, training=False
    )
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in batches))
    return np.concatenate(images), np.concatenate(labels), source.num_test


def format_report(report: dict, bench_table: str) -> str:
    """The markdown report that ``bnnzoo quickstart`` prints and writes to ``report.md``."""
    tfl, ovn, on_test = report["tflite"], report["openvino"], report["engines_on_test_images"]
    engine_rows = "\n".join(
        f"| {name} | {row['accuracy']:.4f} | {row['top1_agreement_with_keras']:.4f} | "
        f"{row['max_abs_diff_to_keras']:.3g} |"
        for name, row in on_test.items()
        if name != "images"
    )
    seconds = report["seconds"]
    share = tfl["binary_mac_share_in_lcebconv2d"]
    return f"""# bnnzoo quickstart

- data: `{report["dataset"]}`, input {"×".join(map(str, report["input_shape"]))}
- model: `{report["model"]}` {json.dumps(report["model_kwargs"])}: {report["params"]:,} \
parameters ({report["binary_params"]:,} binary), {report["binary_macs"] / 1e6:.1f} M binary MACs, \
{report["float_macs"] / 1e6:.2f} M float MACs, {report["size_1bit_mib"]:.3f} MiB at 1 bit
- Keras test accuracy after {report["epochs"]} epochs: **{report["test_accuracy"]:.4f}** \
({report["test_images"]} test images; trained in {report["precision"]}, evaluated in float32)
- TFLite (LCE): {tfl["bytes"] / 2**10:.1f} KiB ({tfl["ratio_to_1bit"]:.2f}× the 1-bit figure), \
{"n/a" if share is None else f"{share:.1f}%"} of binary MACs in LceBconv2d, check against Keras \
{_verdict(tfl["verified"])} (the conversion with tie-free weights, exact on every input: \
{_verdict(tfl["conversion_exact"])})
- OpenVINO: {ovn["bin_bytes"] / 2**10:.1f} KiB of weights (float32 .bin), every binary conv as \
BinaryConvolution: {"yes" if ovn["all_binary_as_binaryconvolution"] else "NO"}, check against \
Keras {_verdict(ovn["verified"])} (the conversion with tie-free weights, exact on every input: \
{_verdict(ovn["conversion_exact"])})
- Engine to use on this machine for this model: {_engine_to_use(report)}

## Every engine on the same {on_test["images"]} real test images

| engine | accuracy | top-1 agreement with Keras | max abs logit difference |
|---|---|---|---|
{engine_rows}

## Which engine, and why

{_why(report)}

## Latency, batch 1

```
{bench_table}
```

Time: train {seconds["train_s"]:.0f} s, export {seconds["export_s"]:.0f} s, engines \
{seconds["engines_s"]:.0f} s, benchmark {seconds["bench_s"]:.0f} s; \
total {seconds["total_s"]:.0f} s.
"""


def _engine_to_use(report: dict) -> str:
    best = report["recommended_engine"]
    if best is None:
        return "none: no engine agreed with Keras in the benchmark"
    from bnnzoo.converters.bench import ENGINE_TITLES, RECOMMENDATION_RULE

    engine = report["bench"]["engines"][best]
    precision = f", float layers in {engine['precision']}" if best == "openvino" else ""
    return (
        f"**{ENGINE_TITLES[best]}**{precision} ({engine['alone_median_ms']:.2f} ms per image "
        f"alone; {RECOMMENDATION_RULE})"
    )


def _why(report: dict) -> str:
    """What the benchmark tried and why each engine was or was not chosen, one line each."""
    bench = report["bench"]
    checked = next(iter(bench["agreement"].values()), {}).get("n", 0)
    tried = (
        f"Every engine was checked against Keras on {checked} {bench['checked_on']} before it "
        f"was timed, by the criteria of its float precision (`verify.tolerance`); an engine in "
        f"bf16 that fails its check is measured again in f32 (`openvino-f32`)."
    )
    for f32, failed in bench["remeasured_in_f32"].items():
        tried += f" Here {failed} failed its check in bf16, so {f32} was measured as well."
    lines = "\n".join(f"- {line}" for line in report["recommendation_reasons"].values())
    return f"{tried}\n\n{lines}"


def _verdict(passed) -> str:
    return "skipped" if passed is None else ("passed" if passed else "FAILED")
