"""``bnnzoo list``, ``summary`` and ``predict``: the registered models, their figures, and the
ImageNet classes a model with pretrained weights sees in images."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import larq as lq
import numpy as np

import bnnzoo
from bnnzoo import zoo
from bnnzoo._io import write_atomically
from bnnzoo._text import format_table
from bnnzoo.analysis import count_model
from bnnzoo.cli._common import CommandError, parse_shape
from bnnzoo.zoo import imagenet
from bnnzoo.zoo.weights import cache_dir

FIGURE_HEADER = ["model", "parameters", "binary MACs (G)", "float MACs (G)", "size (MiB)"]


def add_list(sub) -> None:
    p = sub.add_parser("list", help="registered models with parameters, MACs and size")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. '*densenet*'")
    p.set_defaults(func=cmd_list)


def add_summary(sub) -> None:
    p = sub.add_parser("summary", help="larq's layer summary of a model plus its figures")
    p.add_argument("model")
    p.add_argument("--input-shape", default=None, metavar="H,W,C")
    p.add_argument("--num-classes", type=int, default=None, metavar="N")
    p.set_defaults(func=cmd_summary)


def add_predict(sub) -> None:
    p = sub.add_parser("predict", help="top-5 ImageNet classes of images")
    p.add_argument("model")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--weights", default="imagenet", help="imagenet, a file, or URL#sha256=...")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--class-index", default=None, help="local imagenet_class_index.json")
    p.set_defaults(func=cmd_predict)


def cmd_list(args) -> int:
    names = zoo.list_models(args.pattern)
    if not names:
        raise CommandError(
            f"No registered model matches {args.pattern!r}. `bnnzoo list` shows all of them."
        )
    figures = _default_figures(names)
    print(format_table([FIGURE_HEADER, *(figures[name] for name in names)]))
    print(
        "\nFigures at 224x224x3 with 1000 classes. Size: binary weights at 1 bit, other trainable "
        "weights at 32 bits (BatchNorm moving statistics fold away at inference)."
    )
    return 0


def cmd_summary(args) -> int:
    if args.num_classes is not None and args.num_classes < 1:
        raise CommandError(f"--num-classes expects a positive integer. Got {args.num_classes}.")
    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    try:
        model = zoo.create_model(args.model, input_shape=shape, num_classes=args.num_classes)
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from err
    lq.models.summary(model)
    counts = count_model(model)
    print(format_table([FIGURE_HEADER, _figures_row(args.model, counts)]))
    print(
        f"\nbinary parameters {counts.binary_params:,} (1 bit each), "
        f"other parameters {counts.float_params:,} (32 bits each)"
    )
    return 0


def cmd_predict(args) -> int:
    if args.top < 1:
        raise CommandError(f"--top expects a positive integer, e.g. --top 5. Got {args.top}.")
    try:
        model = zoo.create_model(args.model, weights=args.weights)
    except (ValueError, FileNotFoundError, OSError) as err:
        raise CommandError(str(err)) from err
    if model.output_shape[-1] != 1000:
        raise CommandError(
            f"predict decodes ImageNet's 1000 classes; {args.model} with these weights has "
            f"{model.output_shape[-1]} outputs."
        )
    try:
        images = np.stack([imagenet.load_image(path) for path in args.images])
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from None
    probabilities = model.predict(imagenet.preprocess_input(images), verbose=0)
    class_index = args.class_index
    if class_index is None:
        try:
            class_index = imagenet.fetch_class_index()
        except OSError as err:
            raise CommandError(
                f"Could not fetch ImageNet class names ({err.__cause__ or err}). Pass "
                f"--class-index with a local copy of Keras' imagenet_class_index.json."
            ) from err
    try:
        decoded = imagenet.decode_predictions(probabilities, args.top, class_index)
    except (ValueError, OSError) as err:
        raise CommandError(str(err)) from err
    for path, top in zip(args.images, decoded):
        print(path)
        for rank, (wnid, label, score) in enumerate(top, 1):
            print(f"  {rank}. {label:<30} {wnid}  {score:.4f}")
    return 0


def _figures_row(name: str, counts) -> list[str]:
    return [
        name,
        f"{counts.params:,}",
        f"{counts.binary_macs / 1e9:.3f}",
        f"{counts.float_macs / 1e9:.3f}",
        f"{counts.size_mb:.2f}",
    ]


def _default_figures(names: list[str]) -> dict[str, list[str]]:
    """Figure rows of registered models at their defaults, cached per version of the code.

    Building 65 models at 224×224 takes minutes; the figures only change with bnnzoo's source,
    so they are kept in ``$BNNZOO_CACHE/figures-<hash of the source>.json``.
    """
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
        figures[name] = _figures_row(name, count_model(zoo.create_model(name)))
    if missing:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(cache, json.dumps(figures))
        except OSError:
            pass  # a read-only cache only costs time
    return {name: figures[name] for name in names}
