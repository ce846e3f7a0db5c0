"""The engine to use, and why: ``recommend`` applies ``RECOMMENDATION_RULE`` to the times alone
of the engines that agree with Keras; ``reasons`` gives every engine one line saying why it was
or was not chosen (its time, what its check found and on which inputs, and, for a bf16 engine
that failed its check, that it was measured again in f32).

Example:
    >>> quick, slow = EngineTimes(1.1, 1, 1.2, 1.04), EngineTimes(2.3, 2, 2.5, 2.19)
    >>> recommend({"tflite": quick, "openvino": slow}, {})
    'tflite'
    >>> reasons({"tflite": quick, "openvino": slow}, {}, {}, checked_on="random inputs")["openvino"]
    'openvino: not chosen, 2.19 ms alone, 2.1x tflite's 1.04 ms'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bnnzoo.converters.verify import VerifyReport

# an engine within this share of the fastest counts as a tie (noise on a shared machine)
TIE = 0.05
# simplest first: nothing to convert, one standard conversion with a stock runtime, bnnzoo's
# exporter computing exactly, the same rounding float layers to bf16, LCE's own runtime
SIMPLICITY = ("keras", "tflite", "openvino f32", "openvino bf16", "lce")
RECOMMENDATION_RULE = (
    "the fastest engine alone among those that agree with Keras; within 5 % of it the simplest "
    "(Keras, float TFLite, OpenVINO f32, OpenVINO bf16, LCE)"
)


class Timed(Protocol):
    """What the choice reads of an engine's times (``report.EngineTimes``)."""

    alone_median_ms: float
    precision: str


def recommend(engines: Mapping[str, Timed], agreement: Mapping[str, VerifyReport]) -> str | None:
    """The engine to use: ``RECOMMENDATION_RULE`` on the medians alone; None when no engine
    agrees with Keras.

    Example:
        >>> quick, slow = EngineTimes(1.1, 1, 1.2, 1.04), EngineTimes(2.3, 2, 2.5, 2.19)
        >>> recommend({"tflite": quick, "openvino": slow}, {})
        'tflite'
    """
    agreeing = _agreeing(engines, agreement)
    if not agreeing:
        return None
    fastest = min(t.alone_median_ms for t in agreeing.values())
    ties = [name for name, t in agreeing.items() if t.alone_median_ms <= fastest * (1 + TIE)]
    return min(ties, key=lambda name: _simplicity(name, agreeing[name].precision))


