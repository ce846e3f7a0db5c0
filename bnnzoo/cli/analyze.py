"""``bnnzoo analyze``: cost figures and gradient paths of zoo models or saved Keras files
(``bnnzoo.analysis``), as text, JSON or a plot of one gradient-path metric per binary layer."""

from __future__ import annotations

import json
from pathlib import Path

from bnnzoo.cli._common import CommandError, parse_shape


def add_analyze(sub) -> None:
    from bnnzoo.analysis.gradient_paths import METRICS

    p = sub.add_parser(
        "analyze",
        help="parameters, storage, MACs, OPs, activations and gradient paths of any Keras model",
    )
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="registered names or saved models (.keras/.h5)")  # fmt: skip
    p.add_argument("--input-shape", default=None, metavar="H,W,C", help="for registered names")
    p.add_argument("--num-classes", type=int, default=None, metavar="N")
    p.add_argument("--layers", action="store_true", help="add a table per layer")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="draw --metric per binary layer, the models side by side")  # fmt: skip
    p.add_argument("--metric", default="n2", choices=METRICS,
                   help="gradient-path figure to plot (N_2nd by default)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object per model on stdout")
    p.set_defaults(func=cmd_analyze)


def cmd_analyze(args) -> int:
    from bnnzoo.analysis import analyze, plot_gradient_paths, shapes_only
    from bnnzoo.zoo.loading import load_or_build

    shape = parse_shape(args.input_shape) if args.input_shape else None
    plot = Path(args.plot) if args.plot else None
    if plot is not None:
        if plot.suffix.lower() != ".png":
            raise CommandError(f"--plot writes a PNG. Received: {args.plot!r}; name a .png file.")
        if not plot.parent.is_dir():
            raise CommandError(
                f"--plot {args.plot!r}: the folder {str(plot.parent)!r} does not exist. Create "
                f"it first."
            )
    analyses = {}
    for name in args.models:  # every model is checked before any is analysed
        try:
            path = Path(name)
            options = (
                {} if path.exists() else {"input_shape": shape, "num_classes": args.num_classes}
            )
            with shapes_only():  # the analysis reads shapes; a file's weights are loaded anyway
                model = load_or_build(name, **options)
        except (ValueError, FileNotFoundError, OSError) as err:
            raise CommandError(str(err).splitlines()[0]) from None
        label = name if name not in analyses else f"{name} ({len(analyses) + 1})"
        analyses[label] = model
    for label, model in analyses.items():
        analyses[label] = analyze(model, name=label)
    if args.json:
        for result in analyses.values():
            print(json.dumps(result.as_dict()))
    else:
        print("\n\n".join(result.format(layers=args.layers) for result in analyses.values()))
    if plot is not None:
        written = plot_gradient_paths(analyses, plot, metric=args.metric)
        print(f"\nplot: {written}", flush=True)
    return 0
