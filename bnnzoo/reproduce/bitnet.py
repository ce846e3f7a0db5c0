"""BitNet's published complexity figures, and their reproduction by the zoo's BitNets.

Zhang, Ozay, Li, Okatani 2017, "Truncating Wide Networks using Binary Tree Architectures" prints
parameters and FLOPs of every model it trains: Table 2 (CIFAR BitNets and Wide ResNets,
parameters and FLOPs), Table 3 (ImageNet BitNet-26/34), Table 5 (BitNet(d=4, k, n=4) and
BitNet(d=12, k, n=2) for k = 1..6), Table 6 (the models of Figure 2, CIFAR-100) and Table 7
(CIFAR-100). This module holds them as plain data and compares them with the built models.

How the paper counts, and how ``paper_params`` and ``conv_flops`` count:

* parameters: the weights of every convolution (no bias; the convs have none) plus the
  classifier's weights and bias; batch norm is excluded. BitNet-26 then has exactly 12,789,160
  and BitNet-34 22,993,576 parameters, the figures of the authors' code.
* FLOPs: multiply-accumulates of the convolutions (``out_h · out_w · k_h · k_w · c_in · c_out``),
  at 32×32 for CIFAR and 224×224 for ImageNet; the classifier, BN and ReLU are not counted.

Bounds: a built figure reproduces a printed one when it is within 2 %, or when rounding or
truncating it to the printed digit gives the printed figure (the paper prints 0.1M and sometimes
truncates: b(4, 2, 2)-14 of Table 6 has 1.565M with its CIFAR-100 head, printed 1.5M; BitNet(d=10,
k=4, n=1) 3.979M, printed 3.9M in Table 7). Every BitNet and Wide ResNet row of Tables 2, 3, 5, 6
and 7 meets that bound for parameters, and every BitNet row of Tables 2 and 3 is within 2 % for
FLOPs.

**The Wide ResNet FLOPs of Table 2** are 3.2 % (d=4, n=6), 9.4 % (d=10, n=2), 6.1 % (d=10, n=3)
and 4.3 % (d=12, n=4) above the conv MACs of the network that its parameter counts describe, the
one with 1×1 projection shortcuts (``ReproducedRow.flops_diff``, built / printed - 1, is -3.1 %,
-8.6 %, -5.7 % and -4.1 %). With 3×3 shortcuts the networks would have 9.27M, 19.2M, 28.9M and
55.5M parameters, not the printed 8.9M, 17.1M, 26.8M and 52.5M, so the models keep 1×1. The gap is
exactly what counting the three projections as 3×3 convolutions adds: ``conv_flops(model,
kernels_as=3)`` gives 1.341, 2.643, 4.058 and 7.871·10⁹, the printed 1.34, 2.64, 4.06 and 7.87·10⁹
to the last digit. The paper's FLOP count evidently took every conv as 3×3 (Table 1: "All
convolutional layers use filters of size 3×3"); the CIFAR BitNets have only 3×3 convs, so their
figures are unaffected. The report shows both counts.

Example:
    >>> from bnnzoo.reproduce import bitnet
    >>> print(bitnet.format_bitnet_report(bitnet.reproduce_bitnet()))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf

from bnnzoo._text import format_table
from bnnzoo.analysis import count_model, flat_layers, shapes_only
from bnnzoo.zoo import bitnet
from bnnzoo.zoo.bitnet import CIFAR_SHAPE
from bnnzoo.zoo.registry import IMAGENET_SHAPE

HEADS = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}
PARAMS_TOLERANCE = 0.02
FLOPS_TOLERANCE = 0.02


@dataclass(frozen=True)
class PaperRow:
    """One printed row: which model, which heads it was reported for, and its figures.

    Attributes:
        table: the table's number, ``"2"``, ``"3"``, ``"5"``, ``"6"`` or ``"7"``.
        row: the row's label as the paper prints it.
        model: ``"bitnet_cifar"``, ``"wide_resnet_cifar"``, ``"plain_net_cifar"``, ``"bitnet26"``
            or ``"bitnet34"``.
        config: ``(d, k, n)`` of a CIFAR model, ``()`` for the ImageNet ones.
        heads: the datasets the figures are reported for (keys of ``HEADS``).
        params: the printed parameter count, e.g. ``"3.7M"``.
        flops: the printed FLOPs in units of 10⁹, e.g. ``"0.53"``, or None.
    """

    table: str
    row: str
    model: str
    config: tuple[int, ...]
    heads: tuple[str, ...]
    params: str
    flops: str | None = None

    @property
    def is_wide_resnet(self) -> bool:
        return self.model in ("wide_resnet_cifar", "plain_net_cifar")


_BOTH = ("cifar10", "cifar100")
_C100 = ("cifar100",)


def _b(table, d, k, n, params, flops=None, heads=_BOTH, label=None) -> PaperRow:
    return PaperRow(table, label or f"BitNet (d={d},k={k},n={n})", "bitnet_cifar", (d, k, n),
                    heads, params, flops)  # fmt: skip


def _w(table, d, n, params, flops=None, heads=_BOTH, label=None) -> PaperRow:
    return PaperRow(table, label or f"Wide ResNet (d={d},k=2,n={n})", "wide_resnet_cifar",
                    (d, 2, n), heads, params, flops)  # fmt: skip


PAPER_ROWS: tuple[PaperRow, ...] = (
    # Table 2: CIFAR-10/100, one parameter column for both heads, FLOPs in 10^9.
    _w("2", 4, 6, "8.9M", "1.34"),
    _b("2", 4, 3, 4, "3.7M", "0.53"),
    _b("2", 4, 4, 3, "2.7M", "0.39"),
    _b("2", 4, 2, 6, "5.4M", "0.78"),
    _b("2", 4, 6, 2, "1.7M", "0.24"),
    _w("2", 10, 2, "17.1M", "2.64"),
    _b("2", 10, 2, 2, "9.6M", "1.32"),
    _b("2", 10, 4, 1, "3.9M", "0.49"),
    _w("2", 10, 3, "26.8M", "4.06"),
    _b("2", 10, 2, 3, "15.6M", "2.21"),
    _b("2", 10, 3, 2, "10.2M", "1.41"),
    _w("2", 12, 4, "52.5M", "7.87"),
    _b("2", 12, 2, 4, "31.2M", "4.45"),
    _b("2", 12, 4, 2, "14.9M", "2.06"),
    # Table 3: ImageNet.
    PaperRow("3", "BitNet-26", "bitnet26", (), ("imagenet",), "12.79M", "2.8"),
    PaperRow("3", "BitNet-34", "bitnet34", (), ("imagenet",), "22.99M", "7.8"),
    # Table 5: CIFAR-10/100, parameters against k.
    *(
        _b("5", 4, k, 4, p)
        for k, p in enumerate(("2.7M", "3.5M", "3.7M", "3.7M", "3.7M", "3.7M"), start=1)
    ),
    *(
        _b("5", 12, k, 2, p)
        for k, p in enumerate(("10.3M", "13.8M", "14.7M", "14.9M", "15.0M", "15.0M"), start=1)
    ),
    # Table 6: the models of Figure 2, CIFAR-100.
    _w("6", 4, 6, "8.9M", heads=_C100, label="wide resnet-38"),
    PaperRow("6", "plainnet-38", "plain_net_cifar", (4, 2, 6), _C100, "8.9M"),
    _b("6", 4, 1, 2, "1.2M", heads=_C100, label="b(4, 1, 2) - 8"),
    _b("6", 4, 2, 2, "1.5M", heads=_C100, label="b(4, 2, 2) - 14"),
    _b("6", 4, 4, 2, "1.7M", heads=_C100, label="b(4, 4, 2) - 26"),
    _b("6", 4, 6, 2, "1.7M", heads=_C100, label="b(4, 6, 2) - 38"),
    _b("6", 4, 2, 6, "5.4M", heads=_C100, label="b(4, 2, 6) - 38"),
    _b("6", 4, 3, 4, "3.7M", heads=_C100, label="b(4, 3, 4) - 38"),
    _b("6", 4, 4, 3, "2.7M", heads=_C100, label="b(4, 4, 3) - 38"),
    # Table 7: CIFAR-100.
    _w("7", 4, 6, "8.9M", heads=_C100),
    _b("7", 4, 3, 4, "3.7M", heads=_C100),
    _b("7", 4, 4, 3, "2.7M", heads=_C100),
    _b("7", 4, 2, 6, "5.4M", heads=_C100),
    _b("7", 4, 6, 2, "1.7M", heads=_C100),
    _w("7", 10, 2, "17.1M", heads=_C100),
    _b("7", 10, 2, 2, "9.6M", heads=_C100),
    _b("7", 10, 4, 1, "3.9M", heads=_C100),
    _w("7", 10, 3, "26.8M", heads=_C100),
    _b("7", 10, 2, 3, "15.6M", heads=_C100),
    _b("7", 10, 3, 2, "10.2M", heads=_C100),
    _w("7", 12, 4, "52.5M", heads=_C100),
    _b("7", 12, 2, 4, "31.2M", heads=_C100),
    _b("7", 12, 4, 2, "14.9M", heads=_C100),
)

# The exact counts of the authors' code for the ImageNet models (paper README).
EXACT_PARAMS = {"bitnet26": 12_789_160, "bitnet34": 22_993_576}


# -------------------------------------------------------------------------------- counting


def paper_params(model: tf.keras.Model) -> int:
    """Parameters as Zhang et al. count them: conv weights without bias, plus every dense layer's
    weights and bias (the classifier), batch norm excluded.

    Example:
        >>> paper_params(zoo.BitNet26())
        12789160
    """
    total = 0
    for layer in flat_layers(model):
        if isinstance(layer, tf.keras.layers.Conv2D):
            total += math.prod(layer.kernel.shape)
        elif isinstance(layer, tf.keras.layers.Dense):
            total += sum(math.prod(w.shape) for w in layer.weights)
    return int(total)


def conv_flops(model: tf.keras.Model, *, kernels_as: int | None = None) -> int:
    """Multiply-accumulates of the convolutions (binary and float), as Zhang et al.'s FLOPs.

    Args:
        model: a model built with a fixed input shape.
        kernels_as: count every conv as if its kernel were ``kernels_as × kernels_as`` (3
            reproduces the paper's Wide ResNet FLOPs, which count the 1×1 projection shortcuts
            as 3×3 convs); None counts each conv with its own kernel.

    Example:
        >>> conv_flops(zoo.BitNetCifar(d=4, k=3, n=4, input_shape=(32, 32, 3)))
        528927232
    """
    if kernels_as is not None and (not isinstance(kernels_as, int) or kernels_as < 1):
        raise ValueError(
            f"Expected kernels_as to be None or a positive int such as 3. "
            f"Received: kernels_as={kernels_as!r}."
        )
    convs = {
        layer.name: layer
        for layer in flat_layers(model)
        if isinstance(layer, tf.keras.layers.Conv2D)
    }
    total = 0
    for count in count_model(model).layers:
        layer = convs.get(count.name)
        if layer is None:
            continue
        macs = count.binary_macs + count.float_macs
        if kernels_as is not None:
            kh, kw = layer.kernel_size
            macs = macs * kernels_as**2 // (kh * kw)
        total += macs
    return int(total)


# ---------------------------------------------------------------------------- reproduction


def parse_figure(printed: str) -> tuple[float, float]:
    """``"3.7M"`` → ``(3_700_000, 100_000)``: the printed value and its last digit's unit."""
    text = printed.strip()
    scale = 1e6 if text.endswith("M") else 1.0
    digits = text.rstrip("M")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits) * scale, scale * 10.0**-decimals


