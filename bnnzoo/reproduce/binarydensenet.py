"""The architecture figures of Bethge, Yang, Bornstein, Meinel 2019, "BinaryDenseNet: Developing an
Architecture for Binary Neural Networks", next to the zoo's built models.

Every model size, layer count, reduction rate, clipping threshold and operation share the paper
prints, by table:

* Table 2: binary ResNetE18 with binary or full-precision downsampling, with and without the
  scaling factors of XNOR-Net, on CIFAR-10 (32×32, 10 classes) and ImageNet (224×224, 1000
  classes). One size per downsampling and dataset; the scaled models must have the same.
* Table 3: the same ImageNet sizes, rounded to 0.1 MB (4.0 and 3.4 MB).
* §3.3: with full-precision downsampling, 1.06 % of ResNetE18's ImageNet operations.
* Table 4: BinaryDenseNets of "16 blocks, growth rate 128" and "32 blocks, growth rate 64" with
  binary downsampling and low reduction (1, 1.4, 1.4) or full-precision downsampling and high
  reduction (2, 2, 2), on ImageNet.
* Table 5: "8, 16, 32 blocks" with growth rates 256, 128, 64 (binary, low reduction).
* §4.3: BinaryDenseNet21 with growth rate 128 on CIFAR-10, 673 KB (binary, low) and 1.49 MB
  (FP, high); the transitions of BinaryDenseNet28 hold 2.2 % of its operations.
* Table 6: the sizes of ResNetE18 and BinaryDenseNet28/37/37-dilated/45. The table groups its
  rows by size ("~4.0MB", "~5.1MB", "7.4MB"); the other models of a group (XNOR-Net, TBN,
  Bi-Real Net) are other papers' architectures and are not rows here.
* Table 7: layers per stage, reduction rates, t_clip, 64 channels in the first convolution and
  growth rate 64.

How the figures are counted (``bnnzoo.analysis.count_model``): model size in MiB (KiB for
"KB"), binary weights at 1 bit and every other trainable weight at 32, BatchNorm's moving
statistics left out (as larq's summary counts); an operation share is the multiply-accumulates
of the downsampling convolutions over all multiply-accumulates. Operations as the paper counts
them (§5.2: f + b/32) are printed for the Table 6 models; the paper plots them (Figure 4) but
prints no value, so they are not checked.

The "blocks" of Tables 4 and 5 and the 21 of BinaryDenseNet21 count two per dense layer: the
printed sizes come out for 1, 2 and 4 dense layers per stage (8, 16 and 32 "blocks"), and 16
dense layers (4 per stage) with growth rate 128 would be 7.65 MB, not 3.39. These are the
densenet13, 21 and 37 configurations of BMXNet-v2, the framework the paper links, whose names
count DenseNet-BC's two convolutions per dense layer.

Bounds: a figure reproduces when the built value rounds to the printed one (to its last printed
digit; "~" is read the same way); layer counts and clipping thresholds must be equal; a built
transition must keep ``in / r`` channels within half a step of 32 (the published models round
the transition widths to multiples of 32, ``bnnzoo.layers.transition_filters``). A row outside
its bound is a documented deviation (``DEVIATIONS``, printed with the reason) or a failure:
``reproduced`` is False and ``bnnzoo reproduce binarydensenet`` exits 1.

Example:
    >>> from bnnzoo.reproduce import binarydensenet
    >>> rows = binarydensenet.reproduce()
    >>> print(binarydensenet.format_report(rows))
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from bnnzoo._text import format_table
from bnnzoo.analysis import count_model, flat_layers, is_binary, shapes_only
from bnnzoo.zoo import BinaryDenseNet, create_model
from bnnzoo.zoo.registry import IMAGENET_SHAPE

CIFAR10 = (("input_shape", (32, 32, 3)), ("num_classes", 10))
IMAGENET = (("input_shape", IMAGENET_SHAPE), ("num_classes", 1000))
LOW = (("downsampling", "binary"), ("reduction", (1, 1.4, 1.4)))
HIGH = (("downsampling", "full_precision"), ("reduction", (2, 2, 2)))
# half a step of the 32-channel rounding, plus one channel for the floor before it
TRANSITION_SLACK = 17


@dataclass(frozen=True)
class Variant:
    """A model the paper reports on.

    Attributes:
        label: how the report names it.
        model: a registered model name, or ``"BinaryDenseNet"`` for a configuration of
            ``zoo.BinaryDenseNet``.
        kwargs: the factory's keyword arguments, as (name, value) pairs.
    """

    label: str
    model: str
    kwargs: tuple[tuple[str, Any], ...] = IMAGENET

    def build(self) -> tf.keras.Model:
        """The model, built with the zoo's factories."""
        if self.model == "BinaryDenseNet":
            return BinaryDenseNet(**dict(self.kwargs))
        return create_model(self.model, **dict(self.kwargs))


