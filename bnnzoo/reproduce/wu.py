"""Table 1 of Wu, Wu, Zhao 2016, "Binarized Neural Networks on the ImageNet Classification Task",
layer by layer next to the zoo's ``wu_bnn13``.

Table 1 lists the 13-layer network's layers in order: type, channels, filter size and stride.
The text adds which layers keep float weights (§2.1: the first convolution; §2.3: the last fully
connected layer; every other layer is binary, BNN-style) and the dropout ratio (§2.3: 0.2).
Every Table 1 row is compared with the built layers it describes, in order, at the ImageNet
input (224×224×3, 1000 classes):

* type: Conv2D and larq's QuantConv2D are "Conv", Dense and QuantDense "Dense", MaxPooling2D
  "Maxpool", ``FixedScaling`` "Scaling", a softmax activation "Softmax";
* channels: the layer's output channels; for the Dropout, which the built model applies to the
  flattened 6×6×512 map, the channels of that map;
* filter size and stride of convolutions and pooling; float or binary weights; dropout ratio.

The built model also has a BatchNorm after every convolution and fully connected layer (BNN-style,
Courbariaux et al. 2016) and a Flatten before the dropout; Table 1 lists neither, so they are
not compared. A built layer left over after the last row fails, as does a row without its layers.

Bounds: every compared field must be equal (the table prints no rounded figure). A row that
differs is a documented deviation (``DEVIATIONS``) or a failure: ``reproduced`` is False and
``bnnzoo reproduce wu`` exits 1. One claim of the text is checked too: "a 13 layer network"
(§2.3, the name ``wu_bnn13``) against the built layers with weights; it is a documented
deviation (Table 1 itself lists 12).

Example:
    >>> from bnnzoo.reproduce import wu
    >>> rows = wu.reproduce()
    >>> print(wu.format_report(rows))
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import tensorflow as tf

from bnnzoo._text import format_table
from bnnzoo.analysis import flat_layers, is_binary, shapes_only
from bnnzoo.layers import FixedScaling
from bnnzoo.zoo import create_model
from bnnzoo.zoo.registry import IMAGENET_SHAPE

MODEL = "wu_bnn13"
NAMED_DEPTH = 13  # "a 13 layer network (shown in Table 1)", §2.3


@dataclass(frozen=True)
class Layer:
    """What Table 1 (and §2.1, §2.3) says of a layer, or what a built layer has.

    Attributes:
        kind: ``"Input"``, ``"Conv"``, ``"Maxpool"``, ``"Dropout"``, ``"Dense"``, ``"Scaling"``,
            ``"Softmax"``.
        channels: output channels (units of a dense layer).
        filters: kernel or pool size, e.g. ``"7x7"``; ``""`` where none is printed.
        stride: e.g. ``"2x2"``; ``""`` where none is printed.
        weights: ``"float"``, ``"binary"``, or ``""`` for a layer without weights (or none said).
        rate: the dropout ratio, or None.
    """

    kind: str
    channels: int | None
    filters: str = ""
    stride: str = ""
    weights: str = ""
    rate: float | None = None


@dataclass(frozen=True)
class PaperRow:
    """A Table 1 row: its sequence number(s), e.g. ``"4-6"``, and what each layer of it is."""

    sequence: str
    layer: Layer

    @property
    def count(self) -> int:
        """How many layers the row stands for (``"8-13"``: 6)."""
        first, _, last = self.sequence.partition("-")
        return int(last or first) - int(first) + 1


PAPER_ROWS: tuple[PaperRow, ...] = (
    PaperRow("1", Layer("Input", 3)),
    PaperRow("2", Layer("Conv", 128, "7x7", "2x2", "float")),
    PaperRow("3", Layer("Maxpool", 128, "3x3", "2x2")),
    PaperRow("4-6", Layer("Conv", 384, "3x3", "1x1", "binary")),
    PaperRow("7", Layer("Maxpool", 384, "2x2", "2x2")),
    PaperRow("8-13", Layer("Conv", 512, "3x3", "1x1", "binary")),
    PaperRow("14", Layer("Maxpool", 512, "2x2", "2x2")),
    PaperRow("15", Layer("Dropout", 512, rate=0.2)),
    PaperRow("16", Layer("Dense", 4096, weights="binary")),
    PaperRow("17", Layer("Dense", 1000, weights="float")),
    PaperRow("18", Layer("Scaling", 1000)),
    PaperRow("19", Layer("Softmax", 1000)),
)

# a Table 1 sequence number, or "depth" for the 13-layer claim -> why the built model differs
DEVIATIONS: dict[str, str] = {
    "depth": (
        "Table 1 lists 10 convolutions and 2 dense layers, and the built model has exactly "
        "those; 13 would count the fixed Scaling layer (row 18) as well, but the paper does not "
        "say what it counts"
    ),
}


@dataclass(frozen=True)
class Built:
    """A built layer: its name, output shape and what Table 1 compares."""

    name: str
    shape: tuple
    layer: Layer


def _kind(layer: tf.keras.layers.Layer) -> str | None:
    """Table 1's type of a built layer; None for the layers it does not list."""
    kinds = ((tf.keras.layers.InputLayer, "Input"), (tf.keras.layers.Conv2D, "Conv"),
             (tf.keras.layers.MaxPooling2D, "Maxpool"), (tf.keras.layers.Dropout, "Dropout"),
             (tf.keras.layers.Dense, "Dense"), (FixedScaling, "Scaling"))  # fmt: skip
    if isinstance(layer, (tf.keras.layers.BatchNormalization, tf.keras.layers.Flatten)):
        return None
    for cls, kind in kinds:
        if isinstance(layer, cls):
            return kind
    if getattr(getattr(layer, "activation", None), "__name__", None) == "softmax":
        return "Softmax"
    return type(layer).__name__


