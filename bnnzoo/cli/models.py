"""``bnnzoo list``, ``summary`` and ``predict``: the registered models, their figures, and the
ImageNet classes a model with pretrained weights sees in images."""

from __future__ import annotations

import larq as lq
import numpy as np

from bnnzoo import zoo
from bnnzoo._text import format_table
from bnnzoo.analysis import count_model, shapes_only
from bnnzoo.cli._common import CommandError, parse_shape
from bnnzoo.zoo import imagenet
from bnnzoo.zoo.listing import COUNT_HEADER, count_cells


def add_list(sub) -> None:
    p = sub.add_parser(
        "list", help="the zoo's families, or the models of a family, paper or pattern"
    )
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. '*densenet*'")
    p.add_argument("--family", default=None, help="only this family (the overview names them)")
    p.add_argument("--paper", default=None,
                   help="only a paper's models: a key (zhang2017) or a name (Bethge)")  # fmt: skip
    p.add_argument("--counts", action="store_true",
                   help="add parameters, MACs and size (builds each listed model)")  # fmt: skip
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
    from bnnzoo.zoo.listing import format_model_list

    try:
        text = format_model_list(
            args.pattern, family=args.family, paper=args.paper, counts=args.counts
        )
    except ValueError as err:
        raise CommandError(str(err)) from None
    print(text)
    return 0


def cmd_summary(args) -> int:
    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    try:
        with shapes_only():  # a summary counts: no weights to initialize
            model = zoo.create_model(args.model, input_shape=shape, num_classes=args.num_classes)
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from err
    lq.models.summary(model)
    counts = count_model(model)
    print(format_table([["model", *COUNT_HEADER], [args.model, *count_cells(counts)]]))
    print(
        f"\nbinary parameters {counts.binary_params:,} (1 bit each), "
        f"other parameters {counts.float_params:,} (32 bits each)"
    )
    return 0


def cmd_predict(args) -> int:
    # the top (checked again when decoding), the images and a given class index are read before
    # the model is built and its weights fetched
    if args.top < 1:
        raise CommandError(f"--top expects a positive integer, e.g. --top 5. Got {args.top}.")
    try:
        images = np.stack([imagenet.load_image(path) for path in args.images])
        if args.class_index is not None:
            imagenet.load_class_index(args.class_index)
    except (ValueError, OSError) as err:
        raise CommandError(str(err)) from None
    try:
        model = zoo.create_model(args.model, weights=args.weights)
    except (ValueError, FileNotFoundError, OSError) as err:
        raise CommandError(str(err)) from err
    if model.output_shape[-1] != 1000:
        raise CommandError(
            f"predict decodes ImageNet's 1000 classes; {args.model} with these weights has "
            f"{model.output_shape[-1]} outputs."
        )
    from bnnzoo.converters.reference import keras_outputs

    probabilities = keras_outputs(model, imagenet.preprocess_input(images))
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