def _resnet_e18(data: str, downsampling: str, scaling: bool) -> Variant:
    shape = CIFAR10 if data == "CIFAR-10" else IMAGENET
    ds = "binary ds" if downsampling == "binary" else "FP ds"
    label = f"ResNetE18 {ds}{', scaling' if scaling else ''}, {data}"
    kwargs = (("downsampling", downsampling), ("scaling", scaling), *shape)
    return Variant(label, "binary_resnet_e18", kwargs)


def _densenet(per_stage: int, growth: int, low: bool, data: str = "ImageNet") -> Variant:
    mode = "binary low" if low else "FP high"
    name = "BDN21" if data == "CIFAR-10" else f"BDN {8 * per_stage} blocks"
    label = f"{name} ({per_stage}/stage) k={growth}, {mode}, {data}"
    kwargs = (("layers_per_stage", (per_stage,) * 4), ("growth_rate", growth),
              *(LOW if low else HIGH), *(CIFAR10 if data == "CIFAR-10" else IMAGENET))  # fmt: skip
    return Variant(label, "BinaryDenseNet", kwargs)


VARIANTS: dict[str, Variant] = {
    **{
        f"e18-{d[0]}-{ds[0]}{'-s' if s else ''}": _resnet_e18(d, ds, s)
        for d in ("CIFAR-10", "ImageNet")
        for ds in ("binary", "full_precision")
        for s in (True, False)
    },
    "bdn-8x256-low": _densenet(1, 256, True),
    "bdn-16x128-low": _densenet(2, 128, True),
    "bdn-16x128-high": _densenet(2, 128, False),
    "bdn-32x64-low": _densenet(4, 64, True),
    "bdn-32x64-high": _densenet(4, 64, False),
    "bdn21-c10-low": _densenet(2, 128, True, "CIFAR-10"),
    "bdn21-c10-high": _densenet(2, 128, False, "CIFAR-10"),
    "bdn28": Variant("BinaryDenseNet28", "binary_densenet28"),
    "bdn37": Variant("BinaryDenseNet37", "binary_densenet37"),
    "bdn37d": Variant("BinaryDenseNet37-dilated", "binary_densenet37_dilated"),
    "bdn45": Variant("BinaryDenseNet45", "binary_densenet45"),
}


@dataclass(frozen=True)
class PaperRow:
    """One printed figure.

    Attributes:
        table: where it is printed: ``"2"``..``"7"`` for a table, ``"§3.3"``, ``"§4.3"``.
        variant: the key of its model in ``VARIANTS``.
        figure: ``"size"``, ``"share"`` (operations in the downsampling convolutions),
            ``"layers"`` (per stage), ``"reduction"``, ``"t_clip"``, ``"stem"`` (channels of
            the first convolution) or ``"growth"``.
        printed: the figure as printed, e.g. ``"1.39 MB"``, ``"~4.0 MB"``, ``"673 KB"``,
            ``"2.2%"``, ``"6, 6, 6, 5"``.
    """

    table: str
    variant: str
    figure: str
    printed: str


def _table_7(key: str, layers: str, reduction: str | None, t_clip: str) -> tuple[PaperRow, ...]:
    rows = [PaperRow("7", key, "layers", layers)]
    if reduction:
        rows.append(PaperRow("7", key, "reduction", reduction))
    rows += [PaperRow("7", key, "t_clip", t_clip), PaperRow("7", key, "stem", "64")]
    if reduction:
        rows.append(PaperRow("7", key, "growth", "64"))
    return tuple(rows)