def within_bounds(printed: str, built: float, *, scale: float = 1.0, tolerance: float) -> bool:
    """True when ``built`` (in units of ``scale``) reproduces the ``printed`` figure.

    Within ``tolerance`` (relative), or equal to it after rounding or truncating to the printed
    digit.
    """
    value, unit = parse_figure(printed)
    value, unit = value * scale, unit * scale
    if abs(built - value) <= tolerance * value:
        return True
    steps = built / unit
    return any(math.isclose(f(steps) * unit, value, rel_tol=1e-9) for f in (round, math.floor))


@dataclass(frozen=True)
class ReproducedRow:
    """A paper row next to the built model's figures, for one classifier head."""

    paper: PaperRow
    head: str
    params: int
    flops: int
    flops_3x3: int

    @property
    def paper_params(self) -> float:
        return parse_figure(self.paper.params)[0]

    @property
    def params_diff(self) -> float:
        """Relative difference of the built parameter count from the printed one."""
        return self.params / self.paper_params - 1

    @property
    def params_ok(self) -> bool:
        return within_bounds(self.paper.params, self.params, tolerance=PARAMS_TOLERANCE)

    @property
    def paper_flops(self) -> float | None:
        return None if self.paper.flops is None else parse_figure(self.paper.flops)[0] * 1e9

    @property
    def flops_diff(self) -> float | None:
        """Relative difference of the built conv MACs from the printed FLOPs."""
        return None if self.paper_flops is None else self.flops / self.paper_flops - 1

    @property
    def flops_ok(self) -> bool | None:
        """Whether the FLOPs reproduce (None where the paper prints none)."""
        if self.paper.flops is None:
            return None
        return within_bounds(self.paper.flops, self.flops, scale=1e9, tolerance=FLOPS_TOLERANCE)


