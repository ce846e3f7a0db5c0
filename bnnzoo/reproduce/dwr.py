"""DWR's equal-cost claim, checked on the released models: each DWR preset's OPs next to its
original backbone's, with parameters and activations before and after.

Xue, Lu, Chang, Wei, Wei 2023, "Fast and Accurate Binary Neural Networks based on Depth-Width
Reshaping" (DWR) prune every reshaped backbone back under the original's OPs (BOPs/64 + FLOPs)
and print both for ImageNet (Table 8: 1.73 vs 1.74 ×10^8). Every figure here comes from
``bnnzoo.analysis.count_model`` at the model's default input (32×32 CIFAR, 224×224 ImageNet).

Two OPs columns:

* ``OPs``: the whole model (``ops_bops64``).
* ``OPs excl. FP shortcuts``: the same without the full-precision 1×1 shortcut convs. This is how
  the authors' figures come out: with it the ImageNet pair is 0.993× (Table 8: 1.73 / 1.74 =
  0.994×); counting the shortcut convs, the released ImageNet ResNet-18 costs 1.24× the original
  (its wider stages make the FP projections 3× dearer, and stage 1 needs one, 64 → 96 at 56×56).

Bound: DWR's constraint is an upper one, the reshaped backbone's OPs at most the original's
(Eq. 22: ψ_b(w_n, d_n) ≤ ψ_b(w_0, d_0)). A row is ``≈`` when the DWR preset's OPs excl. FP
shortcuts are within 5% of its original's (the reconstruction of both models agrees with the
budget the authors pruned to), ``under`` when they are lower by more (allowed by Eq. 22, but
our layout cannot confirm that the authors pruned to this budget), ``OVER`` when higher by more
than 5%; ``bnnzoo reproduce dwr`` exits 1 on an ``OVER`` row. VGG-11 is ``under``: the released
widths (144, 390, 842, 418, alignment 512) give 0.87× the original's OPs under every layout
tried (pools after each stage, alignment before or after the last pool, the last stage kept at
two convs). The authors set DBSCAN's threshold by hand and their code has no OPs counter, so a
pruning that ended 13% under budget fits what they describe; the paper prints no OPs figure
for VGG-11 that could settle it.

Example:
    >>> from bnnzoo.reproduce import dwr
    >>> rows = dwr.reproduce_dwr()
    >>> print(dwr.format_dwr_report(rows))
"""

from __future__ import annotations

from dataclasses import dataclass

from bnnzoo._text import format_table
from bnnzoo.analysis import count_model, shapes_only
from bnnzoo.zoo import create_model
from bnnzoo.zoo.dwr import RELEASED

OPS_TOLERANCE = 0.05


@dataclass(frozen=True)
class Costs:
    """One model's figures."""

    name: str
    ops: float
    ops_no_shortcut: float
    params: int
    activations: int


@dataclass(frozen=True)
class DWRRow:
    """A released DWR preset next to its original."""

    dwr: Costs
    original: Costs
    s: float

    @property
    def ratio(self) -> float:
        """DWR OPs / original OPs, FP shortcut convs left out (the authors' count)."""
        return self.dwr.ops_no_shortcut / self.original.ops_no_shortcut

    @property
    def ok(self) -> bool:
        """Within the budget (Eq. 22), with the tolerance for our layout choices."""
        return self.ratio <= 1 + OPS_TOLERANCE

    @property
    def status(self) -> str:
        """``≈`` within the tolerance, ``under`` below it, ``OVER`` above it."""
        if not self.ok:
            return "OVER"
        return "≈" if self.ratio >= 1 - OPS_TOLERANCE else "under"


def costs(name: str) -> Costs:
    """The figures of a registered model at its default input."""
    counts = count_model(create_model(name))
    shortcut = sum(layer.float_macs for layer in counts.layers if "_shortcut_conv" in layer.name)
    return Costs(name, counts.ops_bops64, counts.ops_bops64 - shortcut, counts.params,
                 counts.activations)  # fmt: skip


@shapes_only()
def reproduce_dwr() -> list[DWRRow]:
    """Every released preset against its original backbone."""
    return [DWRRow(costs(name), costs(original), s) for name, (original, s) in RELEASED.items()]


def reproduced(rows: list[DWRRow]) -> bool:
    return all(row.ok for row in rows)


def format_dwr_report(rows: list[DWRRow]) -> str:
    """The table, one line per preset pair, and what the columns mean."""
    table = [["DWR preset (original)", "s", "OPs", "orig OPs", "excl. FP sc.", "orig excl.",
              "ratio", "budget", "params", "orig params", "activations", "orig act."]]  # fmt: skip
    for r in rows:
        table.append([
            f"{r.dwr.name} ({r.original.name})", f"{r.s:g}",
            f"{r.dwr.ops:.4g}", f"{r.original.ops:.4g}",
            f"{r.dwr.ops_no_shortcut:.4g}", f"{r.original.ops_no_shortcut:.4g}",
            f"{r.ratio:.3f}", r.status,
            f"{r.dwr.params:,}", f"{r.original.params:,}",
            f"{r.dwr.activations:,}", f"{r.original.activations:,}",
        ])  # fmt: skip
    return "\n".join(
        [
            "DWR (Xue et al. 2023): released presets against their original backbones",
            format_table(table),
            "",
            "OPs = binary MACs / 64 + float MACs (bnnzoo.analysis.count_model, ops_bops64); "
            "'excl. FP sc.' leaves the full-\nprecision 1×1 shortcut convs out, as the authors' "
            f"figures do (Table 8: 1.73 vs 1.74 ×10^8). ratio = DWR / original\nexcl. FP "
            f"shortcuts; budget (Eq. 22: DWR OPs ≤ original's): '≈' within {OPS_TOLERANCE:.0%}, "
            f"'under' lower by more,\n'OVER' higher by more (exit 1). Activations: conv output "
            f"elements per image (DWR §3.2).",
        ]
    )