def _size(value) -> str:
    return "x".join(str(v) for v in value) if value else ""


def describe(model: tf.keras.Model) -> list[Built]:
    """The built layers Table 1 lists, in order, as it describes them."""
    built, map_channels = [], None
    for layer in flat_layers(model):
        shape = (
            layer.output_shape[0] if isinstance(layer.output_shape, list) else layer.output_shape
        )
        if len(shape) == 4:
            map_channels = shape[-1]
        kind = _kind(layer)
        if kind is None:
            continue
        channels = map_channels if kind == "Dropout" else shape[-1]
        size = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        weights = "binary" if is_binary(layer) else ("float" if hasattr(layer, "kernel") else "")
        described = Layer(kind, channels, _size(size), _size(getattr(layer, "strides", None)),
                          weights, getattr(layer, "rate", None))  # fmt: skip
        built.append(Built(layer.name, tuple(shape[1:]), described))
    return built


@dataclass(frozen=True)
class ReproducedRow:
    """A Table 1 row next to the built layers it stands for."""

    paper: PaperRow
    built: tuple[Built, ...]

    @property
    def mismatches(self) -> list[str]:
        """The fields where a built layer differs from the row (``"count"`` if layers are
        missing)."""
        wrong = [] if len(self.built) == self.paper.count else ["count"]
        for f in fields(Layer):
            printed = getattr(self.paper.layer, f.name)
            if printed in ("", None):
                continue  # the paper says nothing of it
            if any(getattr(b.layer, f.name) != printed for b in self.built):
                wrong.append(f.name)
        return wrong

    @property
    def status(self) -> str:
        """``"ok"``, ``"deviation"`` if documented, ``"OFF"``."""
        if not self.mismatches:
            return "ok"
        return "deviation" if self.paper.sequence in DEVIATIONS else "OFF"


@dataclass(frozen=True)
class DepthRow:
    """The "13 layer network" of §2.3 against the built layers with weights."""

    printed: int
    built: int

    @property
    def status(self) -> str:
        if self.printed == self.built:
            return "ok"
        return "deviation" if "depth" in DEVIATIONS else "OFF"


