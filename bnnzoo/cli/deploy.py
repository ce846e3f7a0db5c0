"""``bnnzoo export`` and ``bench``: a model converted for deployment and checked against Keras,
and its latency and throughput on every engine (``bnnzoo.converters``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from bnnzoo.cli._common import CommandError, parse_range, parse_shape, stdout_to_stderr
from bnnzoo.converters import TARGETS, VerificationError, export_tflite
from bnnzoo.converters.bench import ALL_ENGINES, ENGINES, bench


def add_export(sub) -> None:
    p = sub.add_parser("export", help="convert a zoo model or a saved model for deployment")
    p.add_argument("model", help="a registered name or a saved model (.keras/.h5)")
    p.add_argument("--format", choices=("tflite", "openvino"), required=True)
    p.add_argument("--out", required=True, help=".tflite file, or .xml file or directory")
    p.add_argument("--input-shape", default=None, metavar="H,W,C")
    p.add_argument("--num-classes", type=int, default=None, metavar="N")
    p.add_argument("--weights", default=None, help="for a zoo name: imagenet, FILE or URL")
    p.add_argument("--target", choices=TARGETS, default="arm", help="tflite only")
    p.add_argument(
        "--int8-range",
        default=None,
        metavar="MIN,MAX",
        help="tflite only: int8 float layers with this fallback activation range (LCE's dummy "
        "quantization; write --int8-range=-3,3)",
    )
    p.add_argument("--int8", action="store_true", help=argparse.SUPPRESS)  # explains the above
    p.add_argument("--threads", type=int, default=2, help="openvino only")
    p.add_argument(
        "--precision",
        default=None,
        metavar="f32|bf16|auto",
        help="openvino only: float layers in f32 (default when not given: the check against "
        "Keras is exact), bf16, or auto (bf16 where the CPU has AVX512_BF16 or AMX)",
    )
    p.add_argument(
        "--int8-stem",
        default=None,
        metavar="IMAGES.npy",
        help="openvino only: run the stem (the float convolution reading the input) in int8, "
        "calibrated on these real images, an (n, H, W, C) array preprocessed like the model's "
        "inputs, saved with numpy.save (a few hundred images; at least 16)",
    )
    p.add_argument("--n", type=int, default=8, help="random inputs for the check")
    p.add_argument("--no-verify", action="store_true", help="skip the check against Keras")
    p.set_defaults(func=cmd_export)


def add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="latency and throughput on Keras, float TFLite, LCE and OpenVINO, side by side and "
        "alone, against this machine's measured limit; says which engine to use",
    )
    p.add_argument("model", help="a registered name or a saved model (.keras/.h5)")
    p.add_argument("--input-shape", default=None, metavar="H,W,C", help="for a registered name")
    p.add_argument("--threads", type=int, default=2, help="threads of every engine")
    p.add_argument(
        "--runs", type=int, default=20, help="timed runs per engine, taking turns, and again alone"
    )
    p.add_argument(
        "--warmup", type=int, default=3, help="untimed runs per engine before each block"
    )
    p.add_argument(
        "--block", type=int, default=20, help="consecutive timed runs of one engine per turn"
    )
    p.add_argument("--batch", type=int, default=1, help="images per run; the report adds images/s")
    p.add_argument(
        "--precision",
        default="auto",
        metavar="f32|bf16|auto",
        help="float layers of the openvino engine: auto (default: bf16 where the CPU has "
        "AVX512_BF16 or AMX, else f32), f32 or bf16",
    )
    p.add_argument(
        "--engines",
        default=",".join(ENGINES),
        metavar="E1,E2,...",
        help=f"a selection of {','.join(ALL_ENGINES)} (default {','.join(ENGINES)}); "
        f"openvino-f32,openvino-bf16 time OpenVINO in both precisions side by side",
    )
    p.add_argument(
        "--profile", type=int, default=0, metavar="N", help="also list OpenVINO's N slowest nodes"
    )
    p.add_argument(
        "--images",
        default=None,
        metavar="IMAGES.npy",
        help="check every engine against Keras on these real images instead of random inputs: "
        "an (n, H, W, C) array preprocessed like the model's inputs, saved with numpy.save (a "
        "few hundred are plenty); a bf16 engine is then judged by the bf16 criteria on them",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_bench)


def cmd_export(args) -> int:
    """Convert and check; exit 1 (report on stdout) when the check fails.

    ``--int8-range`` turns on LCE's int8 mode with that fallback range (``lce.to_tflite``).
    An int8 model cannot agree with float Keras to float rounding, so its check drops that rule
    (``min_rounding_exact=0``) and keeps the bounds on the difference and the top-1 agreement.
    """
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
    if args.precision is not None and args.format != "openvino":
        raise CommandError(
            f"--precision applies to --format openvino only. Got --format {args.format}; drop "
            f"--precision or export to openvino."
        )
    if args.int8_stem is not None and args.format != "openvino":
        raise CommandError(
            f"--int8-stem applies to --format openvino only. Got --format {args.format}; for "
            f"tflite use --int8-range, or export to openvino."
        )
    calibration = load_images(args.int8_stem) if args.int8_stem is not None else None
    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    options = dict(
        input_shape=shape,
        num_classes=args.num_classes,
        weights=args.weights,
        verify=not args.no_verify,
        n=args.n,
    )
    try:
        if args.format == "tflite":
            lossy = {"min_rounding_exact": 0.0} if int8_range is not None else {}
            report = export_tflite(
                args.model,
                args.out,
                target=args.target,
                int8=int8_range is not None,
                int8_range=int8_range,
                **lossy,
                **options,
            )
        else:
            from bnnzoo.converters.openvino import export_openvino  # imports OpenVINO
            from bnnzoo.converters.openvino.runtime import resolve_precision

            # only when given: the default (f32) is export_openvino's own
            if args.precision is not None:
                resolve_precision(args.precision)  # a bad value stops here, before any work
                options["precision"] = args.precision
            if calibration is not None:
                options["int8_stem"] = calibration
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


def load_images(path: str, option: str = "--int8-stem"):
    """The array saved at ``path`` (``numpy.save``), or a CommandError about ``option`` that
    says what is wrong; its shape is checked against the model by the exporter or bench."""
    import numpy as np

    if not path.endswith(".npy"):
        raise CommandError(
            f"{option} expects a .npy file of images (numpy.save(path, images), images of "
            f"shape (n, H, W, C) preprocessed like the model's inputs). Received: {path!r}."
        )
    try:
        images = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CommandError(f"{option}: no file at {path!r}.") from None
    except (OSError, EOFError, ValueError) as err:
        raise CommandError(
            f"{option}: {path!r} is not a numpy array file ({err}). Save the images with "
            f"numpy.save(path, images)."
        ) from None
    return images


def cmd_bench(args) -> int:
    # the counts and the engines are checked by ``bench`` before it loads the model, the
    # images' shape once it has
    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    images = load_images(args.images, "--images") if args.images is not None else None

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    # with --json, stdout carries the JSON object only
    redirect = stdout_to_stderr() if args.json else contextlib.nullcontext()
    try:
        with redirect:
            report = bench(
                args.model,
                input_shape=shape,
                threads=args.threads,
                runs=args.runs,
                warmup=args.warmup,
                block=args.block,
                batch=args.batch,
                precision=args.precision,
                engines=args.engines.replace(" ", ""),
                seed=args.seed,
                profile=args.profile,
                images=images,
                log=log,
            )
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(" ".join(str(err).split())) from err
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.format())
    return 0