def build_row_model(row: PaperRow, head: str) -> tf.keras.Model:
    """The float model a paper row describes, with the classifier of ``head``."""
    classes = HEADS[head]
    if row.model == "bitnet26":
        return bitnet.BitNet26(input_shape=IMAGENET_SHAPE, num_classes=classes)
    if row.model == "bitnet34":
        return bitnet.BitNet34(input_shape=IMAGENET_SHAPE, num_classes=classes)
    d, k, n = row.config
    if row.model == "bitnet_cifar":
        return bitnet.BitNetCifar(d=d, k=k, n=n, input_shape=CIFAR_SHAPE, num_classes=classes)
    return bitnet.WideResNetCifar(
        d=d,
        k=k,
        n=n,
        residual=row.model == "wide_resnet_cifar",
        input_shape=CIFAR_SHAPE,
        num_classes=classes,
    )


@shapes_only()
def reproduce_bitnet(rows: tuple[PaperRow, ...] = PAPER_ROWS) -> list[ReproducedRow]:
    """Build the model of every paper row (once per configuration and head) and count it.

    Example:
        >>> rows = reproduce_bitnet()
        >>> all(r.params_ok for r in rows)
        True
    """
    heads: dict[tuple, list[str]] = {}  # configuration -> heads, in order of appearance
    for row in rows:
        for head in row.heads:
            wanted = heads.setdefault((row.model, row.config), [])
            if head not in wanted:
                wanted.append(head)
    figures: dict[tuple, tuple[int, int, int]] = {}
    for (model_name, config), wanted in heads.items():
        row = next(r for r in rows if (r.model, r.config) == (model_name, config))
        base = build_row_model(row, wanted[0])  # later heads share its feature extractor
        for head in wanted:
            model = base if head == wanted[0] else with_head(base, HEADS[head])
            figures[(model_name, config, head)] = (
                paper_params(model),
                conv_flops(model),
                conv_flops(model, kernels_as=3),
            )
        del base, model
    return [
        ReproducedRow(row, head, *figures[(row.model, row.config, head)])
        for row in rows
        for head in row.heads
    ]


