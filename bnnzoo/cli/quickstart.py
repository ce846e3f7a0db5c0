"""``bnnzoo quickstart``: train, export, verify and benchmark a small binary model in one go
(``bnnzoo.quickstart``)."""

from __future__ import annotations

import sys

from bnnzoo.cli._common import CommandError
from bnnzoo.converters import VerificationError
from bnnzoo.quickstart import DATASETS, quickstart
from bnnzoo.training import TrainingError
from bnnzoo.training.rundir import check_output_dir


def add_quickstart(sub) -> None:
    p = sub.add_parser(
        "quickstart",
        help="train a small binary model, export to TFLite and OpenVINO, verify, benchmark",
    )
    p.add_argument("--out", required=True, help="a new directory for the run and the report")
    p.add_argument(
        "--dataset",
        default="auto",
        choices=DATASETS,
        help="auto: Fashion-MNIST where its files are, else digits (and says how to get "
        "Fashion-MNIST)",
    )
    p.add_argument("--data-dir", help="where Fashion-MNIST's IDX files are")
    p.add_argument("--epochs", type=int)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the quickstart recipe",
    )
    p.add_argument("--threads", type=int, default=2, help="inference threads of every engine")
    p.add_argument("--runs", type=int, default=20, help="timed runs per engine")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_quickstart)


def cmd_quickstart(args) -> int:
    try:
        check_output_dir(args.out)  # the library reads it as a directory
        quickstart(
            args.out,
            dataset=args.dataset,
            data_dir=args.data_dir,
            epochs=args.epochs,
            overrides=tuple(args.set),
            threads=args.threads,
            runs=args.runs,
            verbose=0 if args.quiet else 1,
        )
    except VerificationError as err:
        print(f"bnnzoo quickstart: verification failed: {err}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, TrainingError) as err:
        raise CommandError(str(err)) from err
    return 0
