"""``bnnzoo export MODEL --format tflite``: load or build a model, convert it with LCE, inspect
the flatbuffer and check it against Keras, in one report.

Example:
    >>> from bnnzoo.converters.lce import export_tflite
    >>> print(export_tflite("binary_densenet28", "bdn28.tflite", weights="imagenet"))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from bnnzoo._checks import positive_int
from bnnzoo.converters.exact import Margins, check_conversion
from bnnzoo.converters.lce.convert import _check_destination, to_tflite
from bnnzoo.converters.lce.flatbuffer import op_histogram
from bnnzoo.converters.lce.report import (
    BinaryMacReport,
    SizeReport,
    binary_mac_report,
    size_report,
)
from bnnzoo.converters.lce.runtime import lce_engine, verify_tflite
from bnnzoo.converters.reference import looks_untrained
from bnnzoo.converters.verify import VerificationError, VerifyReport
from bnnzoo.zoo.loading import load_or_build

UNTRAINED_NOTE = (
    "check of your weights skipped: the model is untrained (every BatchNorm at mean 0, "
    "variance 1), so exact zeros reach sign() and any two engines may round them to different "
    "signs; the conversion check above covers the conversion"
)


@dataclass(frozen=True)
class ExportReport:
    """What ``export_tflite`` did: the file, its ops, binary-MAC share, size and checks.

    ``conversion`` is the check of the conversion itself: the same architecture converted with
    tie-free weights (``bnnzoo.converters.exact``) must agree with Keras to float rounding on
    every input; ``margins`` says how far from 0 its sign inputs stayed. ``verify`` is the check
    of the file with the model's own weights (None for an untrained model), by the tolerant
    criteria of ``verify.verify_engine`` or the caller's.
    """

    model_name: str
    path: Path | None
    target: str
    int8: bool
    histogram: dict[str, int]
    macs: BinaryMacReport
    size: SizeReport
    verify: VerifyReport | None
    notes: tuple[str, ...] = ()
    conversion: VerifyReport | None = None
    margins: Margins | None = None

    @property
    def checks(self) -> tuple[VerifyReport, ...]:
        """The checks that ran; all must pass."""
        return tuple(c for c in (self.conversion, self.verify) if c is not None)

    @property
    def passed(self) -> bool:
        """Every check that ran passed (True when none ran)."""
        return all(check.passed for check in self.checks)

    def __str__(self) -> str:
        ops = ", ".join(f"{name} {count}" for name, count in self.histogram.items())
        lines = [
            f"{self.model_name} -> {self.path or '(not written)'} (target {self.target}, "
            f"{'int8' if self.int8 else 'float32'} with binary ops)",
            f"ops: {ops}",
            str(self.macs),
            str(self.size),
        ]
        if self.conversion is not None:
            lines.append(f"conversion check, {self.margins}: {self.conversion}")
        if self.verify is not None:
            lines.append(f"your weights: {self.verify}")
        lines.extend(self.notes)
        return "\n".join(lines)


def export_tflite(
    model: tf.keras.Model | str | os.PathLike,
    out_path: str | os.PathLike | None,
    *,
    target: str = "arm",
    int8: bool = False,
    int8_range: tuple[float, float] | None = None,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    weights: str | None = None,
    verify: bool = True,
    n: int = 8,
    atol: float | None = None,
    rtol: float | None = None,
    min_top1_agreement: float | None = None,
    min_rounding_exact: float | None = None,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> ExportReport:
    """Load or build a model, convert it with LCE, inspect the flatbuffer and check it.

    The command ``bnnzoo export MODEL --format tflite`` is this function. The flatbuffer is
    written before the check, so a failed check leaves the file for inspection; with
    ``raise_on_failure`` it then raises ``VerificationError``.

    Args:
        model: a Keras model, a saved model path, or a registered zoo name.
        out_path: the ``.tflite`` file to write (atomically), or None to write nothing.
        target, int8, int8_range: as in ``to_tflite``.
        input_shape, num_classes, weights: build options for a zoo name.
        verify: check the conversion exactly (the architecture converted again with tie-free
            weights, ``exact.check_conversion``: every one of ``n`` random inputs must agree to
            float rounding; for ``int8`` the float32 conversion) and the file with the model's
            own weights against Keras on ``n`` random inputs (skipped, with a note, for an
            untrained model, ``verify.looks_untrained``, where it is meaningless).
        n, seed: number of random inputs and their seed.
        atol, rtol, min_top1_agreement, min_rounding_exact: criteria of the check of the
            model's own weights (None: ``verify_tflite``'s defaults; int8 needs looser ones).
        raise_on_failure: raise ``VerificationError`` when the check fails.

    Returns:
        An ``ExportReport``; ``str(report)`` is the text the CLI prints.

    Example:
        >>> report = export_tflite("binary_densenet28", "bdn28.tflite", weights="imagenet")
        >>> report.macs.share_percent, report.verify.passed
        (100.0, True)
    """
    positive_int("n", n)  # the arguments and the destination are checked before any work
    if out_path is not None:
        _check_destination(out_path)
    keras_model = load_or_build(
        model, input_shape=input_shape, num_classes=num_classes, weights=weights
    )
    flatbuffer = to_tflite(keras_model, out_path, target=target, int8=int8, int8_range=int8_range)
    conversion = margins = check = None
    notes = []
    if verify:
        conversion, margins = check_conversion(
            keras_model,
            lambda m: lce_engine(to_tflite(m, target=target)),
            n=n,
            seed=seed,
            engine_name="LCE interpreter (float32)" if int8 else "LCE interpreter",
        )
        criteria = {
            "atol": atol,
            "rtol": rtol,
            "min_top1_agreement": min_top1_agreement,
            "min_rounding_exact": min_rounding_exact,
        }
        criteria = {k: v for k, v in criteria.items() if v is not None}
        if looks_untrained(keras_model):
            notes.append(UNTRAINED_NOTE)
        else:
            check = verify_tflite(
                keras_model, flatbuffer, n=n, seed=seed, raise_on_failure=False, **criteria
            )
    report = ExportReport(
        model_name=keras_model.name,
        path=Path(out_path) if out_path is not None else None,
        target=target,
        int8=int8,
        histogram=op_histogram(flatbuffer),
        macs=binary_mac_report(keras_model, flatbuffer),
        size=size_report(keras_model, flatbuffer),
        verify=check,
        notes=tuple(notes),
        conversion=conversion,
        margins=margins,
    )
    failed = next((c for c in report.checks if not c.passed), None)
    if failed is not None and raise_on_failure:
        raise VerificationError(
            f"{failed.failure_message()}\n{report}", report=failed, export_report=report
        )
    return report
