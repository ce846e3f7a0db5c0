"""The ``bnnzoo`` command: a thin layer over the zoo, training and converters packages.

    bnnzoo [--verbose] COMMAND ...
    bnnzoo list [PATTERN]
    bnnzoo summary MODEL [--input-shape H,W,C] [--num-classes N]
    bnnzoo predict MODEL IMAGE... [--weights imagenet|FILE|URL#sha256=...] [--top 5]
                   [--class-index FILE]
    bnnzoo analyze MODEL... [--input-shape H,W,C] [--layers] [--plot FILE.png] [--metric n2]
                   [--json]
    bnnzoo recipes
    bnnzoo train --recipe R [--model M] [--dataset D] [--epochs E] [--batch-size B]
                 [--set key=value ...] --out DIR
    bnnzoo train --resume DIR
    bnnzoo evaluate RUN_DIR [--dataset D]
    bnnzoo reproduce [bitnet|igp|dwr|binarydensenet|wu|reactnet]
    bnnzoo dwr --backbone resnet20 --s 3 [--method dwr|naive] [--dataset D] [--pretrain-epochs 5]
               [--epochs E] [--budget OPS] [--set key=value ...] --out DIR
    bnnzoo dwr --resume DIR
    bnnzoo two-step --recipe R [--quick] [--teacher FILE | --teacher-recipe R] [--epochs E]
                    [--set key=value ...] --out DIR
    bnnzoo two-step --resume DIR
    bnnzoo quickstart --out DIR [--dataset auto|fashion_mnist|digits] [--epochs E]
    bnnzoo export MODEL --format tflite|openvino --out PATH [--input-shape H,W,C]
                  [--int8-range=MIN,MAX]
    bnnzoo bench MODEL [--input-shape H,W,C] [--threads 2] [--runs N]
                 [--engines keras,tflite,lce,openvino] [--images IMAGES.npy] [--profile N] [--json]

Every command prints what it found and nothing else: TensorFlow's C++ start-up lines, the
converters' chatter, Keras's and AutoGraph's warnings stay hidden unless ``--verbose`` is given
(before or after COMMAND). ``--quiet`` of ``train``/``quickstart`` hides their progress bar.

Bad input exits with status 2 and one line on stderr (what was received, what was expected, how
to fix it), never a traceback, and before any work starts: nothing is written. argparse's own
errors (an unknown option, a value that is not a number) are one line too. A conversion that ran
but disagrees with Keras (``bnnzoo export``, ``bnnzoo quickstart``) reports it and exits with
status 1.

One module per group of commands, each adding its subcommands' parsers and running them:
``models`` (list, summary, predict), ``analyze``, ``train`` (recipes, train, evaluate),
``deploy`` (export, bench), ``quickstart``, ``reproduce``, ``dwr`` and ``two_step``; ``_common``
holds what they share.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import bnnzoo  # noqa: F401  (selects Keras 2 before TensorFlow is imported)
from bnnzoo._environment import VERBOSE_FLAG
from bnnzoo.cli import analyze, deploy, dwr, models, quickstart, reproduce, train, two_step
from bnnzoo.cli._common import (
    CommandError,
    Parser,
    UsageError,
    drop_native_log_lines,
    quiet_python_logs,
)

# every subcommand, in the order ``bnnzoo --help`` lists them
COMMANDS = (
    models.add_list,
    models.add_summary,
    models.add_predict,
    analyze.add_analyze,
    train.add_recipes,
    train.add_train,
    deploy.add_export,
    deploy.add_bench,
    quickstart.add_quickstart,
    reproduce.add_reproduce,
    train.add_evaluate,
    dwr.add_dwr,
    two_step.add_two_step,
)


VERBOSE_HELP = "show TensorFlow's logs and third-party warnings too"


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets ``func``, the function that runs it."""
    parser = Parser(prog="bnnzoo", description="A Keras model zoo of binarized neural networks.")
    parser.add_argument(VERBOSE_FLAG, action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(sub)
    for command in sub.choices.values():  # also after the command: `bnnzoo train ... --verbose`
        # SUPPRESS: a command without the flag keeps the value given before it
        command.add_argument(VERBOSE_FLAG, action="store_true", default=argparse.SUPPRESS,
                             help=VERBOSE_HELP)  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bnnzoo`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    try:
        quiet = not args.verbose
        with quiet_python_logs(enabled=quiet), drop_native_log_lines(enabled=quiet):
            return args.func(args)
    except CommandError as err:
        print(f"bnnzoo {args.command}: error: {err}", file=sys.stderr)
        return 2


__all__ = ["CommandError", "build_parser", "main"]
