"""What ``bench`` measured, as a report: times per engine, their ratios, throughput against the
machine's limit, agreement with Keras; as an aligned text table (``format``) or JSON-able data
(``as_dict``).

Example:
    >>> report = bench("binary_densenet28", input_shape=(224, 224, 3), runs=30)
    >>> print(report.format())
    >>> report.as_dict()["ratio_to_lce"]["openvino"]
    0.05
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bnnzoo._text import format_table
from bnnzoo.converters.bench.engines import ENGINE_TITLES
from bnnzoo.converters.bench.limit import Limit
from bnnzoo.converters.verify import VerifyReport


@dataclass(frozen=True)
class EngineTimes:
    """Median, minimum and 90th percentile of one engine's runs, in milliseconds."""

    median_ms: float
    min_ms: float
    p90_ms: float
    detail: str = ""

    @classmethod
    def from_samples(cls, samples: Sequence[float], detail: str = "") -> EngineTimes:
        return cls(
            median_ms=float(statistics.median(samples)),
            min_ms=float(min(samples)),
            p90_ms=float(np.percentile(samples, 90)),
            detail=detail,
        )


@dataclass(frozen=True)
class BenchReport:
    """What ``bench`` measured: times per engine, their ratios, throughput against the limit,
    and each engine's agreement with Keras.

    Attributes:
        model: the Keras model's name.
        input_shape: one input's shape (H, W, C).
        threads: threads of every engine.
        runs, warmup: timed and untimed runs per engine.
        engines: engine name (``ENGINES``) → its times, in the order of ``ENGINES``.
        unavailable: engine name → why it could not run the model.
        agreement: engine name → ``VerifyReport`` of its outputs against Keras.
        binary_macs: binary MACs of one inference (``analysis.count_model``).
        limit: the physical binary-MAC limit.
        randomized: the model looked untrained and got random weights first.
        other_load: cores kept busy by other processes while timing (clean near 0).
        notes: what else a reader must know (thread settings, randomized weights).
        profile: OpenVINO's slowest nodes, ``(name, node type, kernel, ms)``, when asked for.
        profile_by_type: OpenVINO ms per node type, when a profile was asked for.
    """

    model: str
    input_shape: tuple[int, ...]
    threads: int
    runs: int
    warmup: int
    engines: dict[str, EngineTimes]
    unavailable: dict[str, str]
    agreement: dict[str, VerifyReport]
    binary_macs: int
    limit: Limit
    randomized: bool = False
    other_load: float = 0.0
    notes: tuple[str, ...] = ()
    profile: tuple[tuple[str, str, str, float], ...] = field(default=())
    profile_by_type: dict[str, float] = field(default_factory=dict)

    def _ratio_to(self, reference: str) -> dict[str, float]:
        if reference not in self.engines:
            return {}
        base = self.engines[reference].median_ms
        return {name: t.median_ms / base for name, t in self.engines.items()}

    @property
    def ratio_to_lce(self) -> dict[str, float]:
        """Median time of each engine / LCE's median time (empty without LCE)."""
        return self._ratio_to("lce")

    @property
    def ratio_to_float_tflite(self) -> dict[str, float]:
        """Median time of each engine / float TFLite's median time (empty without it)."""
        return self._ratio_to("tflite")

    @property
    def binary_gmacs_per_s(self) -> dict[str, float]:
        """``binary_macs / median time`` in G binary MACs per second, per engine."""
        return {
            name: self.binary_macs / (t.median_ms * 1e-3) / 1e9 for name, t in self.engines.items()
        }

    @property
    def percent_of_limit(self) -> dict[str, float]:
        """``binary_gmacs_per_s`` as a percentage of ``limit.gmacs_per_s``."""
        return {
            name: 100.0 * rate / self.limit.gmacs_per_s
            for name, rate in self.binary_gmacs_per_s.items()
        }

    def as_dict(self) -> dict:
        """The report as JSON-able data (no NaN: a missing number is None).

        Example:
            >>> json.dumps(report.as_dict())
        """
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "threads": self.threads,
            "runs": self.runs,
            "warmup": self.warmup,
            "engines": {
                name: {
                    "median_ms": t.median_ms,
                    "min_ms": t.min_ms,
                    "p90_ms": t.p90_ms,
                    "detail": t.detail,
                }
                for name, t in self.engines.items()
            },
            "unavailable": dict(self.unavailable),
            "ratio_to_lce": self.ratio_to_lce,
            "ratio_to_float_tflite": self.ratio_to_float_tflite,
            "binary_macs": self.binary_macs,
            "binary_gmacs_per_s": self.binary_gmacs_per_s,
            "percent_of_limit": self.percent_of_limit,
            "limit": {
                "binary_macs_per_cycle_per_core": self.limit.per_cycle_per_core,
                "cores": self.limit.cores,
                "clock_ghz": self.limit.clock_ghz,
                "clock_source": self.limit.clock_source,
                "gmacs_per_s": self.limit.gmacs_per_s,
            },
            "agreement": {
                name: {
                    "passed": r.passed,
                    "n": r.n,
                    "max_abs_diff": _finite_or_none(r.max_abs_diff),
                    "max_abs_reference": _finite_or_none(r.max_abs_reference),
                    "top1_agreement": r.top1_agreement,
                    "rounding_exact": r.rounding_exact,
                }
                for name, r in self.agreement.items()
            },
            "randomized_weights": self.randomized,
            "other_load_cores": self.other_load,
            "notes": list(self.notes),
            "openvino_profile": [
                {"node": name, "type": node_type, "kernel": kernel, "ms": ms}
                for name, node_type, kernel, ms in self.profile
            ],
            "openvino_profile_by_type": dict(self.profile_by_type),
        }

    def format(self) -> str:
        """An aligned text table with the times, ratios, throughput and agreement, and below it
        the binary MACs, the limit and its assumptions, unavailable engines and notes.

        Example:
            >>> print(report.format())
        """
        shape = "x".join(map(str, self.input_shape))
        weights = "random weights (model looked untrained)" if self.randomized else "its weights"
        lines = [
            f"{self.model} ({shape}), batch 1, {self.threads} threads, {weights}; "
            f"{self.runs} timed runs per engine after {self.warmup} warm-up, engines taking turns",
            "",
        ]
        header = [
            "engine", "median ms", "min ms", "p90 ms", "vs LCE", "vs float TFLite",
            "G binary MACs/s", "% of limit", "agrees with Keras",
        ]  # fmt: skip
        rows = [header]
        to_lce, to_tflite = self.ratio_to_lce, self.ratio_to_float_tflite
        rates, percents = self.binary_gmacs_per_s, self.percent_of_limit
        for name, t in self.engines.items():
            rows.append(
                [
                    ENGINE_TITLES.get(name, name),
                    f"{t.median_ms:.2f}",
                    f"{t.min_ms:.2f}",
                    f"{t.p90_ms:.2f}",
                    f"{to_lce[name]:.3f}x" if name in to_lce else "-",
                    f"{to_tflite[name]:.3f}x" if name in to_tflite else "-",
                    f"{rates[name]:,.1f}",
                    f"{percents[name]:.2f}",
                    _agreement_cell(self.agreement.get(name)),
                ]
            )
        for name in self.unavailable:
            rows.append([ENGINE_TITLES.get(name, name), "unavailable", *[""] * 7])
        lines.append(format_table(rows))
        lines.append("")
        lines.append(
            "vs LCE, vs float TFLite: median time / that engine's median time (below 1: faster)."
        )
        lines.append(
            f"binary MACs per inference: {self.binary_macs:,} ({self.binary_macs / 1e9:.3f} G, "
            f"analysis.count_model); G binary MACs/s = binary MACs / median time."
        )
        lines.append(f"limit: {self.limit}.")
        if self.agreement:
            n = next(iter(self.agreement.values())).n
            lines.append(
                f"agreement: max |engine - Keras| / max |Keras| over {n} random inputs, checked "
                f"with verify.compare_outputs before timing."
            )
        lines.append(
            f"other processes kept {self.other_load:.2f} cores busy while timing (clean near 0)."
        )
        for name, t in self.engines.items():
            if t.detail:
                lines.append(f"{ENGINE_TITLES.get(name, name)}: {t.detail}")
        for name, reason in self.unavailable.items():
            lines.append(f"{ENGINE_TITLES.get(name, name)} unavailable: {reason}")
        lines.extend(self.notes)
        if self.profile:
            lines.append("")
            total = sum(self.profile_by_type.values())
            lines.append(f"OpenVINO per-node profile (median ms per node; sum {total:.2f} ms):")
            by_type = [["node type", "ms", "share"]]
            for node_type, ms in self.profile_by_type.items():
                by_type.append([node_type, f"{ms:.3f}", f"{100 * ms / total:.0f}%"])
            lines.append(format_table(by_type))
            lines.append("")
            nodes = [["node", "type", "kernel", "ms"]]
            nodes.extend([n, ty, k, f"{ms:.3f}"] for n, ty, k, ms in self.profile)
            lines.append(format_table(nodes))
        return "\n".join(lines)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _agreement_cell(report: VerifyReport | None) -> str:
    if report is None:
        return "-"
    relative = report.max_abs_diff / report.max_abs_reference if report.max_abs_reference else 0.0
    return f"{'yes' if report.passed else 'NO'} ({relative:.1e})"