PAPER_ROWS: tuple[PaperRow, ...] = (
    *(
        PaperRow("2", f"e18-{d}-{ds}{s}", "size", size)
        for ds, sizes in (("b", ("1.39 MB", "3.36 MB")), ("f", ("2.03 MB", "4.0 MB")))
        for d, size in zip("CI", sizes)
        for s in ("-s", "")
    ),
    PaperRow("3", "e18-I-f", "size", "4.0 MB"),
    PaperRow("3", "e18-I-b", "size", "3.4 MB"),
    PaperRow("§3.3", "e18-I-f", "share", "1.06%"),
    PaperRow("4", "bdn-16x128-low", "size", "3.39 MB"),
    PaperRow("4", "bdn-16x128-high", "size", "3.03 MB"),
    PaperRow("4", "bdn-32x64-low", "size", "3.45 MB"),
    PaperRow("4", "bdn-32x64-high", "size", "3.08 MB"),
    PaperRow("5", "bdn-8x256-low", "size", "3.31 MB"),
    PaperRow("5", "bdn-16x128-low", "size", "3.39 MB"),
    PaperRow("5", "bdn-32x64-low", "size", "3.45 MB"),
    PaperRow("§4.3", "bdn21-c10-low", "size", "673 KB"),
    PaperRow("§4.3", "bdn21-c10-high", "size", "1.49 MB"),
    PaperRow("§4.3", "bdn28", "share", "2.2%"),
    PaperRow("6", "e18-I-f", "size", "~4.0 MB"),
    PaperRow("6", "bdn28", "size", "~4.0 MB"),
    PaperRow("6", "bdn37", "size", "~5.1 MB"),
    PaperRow("6", "bdn37d", "size", "~5.1 MB"),
    PaperRow("6", "bdn45", "size", "7.4 MB"),
    *_table_7("e18-I-f", "4, 4, 4, 4", None, "1.25"),
    *_table_7("bdn28", "6, 6, 6, 5", "2.7, 2.7, 2.2", "1.3"),
    *_table_7("bdn37", "6, 8, 12, 6", "3.3, 3.3, 4", "1.3"),
    *_table_7("bdn45", "6, 12, 14, 8", "2.7, 3.3, 4", "1.3"),
)

_BDN21 = (
    "BinaryDenseNet's CIFAR stem is a 3x3 conv of 64 filters with BN and ReLU, and the factory "
    "takes no stem width. The printed sizes are those of 128 initial features and a bare 3x3 "
    "stem conv (BMXNet-v2's CIFAR stem): the same dense layers and transitions "
    "(bnnzoo.layers.dense_layer, transition) on such a stem give 673.04 KiB and 1.4856 MiB. "
    "A stem-width argument of zoo.BinaryDenseNet would make this row reproducible"
)
# (variant, figure) -> why the built figure is outside its bound
DEVIATIONS: dict[tuple[str, str], str] = {
    ("bdn21-c10-low", "size"): _BDN21,
    ("bdn21-c10-high", "size"): _BDN21,
    ("bdn45", "size"): (
        "7.347 MiB is 0.003 MiB (3 KiB, 0.04%) under 7.35, the smallest size printed as 7.4. "
        "The model is larq-zoo's BinaryDenseNet45 (13,939,240 parameters, its published count; "
        "its ImageNet weights load), counted as every other row that reproduces; the paper does "
        "not say how it counted sizes, so the 3 KiB are unexplained"
    ),
}

_STAGE_CONV = re.compile(r"stage(\d+)_(?:block|layer)\d+_conv$")
_DENSE_CONV = re.compile(r"stage\d+_layer\d+_conv$")
_DOWNSAMPLING = ("_transition_conv", "_shortcut_conv")