def match(built: list[Built], rows: tuple[PaperRow, ...] = PAPER_ROWS) -> list[ReproducedRow]:
    """Give each row its built layers, in order; leftover layers become a failing row."""
    matched, i = [], 0
    for row in rows:
        matched.append(ReproducedRow(row, tuple(built[i : i + row.count])))
        i += row.count
    if i < len(built):
        extra = PaperRow(f"{len(rows) + 1}-", Layer("(not in Table 1)", None))
        matched.append(ReproducedRow(extra, tuple(built[i:])))
    return matched


@shapes_only()
def reproduce(input_shape: tuple = IMAGENET_SHAPE) -> list[ReproducedRow | DepthRow]:
    """Build ``wu_bnn13`` and put its layers next to Table 1; the last row is the depth claim.

    Args:
        input_shape: the input; Table 1's network is for ImageNet, 224×224×3. From 143 px up
            the built layers are the same (unpadded, as at 224), only their output sizes differ.

    Example:
        >>> rows = reproduce()
        >>> reproduced(rows)
        True
    """
    model = create_model(MODEL, input_shape=input_shape, num_classes=1000)
    rows = match(describe(model))
    tf.keras.backend.clear_session()
    weighted = sum(1 for r in rows for b in r.built if b.layer.kind in ("Conv", "Dense"))
    return [*rows, DepthRow(NAMED_DEPTH, weighted)]


def reproduced(rows: list[ReproducedRow | DepthRow]) -> bool:
    """True when every row matches or is a documented deviation."""
    return all(row.status != "OFF" for row in rows)


def tally(rows: list[ReproducedRow | DepthRow]) -> dict[str, int]:
    """Rows that match (``"ok"``), documented deviations and failures, for the summary."""
    statuses = [row.status for row in rows]
    return {"ok": statuses.count("ok"), "deviation": statuses.count("deviation"),
            "failed": statuses.count("OFF")}  # fmt: skip


def _cells(layer: Layer) -> list[str]:
    rate = "" if layer.rate is None else f"{layer.rate:g}"
    return [layer.kind, "" if layer.channels is None else str(layer.channels), layer.filters,
            layer.stride, layer.weights, rate]  # fmt: skip


def _names(names: list[str]) -> str:
    if len(names) > 2:
        return f"{names[0]} .. {names[-1]} ({len(names)})"
    return ", ".join(names) or "(none)"


def format_report(rows: list[ReproducedRow | DepthRow]) -> str:
    """Table 1 and the built layers side by side, then the depth claim and the deviations."""
    table = [["seq", "type", "channels", "filters", "stride", "weights", "rate", "differs", "",
              "output", "built layers"]]  # fmt: skip
    depth, size = None, ""
    for r in rows:
        if isinstance(r, DepthRow):
            depth = r
            continue
        names = [b.name for b in r.built]
        shape = "x".join(str(s) for s in r.built[-1].shape) if r.built else ""
        size = size or shape
        table.append([r.paper.sequence, *_cells(r.paper.layer), ", ".join(r.mismatches),
                      r.status, shape, _names(names)])  # fmt: skip
    text = [
        f"Wu, Wu, Zhao 2016: Table 1 against {MODEL} at {size}",
        format_table(table),
        "",
        "Table 1's columns, with the weights of §2.1 and §2.3 and the dropout ratio of §2.3; "
        "'differs' names the fields\nwhere a built layer differs. Not in Table 1: the BatchNorm "
        "after every conv and fc1, the Flatten before the dropout.",
    ]
    if depth is not None:
        text.append(
            f"Depth (§2.3, 'a 13 layer network'): {depth.printed} printed, {depth.built} built "
            f"layers with weights: {depth.status}"
        )
    documented = [(r.paper.sequence, r) for r in rows if isinstance(r, ReproducedRow)]
    reasons = [(seq, DEVIATIONS[seq]) for seq, r in documented if r.status == "deviation"]
    if depth is not None and depth.status == "deviation":
        reasons.append(("depth", DEVIATIONS["depth"]))
    if reasons:
        text.append("")
        text.append("Documented deviations:")
        text.extend(f"  {seq}: {why}." for seq, why in reasons)
    return "\n".join(text)