def reasons(
    engines: Mapping[str, Timed],
    agreement: Mapping[str, VerifyReport],
    unavailable: Mapping[str, str],
    *,
    checked_on: str,
    remeasured: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """One line per engine: why it was or was not chosen.

    Args:
        engines: engine name → its times (``EngineTimes``).
        agreement: engine name → its check against Keras.
        unavailable: engine name → why it could not run.
        checked_on: what the checks ran on, e.g. ``"random inputs"`` or ``"real images"``.
        remeasured: engine measured in f32 → the engine whose bf16 check failed.

    Example:
        >>> reasons(engines, agreement, {}, checked_on="real images")["openvino"]
        'openvino (bf16): chosen, fastest alone (0.19 ms) of the engines that agree; ...'
    """
    remeasured = dict(remeasured or {})
    best = recommend(engines, agreement)
    lines = {}
    for name, times in engines.items():
        check = agreement.get(name)
        if check is not None and not check.passed:
            why = _failed(name, check, checked_on, remeasured)
        else:
            why = _chosen_or_not(name, engines, agreement, best)
            if check is not None:
                why += f"; agrees on {_summary(check, checked_on)}"
        if name in remeasured:
            why = f"measured because {remeasured[name]} failed its check in bf16; {why}"
        lines[name] = f"{label(name, times.precision)}: {why}"
    for name, reason in unavailable.items():
        lines[name] = f"{name}: not available, {reason}"
    return lines


def label(name: str, precision: str) -> str:
    """The engine's name with its float precision where the name leaves it open
    (``openvino (bf16)``)."""
    return f"{name} ({precision})" if name == "openvino" else name


def _agreeing(engines: Mapping[str, Timed], agreement: Mapping[str, VerifyReport]) -> dict:
    return {
        name: t for name, t in engines.items() if name not in agreement or agreement[name].passed
    }


def _chosen_or_not(name: str, engines, agreement, best: str | None) -> str:
    ms = engines[name].alone_median_ms
    if best is None:
        return f"not chosen, {ms:.2f} ms alone"
    agreeing = _agreeing(engines, agreement)
    fastest = min(agreeing, key=lambda n: agreeing[n].alone_median_ms)
    if name == best and name == fastest:
        return f"chosen, fastest alone ({ms:.2f} ms) of the engines that agree"
    if name == best:
        quicker = engines[fastest].alone_median_ms
        return (
            f"chosen, {ms:.2f} ms alone: within {TIE:.0%} of the fastest ({fastest}, "
            f"{quicker:.2f} ms) and simpler"
        )
    chosen_ms = engines[best].alone_median_ms
    if ms <= agreeing[fastest].alone_median_ms * (1 + TIE):
        return f"not chosen, {ms:.2f} ms alone: within {TIE:.0%} of the fastest; {best} is simpler"
    return f"not chosen, {ms:.2f} ms alone, {ms / chosen_ms:.1f}x {best}'s {chosen_ms:.2f} ms"


def _failed(name: str, check: VerifyReport, checked_on: str, remeasured: Mapping[str, str]) -> str:
    line = f"not chosen, failed the check on {check.n} {checked_on}: {_problems(check)}"
    instead = [f32 for f32, low in remeasured.items() if low == name]
    if instead:
        return f"{line}; measured {instead[0]} instead"
    if check.engine.endswith("compiled in f32"):
        return f"{line}; the conversion disagrees in f32 too"
    return line


def _summary(check: VerifyReport, checked_on: str) -> str:
    """``1000 real images: top-1 1000/1000, 998/1000 equal within rtol 0.05, max |diff| 3.1e-02
    of max |Keras|`` (the judged check's criteria)."""
    parts = [f"{check.n} {checked_on}:"]
    if check.top1_agreement is not None:
        parts.append(f"top-1 {round(check.top1_agreement * check.n)}/{check.n},")
    parts.append(f"{check.rounding_exact}/{check.n} equal within rtol {check.rounding_rtol:g},")
    parts.append(f"max |diff| {relative_difference(check):.1e} of max |Keras|")
    if check.engine.endswith("compiled in f32"):
        parts.append("(its conversion compiled in f32)")
    return " ".join(parts)


def _problems(check: VerifyReport) -> str:
    """The top-1 agreement and the rules of ``verify.compare_outputs`` that failed, briefly."""
    problems = []
    if check.top1_agreement is not None:
        top1 = f"top-1 {round(check.top1_agreement * check.n)}/{check.n}"
        if check.top1_agreement < check.min_top1_agreement:
            top1 += f", required {check.min_top1_agreement:.0%}"
        problems.append(top1)
    if not check.worst_diff <= check.worst_tolerance:
        problems.append(
            f"an input differs by {check.worst_diff:.3g} > tolerance {check.worst_tolerance:.3g} "
            f"(rtol {check.rtol:g} of its max |Keras|)"
        )
    if check.rounding_exact < check.required_rounding_exact:
        problems.append(
            f"{check.rounding_exact}/{check.n} equal within rtol {check.rounding_rtol:g}, "
            f"required {check.required_rounding_exact}"
        )
    where = " (its conversion compiled in f32)" if check.engine.endswith("compiled in f32") else ""
    return f"{', '.join(problems) or 'disagrees'}{where}"


def relative_difference(check: VerifyReport) -> float:
    """max |engine - Keras| / max |Keras| of a check (0 where Keras' outputs are all 0)."""
    return check.max_abs_diff / check.max_abs_reference if check.max_abs_reference else 0.0


def _simplicity(name: str, precision: str) -> int:
    kind = f"openvino {precision}" if name.startswith("openvino") else name
    return SIMPLICITY.index(kind) if kind in SIMPLICITY else len(SIMPLICITY)
