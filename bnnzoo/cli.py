"""The ``bnnzoo`` command: a thin layer over the zoo and analysis packages.

    bnnzoo list [PATTERN]
    bnnzoo summary MODEL [--input-shape H,W,C] [--num-classes N]
    bnnzoo predict MODEL IMAGE... [--weights imagenet|FILE|URL#sha256=...] [--top 5]
    bnnzoo recipes
    bnnzoo train --recipe R [--model M] [--dataset D] [--epochs E] [--batch-size B]
                 [--set key=value ...] --out DIR
    bnnzoo train --resume DIR
    bnnzoo evaluate RUN_DIR [--dataset D]
    bnnzoo reproduce bitnet
    bnnzoo quickstart --out DIR [--dataset auto|fashion_mnist|digits] [--epochs E]
    bnnzoo export MODEL --format tflite|openvino --out PATH [--input-shape H,W,C]
                  [--int8-range=MIN,MAX]
    bnnzoo bench MODEL [--input-shape H,W,C] [--threads 2] [--runs N]
                 [--engines keras,tflite,lce,openvino] [--profile N] [--json]

Bad input exits with status 2 and one line on stderr, never a traceback. A conversion that ran
but disagrees with Keras (``bnnzoo export``) prints its report and exits with status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence

import bnnzoo  # noqa: F401  (selects Keras 2 before TensorFlow is imported)


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"32,32,3"`` → ``(32, 32, 3)``."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise CommandError(
            f"--input-shape expects three positive integers H,W,C, e.g. 224,224,3. Got {text!r}."
        )
    return shape


def parse_range(text: str) -> tuple[float, float]:
    """``"-3,3"`` → ``(-3.0, 3.0)``: an int8 fallback range with MIN < 0 < MAX."""
    from bnnzoo.converters.lce import check_int8_range

    try:
        return check_int8_range(text.split(","))
    except ValueError:
        raise CommandError(
            f"--int8-range expects MIN,MAX with MIN < 0 < MAX, e.g. --int8-range=-3,3 (with '=', "
            f"since the value starts with '-'). Got {text!r}."
        ) from None


def _counts(model):
    from bnnzoo.analysis import count_model

    return count_model(model)


def _figures_row(name: str, counts) -> list[str]:
    return [
        name,
        f"{counts.params:,}",
        f"{counts.binary_macs / 1e9:.3f}",
        f"{counts.float_macs / 1e9:.3f}",
        f"{counts.size_mb:.2f}",
    ]


FIGURE_HEADER = ["model", "parameters", "binary MACs (G)", "float MACs (G)", "size (MiB)"]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _default_figures(names: list[str]) -> dict[str, list[str]]:
    """Figure rows of registered models at their defaults, cached per version of the code.

    Building 65 models at 224×224 takes minutes; the figures only change with bnnzoo's source,
    so they are kept in ``$BNNZOO_CACHE/figures-<hash of the source>.json``.
    """
    import hashlib
    from pathlib import Path

    from bnnzoo import zoo
    from bnnzoo.zoo.weights import cache_dir

    digest = hashlib.sha256()
    for path in sorted(Path(bnnzoo.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    cache = cache_dir().parent / f"figures-{digest.hexdigest()[:16]}.json"
    try:
        figures = json.loads(cache.read_text())
    except (OSError, ValueError):
        figures = {}
    missing = [name for name in names if name not in figures]
    for name in missing:
        figures[name] = _figures_row(name, _counts(zoo.create_model(name)))
    if missing:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_suffix(".partial")
            partial.write_text(json.dumps(figures))
            partial.replace(cache)
        except OSError:
            pass  # a read-only cache only costs time
    return {name: figures[name] for name in names}


def cmd_list(args) -> int:
    from bnnzoo import zoo

    names = zoo.list_models(args.pattern)
    if not names:
        raise CommandError(
            f"No registered model matches {args.pattern!r}. `bnnzoo list` shows all of them."
        )
    figures = _default_figures(names)
    print(_table([FIGURE_HEADER, *(figures[name] for name in names)]))
    print(
        "\nFigures at 224x224x3 with 1000 classes. Size: binary weights at 1 bit, other trainable "
        "weights at 32 bits (BatchNorm moving statistics fold away at inference)."
    )
    return 0


def _build(args):
    from bnnzoo import zoo

    if args.num_classes is not None and args.num_classes < 1:
        raise CommandError(f"--num-classes expects a positive integer. Got {args.num_classes}.")
    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    try:
        return zoo.create_model(args.model, input_shape=shape, num_classes=args.num_classes)
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from err


def cmd_summary(args) -> int:
    import larq as lq

    model = _build(args)
    lq.models.summary(model)
    counts = _counts(model)
    print(_table([FIGURE_HEADER, _figures_row(args.model, counts)]))
    print(
        f"\nbinary parameters {counts.binary_params:,} (1 bit each), "
        f"other parameters {counts.float_params:,} (32 bits each)"
    )
    return 0


def cmd_predict(args) -> int:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from bnnzoo import zoo

    try:
        model = zoo.create_model(args.model, weights=args.weights)
    except (ValueError, FileNotFoundError, OSError) as err:
        raise CommandError(str(err)) from err
    if model.output_shape[-1] != 1000:
        raise CommandError(
            f"predict decodes ImageNet's 1000 classes; {args.model} with these weights has "
            f"{model.output_shape[-1]} outputs."
        )
    from larq_zoo.training.data import preprocess_input

    batch = []
    for path in args.images:
        try:
            with Image.open(path) as image:
                batch.append(preprocess_input(np.asarray(image.convert("RGB"), dtype=np.uint8)))
        except FileNotFoundError:
            raise CommandError(f"Image not found: {path!r}.") from None
        except (UnidentifiedImageError, OSError) as err:
            raise CommandError(f"Cannot read {path!r} as an image: {err}.") from None
    probabilities = model.predict(np.stack(batch), verbose=0)
    for path, top in zip(args.images, decode(probabilities, args.top, args.class_index)):
        print(path)
        for rank, (wnid, label, score) in enumerate(top, 1):
            print(f"  {rank}. {label:<30} {wnid}  {score:.4f}")
    return 0


def decode(probabilities, top: int, class_index: str | None):
    """Top-``top`` (wnid, name, score) per row: larq-zoo's decoder, or a local class index."""
    if class_index is None:
        from larq_zoo.core.utils import decode_predictions

        try:
            return decode_predictions(probabilities, top=top)
        except Exception as err:  # the class index is downloaded by Keras on first use
            raise CommandError(
                f"Could not fetch ImageNet class names ({err}). Pass --class-index with a local "
                f"copy of Keras' imagenet_class_index.json."
            ) from err
    try:
        with open(class_index) as f:
            index = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise CommandError(f"Cannot read class index {class_index!r}: {err}.") from err
    if len(index) != probabilities.shape[-1]:
        raise CommandError(
            f"Class index {class_index!r} has {len(index)} classes; expected "
            f"{probabilities.shape[-1]}."
        )
    results = []
    for row in probabilities:
        order = row.argsort()[::-1][:top]
        results.append([(*index[str(i)], float(row[i])) for i in order])
    return results


