"""``bnnzoo recipes``, ``train`` and ``evaluate``: training runs from the named recipes
(``bnnzoo.training``)."""

from __future__ import annotations

import json
import sys

from bnnzoo.cli._common import CommandError
from bnnzoo.training import TrainingError, evaluate_run, recipes, train
from bnnzoo.training.data import check_dataset
from bnnzoo.training.distribute import STRATEGIES
from bnnzoo.training.rundir import RunDir


def add_recipes(sub) -> None:
    p = sub.add_parser("recipes", help="the named training recipes")
    p.set_defaults(func=cmd_recipes)


def add_train(sub) -> None:
    p = sub.add_parser("train", help="train a zoo model with a recipe, or resume a run")
    p.add_argument("--recipe")
    p.add_argument("--quick", action="store_true",
                   help="the recipe's quick variant (same as --recipe R_quick)")  # fmt: skip
    p.add_argument("--out", help="run directory (created)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    p.add_argument("--model")
    p.add_argument("--dataset", help="digits, fashion_mnist, tfds:NAME or folder:PATH")
    p.add_argument("--data-dir")
    p.add_argument("--download", action="store_true", help="let tfds download the dataset")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--strategy", choices=STRATEGIES,
                   help="auto (default): multiworker when TF_CONFIG names several workers, "
                        "mirrored with several GPUs; multiworker: one process per machine, "
                        "the same command and --out on each (docs/training.md)")  # fmt: skip
    p.add_argument("--teacher", help="saved Keras model whose soft targets distill the student")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="test accuracy of a trained run")
    p.add_argument("run_dir")
    p.add_argument("--dataset")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_evaluate)


def cmd_recipes(args) -> int:
    names = recipes.list_recipes()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {recipes.describe(name)}")
    return 0


def cmd_train(args) -> int:
    if args.resume is None and (args.recipe is None or args.out is None):
        raise CommandError("train needs --recipe R and --out DIR, or --resume DIR.")
    if args.resume is not None and (args.recipe or args.out or args.set or args.quick):
        raise CommandError(
            "--resume DIR continues a run with its saved config; do not combine it with "
            "--recipe, --quick, --out or --set."
        )
    verbose = 0 if args.quiet else 1
    try:
        if args.resume is not None:
            result = train({}, args.resume, resume=True, verbose=verbose)
        else:
            teacher = [f"distillation.teacher={json.dumps(args.teacher)}"] if args.teacher else []
            config = recipes.resolve(
                args.recipe,
                [*teacher, *args.set],
                quick=args.quick,
                model=args.model,
                dataset=args.dataset,
                data_dir=args.data_dir,
                download=args.download or None,
                epochs=args.epochs,
                batch_size=args.batch_size,
                strategy=args.strategy,
            )
            check_dataset(config["dataset"], config.get("data_dir"))  # before any work
            _refuse_two_step_without_teacher(args.recipe, config)
            command = " ".join(["bnnzoo", *sys.argv[1:]])
            result = train(config, args.out, verbose=verbose, command=command)
    except (ValueError, FileNotFoundError, TrainingError) as err:
        raise CommandError(str(err)) from err
    print(
        f"test accuracy {result.test_accuracy:.4f} after {result.epochs} epochs "
        f"({result.seconds:.0f} s); run in {result.out_dir}"
    )
    return 0


def _refuse_two_step_without_teacher(recipe: str, config: dict) -> None:
    """A two-step recipe (a teacher trained first, then two steps) is one `bnnzoo two-step` job;
    `bnnzoo train` would train its second step alone, without the teacher its loss is made of."""
    if (config.get("two_step") or {}).get("teacher_recipe") and not config["distillation"][
        "teacher"
    ]:
        raise CommandError(
            f"Recipe {recipe!r} trains a teacher first and then two steps: run it with "
            f"`bnnzoo two-step --recipe {recipe} --out DIR`. Received: `bnnzoo train` without "
            f"--teacher (with --teacher FILE, train runs its second step alone)."
        )


def cmd_evaluate(args) -> int:
    try:
        if args.dataset is not None:  # before the model is loaded
            check_dataset(args.dataset, args.data_dir or _saved_data_dir(args.run_dir))
        loss, accuracy = evaluate_run(args.run_dir, args.dataset, data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from err
    print(f"test accuracy {accuracy:.4f}, test loss {loss:.4f}")
    return 0


def _saved_data_dir(run_dir: str) -> str | None:
    """The data directory a run was trained with, where its config says (else None)."""
    try:
        return RunDir(run_dir).read_config().get("data_dir")
    except (ValueError, OSError, AttributeError):  # no run or a damaged one: evaluate_run says
        return None
