"""The complexity Liu, Shen, Savvides, Cheng 2020, "ReActNet: Towards Precise Binary Neural
Network with Generalized Activation Functions" publishes for its networks, next to the zoo's
built models.

How the paper counts, and how ``bnnzoo.analysis.count_model`` counts at 224×224 with 1000
classes (the paper follows Bi-Real Net and Real-to-Binary Net):

* BOPs: binary multiply-accumulates (``binary_macs``);
* FLOPs: full-precision multiply-accumulates (``float_macs``: the stem and the classifier for
  ReActNet-A, and the downsampling 1×1 shortcuts for the Bi-Real-based ReActNet);
* OPs: BOPs / 64 + FLOPs (``ops_bops64``).

BatchNorm, RSign, RPReLU, pooling and additions are not counted, as in the paper. The
published top-1 accuracies (ReActNet-A 69.4 %, 69.5 % in the authors' repository; the
Bi-Real-based ReActNet 65.9 %) are printed for reference: reproducing them needs the paper's
training, which this report does not run.

Bounds: a built figure reproduces a printed one within ``TOLERANCE`` (5 %). A figure outside it
is a documented deviation (``DEVIATIONS``: by how much and why, printed with the report) or a
failure: ``reproduced`` is False.

Example:
    >>> from bnnzoo.reproduce import reactnet
    >>> rows = reactnet.reproduce_reactnet()
    >>> print(reactnet.format_reactnet_report(rows))
"""

from __future__ import annotations

from dataclasses import dataclass

from bnnzoo._text import format_table
from bnnzoo.analysis import count_model, shapes_only
from bnnzoo.reproduce._bounds import figure_status, relative_diff
from bnnzoo.zoo import create_model
from bnnzoo.zoo.registry import IMAGENET_SHAPE

TOLERANCE = 0.05
FIGURES = ("bops", "flops", "ops")


@dataclass(frozen=True)
class PaperRow:
    """One network as the paper prints it.

    Attributes:
        model: the registered name.
        label: the name the paper prints.
        top1: published ImageNet top-1 accuracy in %.
        bops: printed binary operations, or None where the paper prints none.
        flops: printed floating-point operations, or None.
        ops: printed OPs (BOPs / 64 + FLOPs), or None.
    """

    model: str
    label: str
    top1: float
    bops: float | None = None
    flops: float | None = None
    ops: float | None = None


PAPER_ROWS: tuple[PaperRow, ...] = (
    PaperRow("reactnet_a", "ReActNet-A", 69.4, bops=4.82e9, flops=0.12e8, ops=0.87e8),
    PaperRow("reactnet_bireal18", "ReActNet (Bi-Real based)", 65.9, ops=1.63e8),
)
# (model, "bops" | "flops" | "ops") -> why the built figure is outside TOLERANCE; none today
DEVIATIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class ReproducedRow:
    """A paper row next to the built model's figures (BOPs, FLOPs and OPs as counts)."""

    paper: PaperRow
    bops: float
    flops: float
    ops: float

    def diff(self, figure: str) -> float | None:
        """Built / printed − 1 for ``"bops"``, ``"flops"`` or ``"ops"``; None where nothing is
        printed."""
        return relative_diff(getattr(self.paper, figure), getattr(self, figure))

    def status(self, figure: str) -> str:
        """``"ok"``, ``"deviation"``, ``"OFF"`` or ``""`` (``_bounds.figure_status``)."""
        documented = (self.paper.model, figure) in DEVIATIONS
        return figure_status(self.diff(figure), TOLERANCE, documented)


def build_row(row: PaperRow) -> ReproducedRow:
    """Build a row's model at 224×224×3 with 1000 classes and count it."""
    model = create_model(row.model, input_shape=IMAGENET_SHAPE, num_classes=1000)
    counts = count_model(model)
    return ReproducedRow(row, counts.binary_macs, counts.float_macs, counts.ops_bops64)


@shapes_only()
def reproduce_reactnet(rows: tuple[PaperRow, ...] = PAPER_ROWS) -> list[ReproducedRow]:
    """Build and count the model of every row.

    Example:
        >>> reproduced(reproduce_reactnet())
        True
    """
    return [build_row(row) for row in rows]


def reproduced(rows: list[ReproducedRow]) -> bool:
    """True when every printed figure is within bounds or a documented deviation."""
    return all(r.status(f) != "OFF" for r in rows for f in FIGURES)


def _num(value: float | None, scale: float) -> str:
    return "" if value is None else f"{value / scale:.3f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f}%"


def format_reactnet_report(rows: list[ReproducedRow]) -> str:
    """The paper's BOPs, FLOPs and OPs next to the built models, and the documented
    deviations."""
    scales = {"bops": 1e9, "flops": 1e8, "ops": 1e8}
    header = ["model", "top-1 paper"]
    for figure, unit in (("BOPs", "10^9"), ("FLOPs", "10^8"), ("OPs", "10^8")):
        header += [f"{figure} paper ({unit})", "built", "diff", ""]
    lines = [header]
    for r in rows:
        line = [r.paper.label, f"{r.paper.top1:.1f}%"]
        for figure in FIGURES:
            line += [
                _num(getattr(r.paper, figure), scales[figure]),
                _num(getattr(r, figure), scales[figure]),
                _pct(r.diff(figure)),
                r.status(figure),
            ]
        lines.append(line)
    text = [format_table(lines), ""]
    text.append(
        "BOPs: binary MACs; FLOPs: float MACs; OPs: BOPs / 64 + FLOPs; at 224x224 with 1000 "
        f"classes. diff = built / printed - 1; 'ok' = within {TOLERANCE:.0%}. Top-1 is the "
        "published accuracy (not reproduced: it needs the paper's training)."
    )
    deviations = [
        (r.paper.label, f, r.diff(f), DEVIATIONS[(r.paper.model, f)])
        for r in rows
        for f in FIGURES
        if r.status(f) == "deviation"
    ]
    if deviations:
        text += ["", "Documented deviations:"]
        text += [f"  {label} {f} {_pct(d)}: {why}." for label, f, d, why in deviations]
    return "\n".join(text)