def cmd_recipes(args) -> int:
    from bnnzoo.training import recipes

    names = recipes.list_recipes()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {recipes.describe(name)}")
    return 0


def cmd_train(args) -> int:
    from bnnzoo.training import TrainingError, recipes, train

    if args.resume is None and (args.recipe is None or args.out is None):
        raise CommandError("train needs --recipe R and --out DIR, or --resume DIR.")
    if args.resume is not None and (args.recipe or args.out or args.set):
        raise CommandError(
            "--resume DIR continues a run with its saved config; do not combine it with "
            "--recipe, --out or --set."
        )
    try:
        if args.resume is not None:
            result = train({}, args.resume, resume=True, verbose=0 if args.quiet else 1)
        else:
            teacher = [f"distillation.teacher={json.dumps(args.teacher)}"] if args.teacher else []
            config = recipes.resolve(
                args.recipe,
                [*teacher, *args.set],
                model=args.model,
                dataset=args.dataset,
                data_dir=args.data_dir,
                download=args.download or None,
                epochs=args.epochs,
                batch_size=args.batch_size,
                strategy=args.strategy,
            )
            result = train(
                config,
                args.out,
                verbose=0 if args.quiet else 1,
                command=" ".join(["bnnzoo", *sys.argv[1:]]),
            )
    except (ValueError, FileNotFoundError, TrainingError) as err:
        raise CommandError(str(err)) from err
    print(
        f"test accuracy {result.test_accuracy:.4f} after {result.epochs} epochs "
        f"({result.seconds:.0f} s); run in {result.out_dir}"
    )
    return 0


