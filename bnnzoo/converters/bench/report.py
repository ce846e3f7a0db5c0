"""What ``bench`` measured, as a report: times per engine side by side and alone, throughput,
ratios, the share of the machine's measured limit, agreement with Keras, and the engine to use;
as an aligned text table (``format``) or JSON-able data (``as_dict``); the choice and a line per
engine saying why it was or was not chosen come from ``choice``.

Example:
    >>> report = bench("binary_densenet28", input_shape=(224, 224, 3), runs=30)
    >>> print(report.format())
    >>> report.recommended_engine, report.as_dict()["ratio_to_lce"]["openvino"]
    ('openvino', 0.05)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bnnzoo._text import format_table
from bnnzoo.converters.bench.choice import RECOMMENDATION_RULE, reasons, recommend
from bnnzoo.converters.bench.engines import ENGINE_TITLES
from bnnzoo.converters.bench.limit import Limit
from bnnzoo.converters.verify import VerifyReport


@dataclass(frozen=True)
class EngineTimes:
    """One engine's milliseconds per batch: median, minimum and 90th percentile of its runs
    taking turns with the other engines, and the median of its runs alone.

    ``precision`` is what its float layers compute in (``"f32"``, ``"bf16"``).
    """

    median_ms: float
    min_ms: float
    p90_ms: float
    alone_median_ms: float
    detail: str = ""
    precision: str = "f32"

    @classmethod
    def from_samples(
        cls,
        turns: Sequence[float],
        alone: Sequence[float],
        detail: str = "",
        precision: str = "f32",
    ) -> EngineTimes:
        return cls(
            median_ms=float(statistics.median(turns)),
            min_ms=float(min(turns)),
            p90_ms=float(np.percentile(turns, 90)),
            alone_median_ms=float(statistics.median(alone)),
            detail=detail,
            precision=precision,
        )


@dataclass(frozen=True)
class BenchReport:
    """What ``bench`` measured: times per engine, their ratios, throughput, the share of the
    measured limit, each engine's agreement with Keras, and the engine to use.

    Attributes:
        model: the Keras model's name.
        input_shape: one input's shape (H, W, C).
        threads: threads of every engine.
        runs, warmup, block: timed runs per engine (taking turns, and again alone), untimed
            runs before each block, consecutive runs per block.
        batch: inputs per run; times are per batch.
        engines: engine name (``ALL_ENGINES``) → its times, in the order of ``ALL_ENGINES``.
        unavailable: engine name → why it could not run the model.
        agreement: engine name → ``VerifyReport`` of its outputs against Keras.
        checked_on: what the agreement checks ran on: ``"random inputs"`` or ``"real images"``
            (``bench``'s ``images``).
        remeasured: engine measured in f32 (``openvino-f32``) → the engine whose bf16 check
            failed, which is why it was measured.
        binary_macs, float_macs: MACs of one image (``analysis.count_model``).
        limit: the machine's measured peaks (``bench.limit``); None when they could not be
            measured (a note says why).
        randomized: the model looked untrained and got random weights first.
        other_load: cores kept busy by other processes while timing (clean near 0).
        notes: what else a reader must know (thread settings, randomized weights).
        machine: the CPU, its clock and flags (``bnnzoo._host.describe``).
        profile: OpenVINO's slowest nodes, ``(name, node type, kernel, ms)``, when asked for.
        profile_by_type: OpenVINO ms per node type, when a profile was asked for.
        profile_engine: the OpenVINO engine profiled.
        macs_by_node_type: OpenVINO node type → MACs of one image it computes
            (``BinaryConvolution`` binary, the others float), for the profile's % of limit.
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
    limit: Limit | None
    float_macs: int = 0
    batch: int = 1
    block: int = 20
    randomized: bool = False
    other_load: float = 0.0
    notes: tuple[str, ...] = ()
    machine: str = ""
    profile: tuple[tuple[str, str, str, float], ...] = field(default=())
    profile_by_type: dict[str, float] = field(default_factory=dict)
    profile_engine: str = ""
    macs_by_node_type: dict[str, int] = field(default_factory=dict)
    checked_on: str = "random inputs"
    remeasured: dict[str, str] = field(default_factory=dict)

    def _ratio_to(self, reference: str) -> dict[str, float]:
        if reference not in self.engines:
            return {}
        base = self.engines[reference].median_ms
        return {name: t.median_ms / base for name, t in self.engines.items()}

    @property
    def ratio_to_lce(self) -> dict[str, float]:
        """Median time of each engine / LCE's, taking turns (empty without LCE)."""
        return self._ratio_to("lce")

    @property
    def ratio_to_float_tflite(self) -> dict[str, float]:
        """Median time of each engine / float TFLite's, taking turns (empty without it)."""
        return self._ratio_to("tflite")

    @property
    def images_per_s(self) -> dict[str, float]:
        """``batch`` / median time alone, per engine."""
        return {name: self.batch / (t.alone_median_ms * 1e-3) for name, t in self.engines.items()}

    def limit_ms(self, precision: str) -> float | None:
        """The limit time of one batch with float layers in ``precision`` (None unmeasured)."""
        if self.limit is None or precision not in self.limit.float_gmacs_per_s:
            return None
        return self.limit.time_ms(
            self.binary_macs * self.batch, self.float_macs * self.batch, precision
        )

    @property
    def percent_of_limit(self) -> dict[str, float]:
        """Limit time (in the engine's float precision) / its median time alone, in %."""
        result = {}
        for name, t in self.engines.items():
            limit = self.limit_ms(t.precision)
            if limit is not None:
                result[name] = 100.0 * limit / t.alone_median_ms
        return result

    @property
    def recommended_engine(self) -> str | None:
        """The engine to use on this machine for this model (``RECOMMENDATION_RULE``)."""
        return recommend(self.engines, self.agreement)

    @property
    def reasons(self) -> dict[str, str]:
        """Engine name → one line: why it was or was not chosen (``choice.reasons``)."""
        return reasons(
            self.engines,
            self.agreement,
            self.unavailable,
            checked_on=self.checked_on,
            remeasured=self.remeasured,
        )

    def profile_limit(self) -> dict[str, tuple[int, float | None]]:
        """Node type → (MACs of one batch, limit ms) for the profiled node types with MACs."""
        engine = self.engines.get(self.profile_engine)
        precision = engine.precision if engine else "f32"
        result = {}
        for node_type, macs in self.macs_by_node_type.items():
            macs *= self.batch
            binary = node_type == "BinaryConvolution"
            limit = None
            if self.limit is not None and precision in self.limit.float_gmacs_per_s:
                args = (macs, 0) if binary else (0, macs)
                limit = self.limit.time_ms(*args, precision)
            result[node_type] = (macs, limit)
        return result

    def as_dict(self) -> dict:
        """The report as JSON-able data (no NaN: a missing number is None).

        Example:
            >>> json.dumps(report.as_dict())
        """
        limit = None
        if self.limit is not None:
            limit = {
                "binary_gmacs_per_s": self.limit.binary_gmacs_per_s,
                "float_gmacs_per_s": dict(self.limit.float_gmacs_per_s),
                "threads": self.limit.threads,
                "measured": self.limit.measured,
                "time_ms": {p: self.limit_ms(p) for p in self.limit.float_gmacs_per_s},
            }
        by_type_limit = self.profile_limit()
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "batch": self.batch,
            "threads": self.threads,
            "runs": self.runs,
            "warmup": self.warmup,
            "block": self.block,
            "machine": self.machine,
            "engines": {
                name: {
                    "median_ms": t.median_ms,
                    "min_ms": t.min_ms,
                    "p90_ms": t.p90_ms,
                    "alone_median_ms": t.alone_median_ms,
                    "images_per_s": self.images_per_s[name],
                    "precision": t.precision,
                    "detail": t.detail,
                }
                for name, t in self.engines.items()
            },
            "unavailable": dict(self.unavailable),
            "ratio_to_lce": self.ratio_to_lce,
            "ratio_to_float_tflite": self.ratio_to_float_tflite,
            "binary_macs": self.binary_macs,
            "float_macs": self.float_macs,
            "limit": limit,
            "percent_of_limit": self.percent_of_limit,
            "recommended_engine": self.recommended_engine,
            "recommendation_rule": RECOMMENDATION_RULE,
            "reasons": self.reasons,
            "checked_on": self.checked_on,
            "remeasured_in_f32": dict(self.remeasured),
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
            "openvino_profile_engine": self.profile_engine or None,
            "openvino_profile": [
                {"node": name, "type": node_type, "kernel": kernel, "ms": ms}
                for name, node_type, kernel, ms in self.profile
            ],
            "openvino_profile_by_type": {
                node_type: {
                    "ms": ms,
                    "macs": by_type_limit.get(node_type, (0, None))[0],
                    "limit_ms": by_type_limit.get(node_type, (0, None))[1],
                }
                for node_type, ms in self.profile_by_type.items()
            },
        }

    def format(self) -> str:
        """An aligned text table with the times, throughput, ratios, share of the limit and
        agreement, and below it what they mean, the limit, the recommendation, unavailable
        engines and notes.

        Example:
            >>> print(report.format())
        """
        shape = "x".join(map(str, self.input_shape))
        weights = "random weights (model looked untrained)" if self.randomized else "its weights"
        lines = [
            f"{self.model} ({shape}), batch {self.batch}, {self.threads} threads, {weights}; "
            f"{self.runs} timed runs per engine taking turns in blocks of {self.block}, then "
            f"{self.runs} alone",
        ]
        if self.machine:
            lines.append(f"machine: {self.machine}")
        lines.append("")
        header = [
            "engine", "float", "median ms", "p90 ms", "alone ms", "images/s", "vs LCE",
            "vs float TFLite", "% of limit", "agrees with Keras",
        ]  # fmt: skip
        rows = [header]
        to_lce, to_tflite = self.ratio_to_lce, self.ratio_to_float_tflite
        rates, percents = self.images_per_s, self.percent_of_limit
        for name, t in self.engines.items():
            rows.append(
                [
                    ENGINE_TITLES.get(name, name),
                    t.precision,
                    f"{t.median_ms:.2f}",
                    f"{t.p90_ms:.2f}",
                    f"{t.alone_median_ms:.2f}",
                    f"{rates[name]:,.1f}",
                    f"{to_lce[name]:.3f}x" if name in to_lce else "-",
                    f"{to_tflite[name]:.3f}x" if name in to_tflite else "-",
                    f"{percents[name]:.1f}" if name in percents else "-",
                    _agreement_cell(self.agreement.get(name)),
                ]
            )
        for name in self.unavailable:
            rows.append([ENGINE_TITLES.get(name, name), "", "unavailable", *[""] * 7])
        lines.append(format_table(rows))
        lines.append("")
        lines.append(
            f"median, p90: ms per batch of {self.batch}, the engines taking turns in blocks "
            f"(each: {self.warmup} untimed, then {self.block} timed runs; same input, same "
            f"threads); alone ms: median of {self.runs} consecutive runs of the engine by itself "
            f"after the turns; images/s = batch / alone ms."
        )
        lines.append(
            "vs LCE, vs float TFLite: median time / that engine's median time, taking turns "
            "(below 1: faster)."
        )
        lines.append(
            f"MACs per image: {self.binary_macs:,} binary ({self.binary_macs / 1e9:.3f} G), "
            f"{self.float_macs:,} float ({self.float_macs / 1e9:.3f} G) (analysis.count_model)."
        )
        if self.limit is not None:
            lines.append(f"limit: {self.limit}.")
            times = ", ".join(
                f"{p} {self.limit_ms(p):.3f} ms" for p in self.limit.float_gmacs_per_s
            )
            lines.append(
                f"limit time per batch (binary MACs / binary peak + float MACs / float peak in "
                f"the engine's precision): {times}; % of limit = limit time / alone ms."
            )
        lines.extend(self._format_recommendation())
        if self.agreement:
            n = next(iter(self.agreement.values())).n
            lines.append(
                f"agreement: max |engine - Keras| / max |Keras| over {n} {self.checked_on}, "
                f"checked with verify.compare_outputs before timing, by the criteria of the "
                f"engine's precision (verify.tolerance); a bf16 engine's conversion is also "
                f"checked compiled in f32, and with random weights only that check counts; a "
                f"bf16 engine that fails its check is measured again in f32 (openvino-f32)."
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
            lines.extend(["", *self._format_profile()])
        return "\n".join(lines)

    def _format_recommendation(self) -> list[str]:
        best = self.recommended_engine
        if best is None:
            lines = ["use on this machine for this model: none of these engines agrees with Keras."]
        else:
            lines = [
                f"use on this machine for this model: {ENGINE_TITLES.get(best, best)} "
                f"({self.engines[best].alone_median_ms:.2f} ms alone); rule: "
                f"{RECOMMENDATION_RULE}."
            ]
        lines.append("why, per engine:")
        lines.extend(f"  {line}" for line in self.reasons.values())
        return lines

    def _format_profile(self) -> list[str]:
        total = sum(self.profile_by_type.values())
        title = ENGINE_TITLES.get(self.profile_engine, self.profile_engine)
        lines = [f"{title} per-node profile (median ms per node; sum {total:.2f} ms):"]
        limits = self.profile_limit()
        rows = [["node type", "ms", "share", "G MACs", "G MACs/s", "limit ms", "% of limit"]]
        for node_type, ms in self.profile_by_type.items():
            macs, limit = limits.get(node_type, (0, None))
            rows.append(
                [
                    node_type,
                    f"{ms:.3f}",
                    f"{100 * ms / total:.0f}%",
                    f"{macs / 1e9:.3f}" if macs else "-",
                    f"{macs / (ms * 1e6):,.0f}" if macs and ms else "-",
                    f"{limit:.3f}" if limit is not None else "-",
                    f"{100 * limit / ms:.0f}" if limit is not None and ms else "-",
                ]
            )
        lines.append(format_table(rows))
        lines.append(
            "G MACs/s: the node type's MACs / its time (BinaryConvolution binary, the others "
            "float); limit ms: those MACs at the measured peak; '-': no MACs, all overhead."
        )
        lines.append("")
        nodes = [["node", "type", "kernel", "ms"]]
        nodes.extend([n, ty, k, f"{ms:.3f}"] for n, ty, k, ms in self.profile)
        lines.append(format_table(nodes))
        return lines


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _agreement_cell(report: VerifyReport | None) -> str:
    if report is None:
        return "-"
    relative = report.max_abs_diff / report.max_abs_reference if report.max_abs_reference else 0.0
    return f"{'yes' if report.passed else 'NO'} ({relative:.1e})"