def with_head(model: tf.keras.Model, num_classes: int) -> tf.keras.Model:
    """The same feature extractor (shared layers up to ``final_relu``) with a new classifier:
    global average pooling → dense, the head the paper counts."""
    features = model.get_layer("final_relu").output
    x = tf.keras.layers.GlobalAveragePooling2D(name="head_pool")(features)
    x = tf.keras.layers.Dense(num_classes, kernel_initializer="he_normal", name="head_dense")(x)
    return tf.keras.Model(model.inputs, x, name=f"{model.name}_{num_classes}")


def reproduced(rows: list[ReproducedRow]) -> bool:
    """True when every parameter count and every BitNet FLOP count reproduces.

    The Wide ResNet FLOPs of Table 2 are not required to: the report's note explains their gap.
    """
    return all(
        row.params_ok and (row.flops_ok is not False or row.paper.is_wide_resnet) for row in rows
    )


def _millions(value: float) -> str:
    return f"{value / 1e6:.3f}M"


def _giga(value: float | None) -> str:
    return "" if value is None else f"{value / 1e9:.3f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f}%"


def format_bitnet_report(rows: list[ReproducedRow]) -> str:
    """The paper's figures next to the built models', one line per row and classifier head.

    Parameters: printed, built (conv weights + classifier, BN excluded), difference, and ``ok``
    when within the bounds of this module's docstring. FLOPs (10⁹ conv MACs): printed, built,
    difference of the printed figure from the built one.
    """
    header = ["model", "table", "head", "params paper", "built", "diff", "",
              "FLOPs paper", "built", "diff", ""]  # fmt: skip
    lines = [header]
    for r in rows:
        flops_ok = {None: "", True: "ok", False: "off"}[r.flops_ok]
        if r.paper.is_wide_resnet and r.paper.flops is not None:
            flops_ok = "see note"
        lines.append([
            r.paper.row, r.paper.table, r.head, r.paper.params, _millions(r.params),
            _pct(r.params_diff), "ok" if r.params_ok else "OFF",
            r.paper.flops or "", _giga(r.flops) if r.paper.flops else "", _pct(r.flops_diff),
            flops_ok,
        ])  # fmt: skip
    text = [format_table(lines)]
    text.append("")
    text.append(
        "Parameters: conv weights (no bias) + classifier weights and bias, batch norm excluded; "
        "diff = built / printed - 1; 'ok' = within 2% or equal after rounding/truncating to the "
        "printed digit."
    )
    text.append(
        "FLOPs: conv multiply-accumulates at 32x32 (CIFAR) or 224x224 (ImageNet), in 10^9; "
        "diff = built / printed - 1."
    )
    wide = [r for r in rows if r.paper.is_wide_resnet and r.paper.flops is not None]
    if wide:
        text.append("")
        text.append(
            "Note: the Wide ResNet FLOPs of Table 2 sit above the built 1x1-shortcut networks "
            "(whose parameter counts match); counting the projection shortcuts as 3x3 convs "
            "reproduces them:"
        )
        for r in wide:
            text.append(
                f"  {r.paper.row} ({r.head}): printed {r.paper.flops}, built {_giga(r.flops)} "
                f"({_pct(r.flops_diff)}), shortcuts as 3x3 {_giga(r.flops_3x3)} "
                f"({_pct(r.flops_3x3 / r.paper_flops - 1)})"
            )
    return "\n".join(text)
