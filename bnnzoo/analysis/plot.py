"""Draw one gradient-path figure per binary layer, for one model or several side by side."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from pathlib import Path

from bnnzoo._checks import one_of
from bnnzoo._io import write_atomically
from bnnzoo.analysis.gradient_paths import METRICS
from bnnzoo.analysis.report import Analysis

_ORDINALS = {"1": "1st", "2": "2nd", "3": "3rd"}
_TITLES = {
    "n": "{name}: fewest binary MACs on a gradient path of the {k} shortest length",
    "l": "{name}: the {k} shortest gradient-path length in binary layers",
}


def plot_gradient_paths(
    analyses: Mapping[str, Analysis], path_png: str | os.PathLike, metric: str = "n2"
) -> Path:
    """Bar charts of ``metric`` over the binary layers (input side first), a panel per model.

    Args:
        analyses: label -> ``analyze(model)``; one panel each, in this order, sharing the
            y axis so that the models compare at a glance.
        path_png: the PNG to write (atomically); its folder must exist.
        metric: ``"n1"``, ``"n2"``, ``"n3"`` (binary MACs, drawn in millions) or ``"l1"``..
            ``"l3"`` (binary layers), after Zhu et al. 2022, "Improving Gradient Paths for
            Binary Convolutional Neural Networks". A layer without that many path lengths is
            marked with an x on the axis.

    Returns:
        The path written.
    """
    one_of("metric", metric, METRICS, hint='Pass e.g. metric="n2".')
    if not analyses or not all(isinstance(a, Analysis) for a in analyses.values()):
        raise ValueError(
            f"Expected analyses to be a non-empty mapping of label -> Analysis (from "
            f"bnnzoo.analysis.analyze). Received: {analyses!r}. Pass e.g. "
            f"{{'bi-real': analyze(model)}}."
        )
    path = Path(path_png)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write the plot to {str(path)!r}: folder {str(path.parent)!r} does not "
            f"exist. Create it first or pass a path in an existing folder."
        )
    from matplotlib.figure import Figure  # no pyplot: nothing global changes
    from matplotlib.ticker import MaxNLocator

    scale = 1e6 if metric[0] == "n" else 1
    fig = Figure(figsize=(max(6.0, 3.5 * len(analyses)), 3.8), layout="constrained")
    axes = fig.subplots(1, len(analyses), sharey=True, squeeze=False)[0]
    for ax, (label, analysis) in zip(axes, analyses.items()):
        layers = analysis.paths.layers
        values = [f.metric(metric) for f in layers]
        xs = range(1, len(layers) + 1)
        ax.bar(xs, [math.nan if v is None else v / scale for v in values], color="tab:blue")
        missing = [x for x, v in zip(xs, values) if v is None]
        ax.plot(missing, [0] * len(missing), "x", color="tab:red", clip_on=False)
        ax.set_title(f"{label} ({len(layers)} binary layers)", fontsize=10)
        ax.set_xlabel("binary layer, input side first")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", alpha=0.3)
    k = _ORDINALS[metric[1]]
    name = f"{metric[0].upper()}_{k}"
    axes[0].set_ylabel(f"{name} (millions of binary MACs)" if scale > 1 else name)
    fig.suptitle(
        _TITLES[metric[0]].format(name=name, k=k) + "\n(x: no such path; Zhu et al. 2022)",
        fontsize=9,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return write_atomically(path, buffer.getvalue())
