"""``bnnzoo dwr``: the DWR pipeline (reshape → pre-train → prune to the OPs budget → train →
evaluate, next to the original backbone), ``bnnzoo.training.dwr``."""

from __future__ import annotations

from bnnzoo.cli._common import CommandError
from bnnzoo.training import TrainingError, recipes
from bnnzoo.training.dwr import (
    METHODS,
    ORIGINAL_SPECS,
    format_summary,
    make_plan,
    run_pipeline,
)
from bnnzoo.training.rundir import check_output_dir


def add_dwr(sub) -> None:
    p = sub.add_parser(
        "dwr", help="depth-width reshaping + clustering pruning of a backbone, trained and compared"
    )
    p.add_argument("--backbone", choices=tuple(ORIGINAL_SPECS))
    p.add_argument("--s", type=float, help="depth divisor (resnet20: 1.5 or 3; resnet18: 2)")
    p.add_argument(
        "--method",
        choices=METHODS,
        default="dwr",
        help="dwr: reshape to s·w, pre-train, prune; naive: √s·w, no pruning",
    )
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--pretrain-epochs", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--budget", type=float, help="OPs budget (default: the original's OPs)")
    p.add_argument("--calibration", type=int, default=256, help="images the pruning clusters on")
    p.add_argument("--recipe", default="dwr_cifar")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-original", action="store_true", help="do not train the original")
    p.add_argument("--out", help="pipeline directory (created)")
    p.add_argument("--resume", metavar="DIR", help="continue the pipeline in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_dwr)


def cmd_dwr(args) -> int:
    verbose = 0 if args.quiet else 1
    try:
        if args.resume is not None:
            if args.out or args.backbone or args.set:
                raise CommandError(
                    "--resume DIR continues a pipeline with its saved plan; do not combine it "
                    "with --out, --backbone or --set."
                )
            out = args.resume
            summary = run_pipeline(None, out, resume=True, verbose=verbose)
        else:
            out = args.out
            summary = _start(args, verbose)
    except (ValueError, FileNotFoundError, TrainingError) as err:
        raise CommandError(str(err)) from err
    print(format_summary(summary))
    print(f"saved in {out}: results.json, model_card.md")
    return 0


def _start(args, verbose: int) -> dict:
    """A new pipeline from the command line's options."""
    if args.backbone is None or args.s is None or args.out is None:
        raise CommandError("dwr needs --backbone B, --s S and --out DIR, or --resume DIR.")
    plan = make_plan(
        args.backbone,
        args.s,
        dataset=args.dataset,
        pretrain_epochs=args.pretrain_epochs,
        epochs=args.epochs,
        method=args.method,
        recipe=args.recipe,
        overrides=args.set,
        budget=args.budget,
        calibration_images=args.calibration,
        train_original=not args.no_original,
    )
    # the training config's values and the output folder are checked before the plan is written
    recipes.check(plan["config"])
    check_output_dir(args.out)
    return run_pipeline(plan, args.out, verbose=verbose)