def cmd_evaluate(args) -> int:
    from bnnzoo.training import evaluate_run

    try:
        loss, accuracy = evaluate_run(args.run_dir, args.dataset, data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from err
    print(f"test accuracy {accuracy:.4f}, test loss {loss:.4f}")
    return 0


def cmd_export(args) -> int:
    """Convert and check; exit 1 (report on stdout) when the check fails.

    ``--int8-range`` turns on LCE's int8 mode with that fallback range (``lce.to_tflite``).
    An int8 model cannot agree with float Keras to float rounding, so its check drops that rule
    (``min_rounding_exact=0``) and keeps the bounds on the difference and the top-1 agreement.
    """
    from bnnzoo.converters import VerificationError

    if args.int8:
        raise CommandError(
            "--int8 needs a range: LCE 0.16 cannot calibrate on data and gives every tensor "
            "without a trained range the same fallback. Pass --int8-range=MIN,MAX, e.g. "
            "--int8-range=-3,3."
        )
    int8_range = parse_range(args.int8_range) if args.int8_range is not None else None
    if int8_range is not None and args.format != "tflite":
        raise CommandError(
            f"--int8-range applies to --format tflite only. Got --format {args.format}; drop "
            f"--int8-range or export to tflite."
        )
    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    options = dict(
        input_shape=shape, num_classes=args.num_classes, weights=args.weights,
        verify=not args.no_verify, n=args.n,
    )  # fmt: skip
    try:
        if args.format == "tflite":
            from bnnzoo.converters import export_tflite

            lossy = {"min_rounding_exact": 0.0} if int8_range is not None else {}
            report = export_tflite(args.model, args.out, target=args.target,
                                   int8=int8_range is not None, int8_range=int8_range,
                                   **lossy, **options)  # fmt: skip
        else:
            from bnnzoo.converters.openvino import export_openvino

            report = export_openvino(args.model, args.out, threads=args.threads, **options)
    except VerificationError as err:
        # the conversion ran and wrote its file, but disagrees with Keras: a result, not a
        # usage error
        print(err.export_report if err.export_report is not None else err)
        reason = err.report.failure_message() if err.report is not None else str(err)
        print(f"bnnzoo export: verification failed: {reason}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from err
    print(report)
    return 0


def parse_engines(text: str) -> tuple[str, ...]:
    """``"lce,openvino"`` → ``("lce", "openvino")``; every name one of ``bench.ENGINES``."""
    from bnnzoo.converters.bench import ENGINES

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if not names or unknown:
        raise CommandError(
            f"--engines expects a comma-separated selection of {','.join(ENGINES)}. Got "
            f"{text!r}{f' (unknown: {unknown})' if unknown else ''}; e.g. --engines lce,openvino."
        )
    return tuple(names)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout, by Python or by native libraries (converters,
    runtimes), to stderr, so that stdout carries only the JSON printed afterwards."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (embedded); Python's stdout is still redirected
        saved = None
    if saved is not None:
        os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        if saved is not None:
            _flush_c_streams()  # what C's stdio still buffers belongs to stderr too
            os.dup2(saved, 1)
            os.close(saved)


def _flush_c_streams() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # no C library to ask (not POSIX)
        ctypes.CDLL(None).fflush(None)


def cmd_bench(args) -> int:
    for name, value in (("--threads", args.threads), ("--runs", args.runs)):
        if value < 1:
            raise CommandError(f"{name} expects a positive integer, e.g. {name} 2. Got {value}.")
    if args.warmup < 0:
        raise CommandError(f"--warmup expects an integer >= 0, e.g. 3. Got {args.warmup}.")
    if args.profile < 0:
        raise CommandError(f"--profile expects an integer >= 0, e.g. 15. Got {args.profile}.")
    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    engines = parse_engines(args.engines)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    from bnnzoo.converters.bench import bench

    redirect = _stdout_to_stderr() if args.json else contextlib.nullcontext()
    try:
        with redirect:
            report = bench(
                args.model, input_shape=shape, threads=args.threads, runs=args.runs,
                warmup=args.warmup, engines=engines, seed=args.seed, profile=args.profile,
                log=log,
            )  # fmt: skip
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(" ".join(str(err).split())) from err
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.format())
    return 0


def cmd_quickstart(args) -> int:
    from bnnzoo.converters import VerificationError
    from bnnzoo.quickstart import quickstart
    from bnnzoo.training import TrainingError

    try:
        quickstart(
            args.out, dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs,
            overrides=tuple(args.set), threads=args.threads, runs=args.runs,
            verbose=0 if args.quiet else 1,
        )  # fmt: skip
    except VerificationError as err:
        print(f"bnnzoo quickstart: verification failed: {err}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, TrainingError) as err:
        raise CommandError(str(err)) from err
    return 0


REPRODUCIBLE = ("bitnet",)


def cmd_reproduce(args) -> int:
    from bnnzoo.zoo import bitnet_tables

    rows = bitnet_tables.reproduce_bitnet()
    print(bitnet_tables.format_bitnet_report(rows))
    # the Wide ResNet FLOPs gap is explained in the report's note, not a failure
    failed = [
        row
        for row in rows
        if not row.params_ok or (row.flops_ok is False and "bitnet" in row.paper.model)
    ]
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    from bnnzoo.converters.bench import ENGINES

    parser = argparse.ArgumentParser(
        prog="bnnzoo", description="A Keras model zoo of binarized neural networks."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="registered models with parameters, MACs and size")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. '*densenet*'")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("summary", help="larq's layer summary of a model plus its figures")
    p.add_argument("model")
    p.add_argument("--input-shape", default=None, metavar="H,W,C")
    p.add_argument("--num-classes", type=int, default=None, metavar="N")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("predict", help="top-5 ImageNet classes of images")
    p.add_argument("model")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--weights", default="imagenet", help="imagenet, a file, or URL#sha256=...")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--class-index", default=None, help="local imagenet_class_index.json")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("recipes", help="the named training recipes")
    p.set_defaults(func=cmd_recipes)

    p = sub.add_parser("train", help="train a zoo model with a recipe, or resume a run")
    p.add_argument("--recipe")
    p.add_argument("--out", help="run directory (created)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    p.add_argument("--model")
    p.add_argument("--dataset", help="digits, fashion_mnist, tfds:NAME or folder:PATH")
    p.add_argument("--data-dir")
    p.add_argument("--download", action="store_true", help="let tfds download the dataset")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--strategy", choices=("auto", "default", "mirrored", "multiworker"))
    p.add_argument("--teacher", help="saved Keras model whose soft targets distill the student")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", help="convert a zoo model or a saved model for deployment")
    p.add_argument("model", help="a registered name or a saved model (.keras/.h5)")
    p.add_argument("--format", choices=("tflite", "openvino"), required=True)
    p.add_argument("--out", required=True, help=".tflite file, or .xml file or directory")
    p.add_argument("--input-shape", default=None, metavar="H,W,C")
    p.add_argument("--num-classes", type=int, default=None, metavar="N")
    p.add_argument("--weights", default=None, help="for a zoo name: imagenet, FILE or URL")
    p.add_argument("--target", choices=("arm", "xcore"), default="arm", help="tflite only")
    p.add_argument(
        "--int8-range",
        default=None,
        metavar="MIN,MAX",
        help="tflite only: int8 float layers with this fallback activation range (LCE's dummy "
        "quantization; write --int8-range=-3,3)",
    )
    p.add_argument("--int8", action="store_true", help=argparse.SUPPRESS)  # explains the above
    p.add_argument("--threads", type=int, default=2, help="openvino only")
    p.add_argument("--n", type=int, default=8, help="random inputs for the check")
    p.add_argument("--no-verify", action="store_true", help="skip the check against Keras")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "bench", help="batch-1 latency on Keras, float TFLite, LCE and OpenVINO, side by side"
    )
    p.add_argument("model", help="a registered name or a saved model (.keras/.h5)")
    p.add_argument("--input-shape", default=None, metavar="H,W,C", help="for a registered name")
    p.add_argument("--threads", type=int, default=2, help="threads of every engine")
    p.add_argument("--runs", type=int, default=20, help="timed runs per engine")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per engine first")
    p.add_argument("--engines", default=",".join(ENGINES), metavar="E1,E2,...",
                   help=f"a selection of {','.join(ENGINES)}")  # fmt: skip
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="also list OpenVINO's N slowest nodes")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "quickstart",
        help="train a small binary model, export to TFLite and OpenVINO, verify, benchmark",
    )
    p.add_argument("--out", required=True, help="a new directory for the run and the report")
    p.add_argument("--dataset", default="auto", choices=("auto", "fashion_mnist", "digits"),
                   help="auto: Fashion-MNIST where its files are, else digits")  # fmt: skip
    p.add_argument("--data-dir", help="where Fashion-MNIST's IDX files are")
    p.add_argument("--epochs", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override the quickstart recipe")  # fmt: skip
    p.add_argument("--threads", type=int, default=2, help="inference threads of every engine")
    p.add_argument("--runs", type=int, default=20, help="timed runs per engine")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_quickstart)

    p = sub.add_parser("reproduce", help="a paper's published figures next to the built models")
    p.add_argument("paper", choices=REPRODUCIBLE)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("evaluate", help="test accuracy of a trained run")
    p.add_argument("run_dir")
    p.add_argument("--dataset")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommandError as err:
        print(f"bnnzoo {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