@dataclass(frozen=True)
class Figures:
    """What is measured on one built model.

    Attributes:
        size_mib: model size in MiB (``count_model(...).size_mb``).
        layers_per_stage: binary 3×3 convolutions (dense layers, ResNetE blocks) per stage.
        transitions: (input channels, output channels) of each transition convolution.
        t_clip: the distinct clipping thresholds of the binary layers' input quantizers.
        stem: filters of the first convolution.
        growth: the distinct filter counts of the dense layers' convolutions.
        share: multiply-accumulates of the downsampling convolutions / all of them.
        ops: f + b/32 (§5.2), float MACs plus binary MACs / 32.
    """

    size_mib: float
    layers_per_stage: tuple[int, ...]
    transitions: tuple[tuple[int, int], ...]
    t_clip: tuple[float, ...]
    stem: int
    growth: tuple[int, ...]
    share: float
    ops: float


def measure(model: tf.keras.Model) -> Figures:
    """The figures of ``PaperRow`` on a built ResNetE or BinaryDenseNet."""
    counts = count_model(model)
    layers = list(flat_layers(model))
    binary = [layer for layer in layers if is_binary(layer)]
    stages = Counter(int(m.group(1)) for layer in binary if (m := _STAGE_CONV.match(layer.name)))
    transitions = tuple(
        (int(layer.input_shape[-1]), int(layer.filters))
        for layer in layers
        if layer.name.endswith("_transition_conv")
    )
    clips = {float(layer.input_quantizer.clip_value) for layer in binary}
    growth = {int(layer.filters) for layer in binary if _DENSE_CONV.match(layer.name)}
    down = sum(
        c.binary_macs + c.float_macs for c in counts.layers if c.name.endswith(_DOWNSAMPLING)
    )
    return Figures(
        size_mib=counts.size_mb,
        layers_per_stage=tuple(stages[s] for s in sorted(stages)),
        transitions=transitions,
        t_clip=tuple(sorted(clips)),
        stem=int(model.get_layer("stem_conv").filters),
        growth=tuple(sorted(growth)),
        share=down / (counts.binary_macs + counts.float_macs),
        ops=counts.ops_bdn,
    )


def _number(printed: str) -> tuple[float, float, str]:
    """``"~4.0 MB"`` → ``(4.0, 0.05, "MB")``: the value, half its last digit, the unit."""
    match = re.fullmatch(r"~?([0-9.]+) ?(MB|KB|%)?", printed.strip())
    if match is None:
        raise ValueError(
            f"Expected a printed figure such as '1.39 MB', '~4.0 MB', '673 KB' or '2.2%'. "
            f"Received: {printed!r}; fix the PaperRow."
        )
    digits, unit = match.groups()
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits), 0.5 * 10.0**-decimals, unit or ""


@dataclass(frozen=True)
class ReproducedRow:
    """A printed figure next to the built model's."""

    paper: PaperRow
    figures: Figures

    @property
    def value(self) -> float | tuple:
        """The built figure, in the printed unit (a tuple for layers, reductions, t_clip)."""
        f, figure = self.figures, self.paper.figure
        if figure == "size":
            return f.size_mib * (1024 if self.paper.printed.endswith("KB") else 1)
        if figure == "share":
            return 100 * f.share
        return {"layers": f.layers_per_stage, "reduction": f.transitions, "t_clip": f.t_clip,
                "stem": (f.stem,), "growth": f.growth}[figure]  # fmt: skip

    @property
    def built(self) -> str:
        """The built figure as the report prints it."""
        value, figure = self.value, self.paper.figure
        if figure == "size":
            unit = "KB" if self.paper.printed.endswith("KB") else "MB"
            return f"{value:.2f} KiB" if unit == "KB" else f"{value:.4f} MiB"
        if figure == "share":
            return f"{value:.3f}%"
        if figure == "reduction":
            ratios = ", ".join(f"{a / b:.2f}" for a, b in value)
            return f"{ratios} ({', '.join(f'{a}->{b}' for a, b in value)})"
        return ", ".join(f"{v:g}" for v in value)

    @property
    def diff(self) -> str:
        """Built − printed for a number, in the printed unit; empty otherwise."""
        if self.paper.figure not in ("size", "share"):
            return ""
        return f"{self.value - _number(self.paper.printed)[0]:+.3f}"

    @property
    def within_bounds(self) -> bool:
        """Whether the built figure meets the printed one (the bounds of the module docstring)."""
        figure, printed = self.paper.figure, self.paper.printed
        if figure in ("size", "share"):
            value, half, _ = _number(printed)
            return abs(self.value - value) <= half + 1e-9
        numbers = tuple(float(p) for p in printed.split(","))
        if figure == "reduction":
            return len(self.value) == len(numbers) and all(
                abs(b - a / r) <= TRANSITION_SLACK for (a, b), r in zip(self.value, numbers)
            )
        return self.value == numbers

    @property
    def status(self) -> str:
        """``"ok"``, ``"deviation"`` if documented in ``DEVIATIONS``, or ``"OFF"``."""
        if self.within_bounds:
            return "ok"
        key = (self.paper.variant, self.paper.figure)
        return "deviation" if key in DEVIATIONS else "OFF"


