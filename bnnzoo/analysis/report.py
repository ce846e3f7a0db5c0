"""One analysis of a Keras model: its cost figures and gradient paths, as data and as text.

``analyze(model)`` runs ``count_model`` and ``gradient_paths`` and keeps both; ``format`` prints
the figures with the paper each convention comes from, ``as_dict`` gives them for JSON.

Example:
    >>> print(analyze(larq_zoo.literature.BiRealNet(weights=None)).format())
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from bnnzoo._text import format_table
from bnnzoo.analysis.counting import ModelCount, count_model
from bnnzoo.analysis.gradient_paths import METRICS, GradientPaths, K, PathFigures, gradient_paths


@dataclass(frozen=True)
class Analysis:
    """Cost figures (``counts``) and gradient paths (``paths``) of the model called ``name``."""

    name: str
    counts: ModelCount
    paths: GradientPaths

    def format(self, layers: bool = False) -> str:
        """The figures as text; ``layers=True`` adds a table per layer and per binary layer."""
        c = self.counts
        figures = [
            ["figure", "value"],
            ["parameters", f"{c.params:,}"],
            ["binary parameters", f"{c.binary_params:,}"],
            ["storage, Mbit (binary 1 bit, other 32, no BatchNorm; IGP)", f"{c.storage_mbit:.2f}"],
            ["size, MiB (trainable weights, binary at 1 bit; larq)", f"{c.size_mb:.3f}"],
            ["binary MACs (BOPs)", _si(c.binary_macs)],
            ["float MACs (FLOPs)", _si(c.float_macs)],
            ["OPs = BOPs/64 + FLOPs (DWR, IGP)", _si(c.ops_bops64)],
            ["OPs = f + b/32 (BinaryDenseNet)", _si(c.ops_bdn)],
            ["activations (conv and dense outputs per image; DWR)", _si(c.activations)],
        ]  # fmt: skip
        text = [f"model {self.name}", "", format_table(figures), "", self._format_paths()]
        if layers:
            text += ["", "layers", "", format_table(_layer_rows(c))]
            if self.paths.layers:
                rows = [["binary layer", "MACs", *_path_header(), "paths"]]
                rows += [[f.name, _si(f.macs), *_path_cells(f), _count(f.paths)]
                         for f in self.paths.layers]  # fmt: skip
                text += ["", "gradient paths per binary layer", "", format_table(rows)]
        return "\n".join(text)

    def as_dict(self) -> dict:
        """The figures as plain numbers (JSON-ready); N in binary MACs, L in binary layers."""
        c, p = self.counts, self.paths
        return {
            "name": self.name,
            "params": c.params,
            "binary_params": c.binary_params,
            "storage_mbit": c.storage_mbit,
            "size_mib": c.size_mb,
            "binary_macs": c.binary_macs,
            "float_macs": c.float_macs,
            "ops_bops64": c.ops_bops64,
            "ops_bdn": c.ops_bdn,
            "activations": c.activations,
            "gradient_paths": {
                "inputs": [_figures_dict(f) for f in p.inputs],
                "binary_layers": len(p.layers),
                "mean": {m: p.mean(m) for m in METRICS},
                "worst": {m: p.worst(m) for m in METRICS},
                "missing": {m: p.missing(m) for m in METRICS},
                "layers": [_figures_dict(f) for f in p.layers],
            },
        }

    def _format_paths(self) -> str:
        p = self.paths
        title = (
            "gradient paths from the outputs (Zhu et al. 2022, IGP): L_k = k-th shortest path "
            "length in binary layers,\nN_k = fewest binary MACs on a path of length L_k; "
            "a binary layer's own MACs are not on its paths; - = no such path"
        )
        rows = [["", *_path_header(), "paths"]]
        rows += [[f"input {f.name}", *_path_cells(f), _count(f.paths)] for f in p.inputs]
        if p.layers:
            n = len(p.layers)
            rows.append([f"mean of {n} binary layers", *(_mean(p.mean(m)) for m in METRICS), ""])
            rows.append(["worst binary layer", *(_cell(p.worst(m), m) for m in METRICS), ""])
            rows.append(["binary layers without it", *(str(p.missing(m)) for m in METRICS), ""])
        else:
            rows.append(["no binary layers", *[""] * (2 * K + 1)])
        return f"{title}\n\n{format_table(rows)}"


def analyze(model: tf.keras.Model, name: str | None = None) -> Analysis:
    """Cost figures and gradient paths of a built Keras model (functional or Sequential).

    Args:
        model: the model, built with a fixed input shape.
        name: what to call it in the text; the model's own name by default.

    Raises:
        TypeError: for anything but a tf.keras.Model.
        ValueError: for a model without a layer graph or with an unknown spatial size.
    """
    counts = count_model(model)
    return Analysis(name or model.name, counts, gradient_paths(model))


def _path_header() -> list[str]:
    return [f"{kind}_{k}" for kind in "NL" for k in ("1st", "2nd", "3rd")[:K]]


def _path_cells(f: PathFigures) -> list[str]:
    return [_cell(f.metric(m), m) for m in METRICS]


def _cell(value, metric: str) -> str:
    if value is None:
        return "-"
    return _si(value) if metric[0] == "n" else str(value)


def _mean(value: float | None) -> str:
    return "-" if value is None else _si(value, digits=3)


def _si(value: float, digits: int = 4) -> str:
    """``1676279808`` → ``"1.676G"``: a count with an SI prefix and about ``digits`` digits."""
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            scaled = value / factor
            decimals = max(digits - len(str(int(abs(scaled)))), 0)
            return f"{scaled:.{decimals}f}{prefix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"{n:.3e}"


def _layer_rows(counts: ModelCount) -> list[list[str]]:
    rows = [["layer", "kind", "params", "binary MACs", "float MACs", "Mbit", "activations"]]
    for layer in counts.layers:
        if layer.params or layer.binary_macs or layer.float_macs:
            rows.append(
                [
                    layer.name,
                    layer.kind,
                    f"{layer.params:,}",
                    _si(layer.binary_macs),
                    _si(layer.float_macs),
                    f"{layer.storage_bits / 1e6:.4f}",
                    _si(layer.activations),
                ]
            )
    return rows


def _figures_dict(f: PathFigures) -> dict:
    return {"name": f.name, "n": list(f.n), "l": list(f.l), "paths": f.paths, "macs": f.macs}
