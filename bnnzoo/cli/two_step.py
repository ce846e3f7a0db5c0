"""``bnnzoo two-step``: a teacher, then step 1 (binary activations, real weights) and step 2
(both binary, from step 1's weights), as one resumable job (``bnnzoo.training.two_step``;
ReActNet's training, Liu, Shen, Savvides, Cheng 2020)."""

from __future__ import annotations

from bnnzoo.cli._common import CommandError
from bnnzoo.training import TrainingError
from bnnzoo.training.rundir import check_output_dir
from bnnzoo.training.two_step import format_summary, make_plan, run_two_step


def add_two_step(sub) -> None:
    p = sub.add_parser(
        "two-step",
        help="a teacher, then binary activations with real weights, then both binary (ReActNet)",
    )
    p.add_argument("--recipe", help="e.g. reactnet_fashion_mnist, reactnet_imagenet")
    p.add_argument("--quick", action="store_true", help="the recipes' quick variants (digits)")
    p.add_argument("--teacher", help="a trained real-valued Keras model (else a recipe trains one)")
    p.add_argument("--teacher-recipe", help="the recipe that trains the teacher first")
    p.add_argument("--teacher-set", action="append", default=[], metavar="KEY=VALUE",
                   help="an override of the teacher's recipe")  # fmt: skip
    p.add_argument("--dataset", help="digits, fashion_mnist, tfds:NAME or folder:PATH")
    p.add_argument("--data-dir")
    p.add_argument("--epochs", type=int, help="epochs of each step")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an override of both steps' recipe")  # fmt: skip
    p.add_argument("--out", help="job directory (created)")
    p.add_argument("--resume", metavar="DIR", help="continue the job in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_two_step)


def cmd_two_step(args) -> int:
    verbose = 0 if args.quiet else 1
    try:
        summary = _resume(args, verbose) if args.resume is not None else _start(args, verbose)
    except (ValueError, FileNotFoundError, TrainingError) as err:
        raise CommandError(str(err)) from err
    print(format_summary(summary))
    print(f"saved in {args.resume or args.out}: step2/model.keras (the binary model), results.json")
    return 0


def _resume(args, verbose: int) -> dict:
    """The job in ``--resume DIR``, continued with its saved plan."""
    given = [args.recipe, args.out, args.set, args.teacher, args.teacher_recipe, args.teacher_set,
             args.quick, args.dataset, args.data_dir, args.epochs, args.batch_size]  # fmt: skip
    if any(value not in (None, False, []) for value in given):
        raise CommandError(
            "--resume DIR continues a job with its saved plan; do not combine it with --recipe, "
            "--quick, --out, --set, the data, epoch and batch options or the teacher's."
        )
    return run_two_step(None, args.resume, resume=True, verbose=verbose)


def _start(args, verbose: int) -> dict:
    """A new job from the command line's options, every input checked before the plan file."""
    if args.recipe is None or args.out is None:
        raise CommandError("two-step needs --recipe R and --out DIR, or --resume DIR.")
    check_output_dir(args.out)
    plan = make_plan(
        args.recipe,
        args.set,
        quick=args.quick,
        teacher=args.teacher,
        teacher_recipe=args.teacher_recipe,
        teacher_overrides=args.teacher_set,
        dataset=args.dataset,
        data_dir=args.data_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
    )
    return run_two_step(plan, args.out, verbose=verbose)