@shapes_only()
def reproduce(rows: tuple[PaperRow, ...] = PAPER_ROWS) -> list[ReproducedRow]:
    """Build every model the rows need (once each) and measure it.

    Example:
        >>> rows = reproduce()
        >>> reproduced(rows)
        True
    """
    figures: dict[str, Figures] = {}
    for row in rows:
        if row.variant not in figures:
            figures[row.variant] = measure(VARIANTS[row.variant].build())
            tf.keras.backend.clear_session()
    return [ReproducedRow(row, figures[row.variant]) for row in rows]


def reproduced(rows: list[ReproducedRow]) -> bool:
    """True when every row is within its bound or a documented deviation."""
    return all(row.status != "OFF" for row in rows)


def tally(rows: list[ReproducedRow]) -> dict[str, int]:
    """Rows within bounds (``"ok"``), documented deviations and failures, for the summary."""
    statuses = Counter(row.status for row in rows)
    return {"ok": statuses["ok"], "deviation": statuses["deviation"], "failed": statuses["OFF"]}


_FIGURE_NAMES = {
    "size": "model size",
    "share": "ops in downsampling convs",
    "layers": "layers per stage",
    "reduction": "reduction rates",
    "t_clip": "t_clip",
    "stem": "first conv channels",
    "growth": "growth rate",
}


def format_report(rows: list[ReproducedRow]) -> str:
    """Every printed figure next to the built one, the operations of the Table 6 models and the
    documented deviations."""
    table = [["model", "table", "figure", "paper", "built", "diff", ""]]
    for r in rows:
        table.append([VARIANTS[r.paper.variant].label, r.paper.table,
                      _FIGURE_NAMES[r.paper.figure], r.paper.printed, r.built, r.diff,
                      r.status])  # fmt: skip
    text = [
        "Bethge, Yang, Bornstein, Meinel 2019 (BinaryDenseNet): architecture figures",
        format_table(table),
        "",
        "Model size: binary weights 1 bit, other trainable weights 32, BN moving statistics "
        "left out; MB = MiB, KB = KiB.\n'ok' = rounds to the printed figure; reduction rates: "
        f"transition in->out channels, out within {TRANSITION_SLACK} of in / r (widths are "
        "multiples of 32).\n'blocks' (Tables 4, 5) and the 21 of BinaryDenseNet21 count two per "
        "dense layer: the printed sizes are those of\n1, 2, 4 dense layers per stage.",
    ]
    ops = {r.paper.variant: r.figures.ops for r in rows if r.paper.table == "6"}
    if ops:
        text.append("")
        text.append("Operations, f + b/32 (§5.2; Figure 4 plots them, the text prints none), 10^8:")
        text.append("  " + ", ".join(f"{VARIANTS[k].label} {v / 1e8:.2f}" for k, v in ops.items()))
    reasons: dict[str, list[str]] = {}  # one paragraph per reason, naming its rows
    for r in rows:
        if r.status == "deviation":
            why = DEVIATIONS[(r.paper.variant, r.paper.figure)]
            reasons.setdefault(why, []).append(f"{VARIANTS[r.paper.variant].label} {r.built}")
    if reasons:
        text.append("")
        text.append("Documented deviations:")
        for why, labels in reasons.items():
            text.append(f"  {'; '.join(labels)}: {why}.")
    return "\n".join(text)
