"""Compare a converted model's outputs with its Keras original's on the same inputs.

The comparison is engine-agnostic: an *engine* is any function that takes a batch of inputs
(``numpy``, the Keras model's input shape with a batch axis) and returns the outputs for the
whole batch. Each converter brings its own (``bnnzoo.converters.lce.lce_engine`` runs Larq
Compute Engine's interpreter, ``bnnzoo.converters.openvino.predict`` a compiled OpenVINO model)
and calls ``verify_engine``, so all are judged by ``compare_outputs``.

The run passes when all three hold:

1. every sample is within ``atol + rtol * max |keras|`` (``max |engine - keras|`` over the
   sample; the relative part uses the sample's largest output, because errors scale with the
   size of the values and a logit near 0 is no reason for a tighter bound; NaN never passes),
   but for ``max_outside`` of them (float32: one in 1,000, so none of a few random inputs);
2. the top-1 class agrees on at least ``min_top1_agreement`` of the samples (2-D outputs);
3. at least ``min_rounding_exact`` of the samples (and at least one) agree to float rounding,
   ``max |diff| <= 1e-6 + rounding_rtol * max |keras|`` (``rounding_rtol`` 1e-4 in float32).

Why three, and why ``rtol`` is as loose as 20 %: a binary network amplifies float rounding.
A pre-sign value within rounding of 0 gets a sign that depends on the order of float
operations (the engine folds BatchNorm into the conv's multiplier and bias, Keras does not),
and a flip changes the next layer's values and can flip others downstream. It hits *some*
inputs and not others, and Keras disagrees with itself the same way: BinaryDenseNet28 run
eagerly and in graph mode (``predict``) differed by 7 % of the largest logit on 1 of 8 inputs
with random weights (the reference here, ``keras_outputs``, is the eager call; with the
tie-free weights of ``exact.check_conversion`` no value is within rounding of a sign's
threshold, and the two agree to float rounding). Measured against LCE with
``randomize_weights`` at 224×224 on 16 inputs: BinaryResNetE18 (whose residual stream reaches
``sign`` without a BatchNorm) agreed to float rounding on 8 inputs and differed by 0.4-7 % of
the largest logit on the other 8; BinaryDenseNet45 agreed on 12 and differed by 6-11 % on 4.
A conversion mistake hits *every* input: padding with 1 where Keras pads with 0 moved the
logits by 19-30 % of the largest logit on all 16 inputs of both models (top-1 agreement 25 % and
75 %), and a model with other weights by far more. Rule 3 catches such systematic errors however
small; rules 1 and 2 bound what flips may do (a flip can change the top-1 class where the top
two logits are close: BinaryDenseNet28 kept it on 6 of 8 inputs). Pass ``rtol=1e-4`` to demand
agreement to float rounding on every input, and loose criteria with ``min_rounding_exact=0``
for a lossy conversion (int8).

An engine that computes its float layers in bfloat16 (OpenVINO's ``precision="bf16"``) rounds
each float layer to 8 significant bits and flips more signs, so it is judged by its own
criteria, ``TOLERANCES["bf16"]``, derived from measurements stated there. ``tolerance(precision)``
gives the criteria of a precision.

These criteria check a model's *own* weights. The conversion itself is checked exactly by
``bnnzoo.converters.exact``: under tie-free weights no value before a sign is near 0, so a
correct conversion agrees to float rounding on every input (``tolerance("exact")``), and an
error that touches only some inputs fails. Both exports run both checks.

An *untrained* model cannot be checked this way: its BatchNorms (mean 0, variance 1, offset 0)
pass the integer outputs of binary convs and ReLU zeros to ``sign`` as exact zeros, where the
order of float operations decides ±1 (BinaryResNetE18: softmax outputs off by 0.99). Check trained
weights, or ``randomize_weights`` (random weights, BatchNorm statistics measured on data);
``looks_untrained`` tells the two apart.

Example:
    >>> report = verify_engine(model, lce_engine(to_tflite(model)), n=8)
    >>> report.max_abs_diff, report.top1_agreement, report.passed
    (3.6e-07, 1.0, True)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from bnnzoo._checks import one_of
from bnnzoo.converters.reference import (  # noqa: F401  (the public names, here as before)
    check_inputs,
    check_single_io,
    keras_outputs,
    looks_untrained,
    random_inputs,
    randomize_weights,
)

Engine = Callable[[np.ndarray], np.ndarray]

DEFAULT_ATOL = 1e-3
DEFAULT_RTOL = 0.2
DEFAULT_MIN_TOP1 = 0.5
DEFAULT_MIN_ROUNDING_EXACT = 0.1
ROUNDING_RTOL = 1e-4  # a sample within this share of its largest output agrees to float rounding


@dataclass(frozen=True)
class Tolerance:
    """The criteria of ``compare_outputs`` for an engine computing in one float precision."""

    atol: float
    rtol: float
    min_top1_agreement: float
    min_rounding_exact: float
    rounding_rtol: float
    max_outside: float = 0.0

    def kwargs(self) -> dict[str, float]:
        """The criteria as keyword arguments of ``compare_outputs`` and ``verify_engine``."""
        return dataclasses.asdict(self)


TOLERANCES = {
    # On trained weights a value within rounding of 0 before a sign now and then takes the
    # other sign in an exact conversion, and that input can differ by more than rule 1's 20 %:
    # benchmarks/trained_export.md, 10,000 Fashion-MNIST test images, OpenVINO f32 (each
    # conversion exact under tie-free weights): 6 images for a trained Bi-Real ResNet, 4 for an
    # IGP ResNet, with top-1 agreement 99.97-99.99 %. So one input in a thousand may lie outside
    # rule 1 (none of fewer than 1,000 inputs).
    "f32": Tolerance(
        atol=DEFAULT_ATOL,
        rtol=DEFAULT_RTOL,
        min_top1_agreement=DEFAULT_MIN_TOP1,
        min_rounding_exact=DEFAULT_MIN_ROUNDING_EXACT,
        rounding_rtol=ROUNDING_RTOL,
        max_outside=0.001,
    ),
    # Float layers in bfloat16 (8 significant bits) move the logits of a trained model by a
    # few % and flip more signs. Measured with OpenVINO 2026.4 on an AMD EPYC with AVX512_BF16
    # (benchmarks/openvino_kernels.md), max |diff| / max |logit| per input against Keras, for a
    # BinaryDenseNet and a BinaryResNetE trained 2 epochs on Fashion-MNIST: on 1000 test
    # images median 1.4-1.8 %, 99th percentile 4.9-9.6 %, max 11-12 %, top-1 agreement
    # 97.0-99.5 % (float32: 100 %); on 16 random inputs at most 1.7 %. Small zoo
    # configurations with random weights and inputs: at most 4.4 %. So rules 1 and 2 stay
    # those of float32, and "agrees to rounding" means within 5 %, on at least half of the
    # inputs. Deep models with *random* weights are chaotic in bf16 (BinaryDenseNet28: 14-49 %,
    # top-1 19-31 %): check trained weights. The conversion itself is checked in float32
    # (``export_openvino`` does both).
    "bf16": Tolerance(
        atol=DEFAULT_ATOL,
        rtol=DEFAULT_RTOL,
        min_top1_agreement=DEFAULT_MIN_TOP1,
        min_rounding_exact=0.5,
        rounding_rtol=0.05,
    ),
    # An int8 stem (OpenVINO's ``int8_stem``: the first convolution with 8-bit inputs and
    # weights) is a lossy conversion: its rounding reaches every input, so no input need agree
    # to float rounding (rule 3 off), and a binary network turns it into sign flips. Measured
    # (benchmarks/openvino_int8_stem.md) on a BinaryDenseNet and a BinaryResNetE trained 3
    # epochs on Fashion-MNIST, on the 10000 test images, float layers in f32 or bf16: per
    # input max |diff| / max |logit| median 2.9-7.8 %, 99th percentile 10.8-22.5 %, max
    # 19.1-37.1 %; top-1 agreement 96.9-97.1 %; test accuracy 0.57-0.78 points above Keras'.
    # So rule 1 bounds the difference at 75 % of the largest logit and rule 2 asks 90 % top-1
    # agreement, judged on real images (the calibration images): random inputs can fall
    # outside the calibrated range.
    "int8-stem": Tolerance(
        atol=DEFAULT_ATOL,
        rtol=0.75,
        min_top1_agreement=0.9,
        min_rounding_exact=0.0,
        rounding_rtol=0.05,
    ),
    # A float32 conversion checked with tie-free weights (``bnnzoo.converters.exact``): no
    # value before a sign is near 0, so a correct conversion agrees with Keras to float
    # rounding on every input, and the top-1 class everywhere.
    "exact": Tolerance(
        atol=1e-6,
        rtol=ROUNDING_RTOL,
        min_top1_agreement=1.0,
        min_rounding_exact=1.0,
        rounding_rtol=ROUNDING_RTOL,
    ),
}


def tolerance(precision: str) -> Tolerance:
    """The criteria for an engine computing its float layers in ``precision`` (``"f32"`` or
    ``"bf16"``), with an int8 stem (``"int8-stem"``), or of a float32 conversion checked with
    tie-free weights (``"exact"``, ``bnnzoo.converters.exact``).

    Example:
        >>> compare_outputs(keras_out, openvino_bf16_out, **tolerance("bf16").kwargs()).passed
        True
    """
    one_of("precision", precision, tuple(TOLERANCES), hint="resolve 'auto' first")
    return TOLERANCES[precision]


class VerificationError(RuntimeError):
    """A converted model disagrees with its Keras original beyond the tolerance.

    Attributes:
        report: the ``VerifyReport`` (None when the engine returned the wrong shape).
        export_report: the export's report when raised by ``export_tflite`` (an
            ``ExportReport``) or ``export_openvino`` (an ``OpenVINOExportReport``).
    """

    def __init__(self, message: str, *, report=None, export_report=None):
        super().__init__(message)
        self.report = report
        self.export_report = export_report


@dataclass(frozen=True)
class VerifyReport:
    """How closely an engine reproduced the Keras model.

    Attributes:
        max_abs_diff: largest ``|engine - keras|`` over all outputs of all samples.
        top1_agreement: share of samples whose argmax agrees (outputs of shape ``(n,
            classes)``), or None for other outputs.
        n: number of samples.
        passed: the three rules of the module docstring hold.
        atol, rtol, min_top1_agreement, min_rounding_exact: the criteria applied.
        max_abs_reference: largest ``|keras|`` output, the scale of ``rtol``.
        worst_sample: index of the sample furthest beyond (or closest to) its tolerance.
        worst_diff, worst_tolerance: that sample's ``max |engine - keras|`` and tolerance.
        rounding_exact: samples that agree to float rounding (``max |diff| <= 1e-6 +
            rounding_rtol * max |keras|``); the others differ by sign flips (see the module
            docstring).
        engine: name of the engine, for messages.
        rounding_rtol: the relative bound of "agree to float rounding".
        outside: samples beyond ``atol + rtol * max |keras|`` (rule 1), NaN ones included.
        max_outside: the share of samples that may be (``allowed_outside``, rounded down; a
            NaN output never passes).
    """

    max_abs_diff: float
    top1_agreement: float | None
    n: int
    passed: bool
    atol: float
    rtol: float
    min_top1_agreement: float
    max_abs_reference: float
    worst_sample: int
    worst_diff: float
    worst_tolerance: float
    rounding_exact: int
    min_rounding_exact: float = DEFAULT_MIN_ROUNDING_EXACT
    engine: str = "engine"
    rounding_rtol: float = ROUNDING_RTOL
    outside: int = 0
    max_outside: float = 0.0

    @property
    def allowed_outside(self) -> int:
        """Samples that may lie outside rule 1: ``max_outside`` of ``n``, rounded down."""
        return math.floor(self.max_outside * self.n + 1e-9)

    @property
    def exact(self) -> bool:
        """Judged by ``tolerance("exact")``: every input must agree to float rounding."""
        return self.min_rounding_exact >= 1 and self.rtol <= ROUNDING_RTOL

    @property
    def required_rounding_exact(self) -> int:
        """Samples that must agree to float rounding: ``min_rounding_exact`` of ``n``, at
        least one unless ``min_rounding_exact`` is 0."""
        if self.min_rounding_exact == 0:
            return 0
        return max(1, math.ceil(self.min_rounding_exact * self.n - 1e-9))

    def __str__(self) -> str:
        top1 = "n/a" if self.top1_agreement is None else f"{100 * self.top1_agreement:.1f}%"
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"verify ({self.engine} vs Keras, {self.n} inputs): max |diff| "
            f"{self.max_abs_diff:.3g} (max |output| {self.max_abs_reference:.3g}), top-1 "
            f"agreement {top1}, {self.rounding_exact}/{self.n} equal to float rounding: {verdict}"
        )

    def failure_message(self) -> str:
        """What disagreed, by how much, and against which tolerance (empty when passed)."""
        if self.passed:
            return ""
        problems = []
        if self.outside > self.allowed_outside or math.isnan(self.max_abs_diff):
            allowed = f" ({self.allowed_outside} allowed)" if self.allowed_outside else ""
            problems.append(
                f"{self.outside}/{self.n} samples beyond tolerance{allowed}: sample "
                f"{self.worst_sample} differs by max |diff| {self.worst_diff:.3g} > "
                f"tolerance {self.worst_tolerance:.3g} (atol {self.atol:g} + rtol {self.rtol:g} "
                f"x max |output| of that sample); max |diff| over all {self.n} samples "
                f"{self.max_abs_diff:.3g}"
            )
        if self.top1_agreement is not None and self.top1_agreement < self.min_top1_agreement:
            problems.append(
                f"top-1 class agrees on {round(self.top1_agreement * self.n)}/{self.n} samples "
                f"({100 * self.top1_agreement:.1f}%), required "
                f"{100 * self.min_top1_agreement:.1f}%"
            )
        if self.rounding_exact < self.required_rounding_exact:
            problems.append(
                f"{self.rounding_exact}/{self.n} samples agree to float rounding, required "
                f"{self.required_rounding_exact} (within rtol {self.rounding_rtol:g}; a conversion "
                f"error changes every input; sign flips of values within rounding of 0 change "
                f"only some)"
            )
        if self.exact:
            return (
                f"{self.engine} disagrees with the Keras model under tie-free weights: "
                f"{'; '.join(problems)}. No value before a sign is near 0 under these weights, "
                f"so a correct conversion agrees to float rounding on every input: this is a "
                f"conversion error (check the op histogram, the binary-MAC share, padding)."
            )
        return (
            f"{self.engine} disagrees with the Keras model: {'; '.join(problems)}. Check the "
            f"conversion (op histogram, binary-MAC share). An untrained model (BatchNorm at "
            f"its initial statistics) feeds exact zeros to sign(), where float rounding picks "
            f"the sign: check the conversion with tie-free weights (exact.check_conversion). "
            f"Loosen the criteria only for a lossy conversion (int8)."
        )


def compare_outputs(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    min_top1_agreement: float = DEFAULT_MIN_TOP1,
    min_rounding_exact: float = DEFAULT_MIN_ROUNDING_EXACT,
    engine: str = "engine",
    rounding_rtol: float = ROUNDING_RTOL,
    max_outside: float = 0.0,
) -> VerifyReport:
    """Compare an engine's outputs with the Keras model's on the same batch.

    The one comparison that every converter's check uses.

    Args:
        reference: Keras outputs, shape ``(n, ...)``.
        candidate: the engine's outputs, same shape.
        atol, rtol: a sample passes when ``max |candidate - reference| <= atol + rtol *
            max |reference|`` over the sample; NaN never passes.
        min_top1_agreement: required share of samples with the same argmax (2-D outputs).
        min_rounding_exact: required share of samples that agree to float rounding (at least
            one sample unless 0).
        engine: name used in messages.
        rounding_rtol: a sample agrees to float rounding when ``max |diff| <= 1e-6 +
            rounding_rtol * max |reference|`` (``tolerance(precision)`` gives it per precision).
        max_outside: share of samples that may fail the ``atol``/``rtol`` bound (rounded down:
            with ``0.001``, one in 1,000 samples, none of fewer); a NaN output always fails.

    Returns:
        A ``VerifyReport``; it does not raise on disagreement.

    Raises:
        ValueError: bad tolerances, or the two outputs differ in shape.

    Example:
        >>> compare_outputs(np.array([[0.1, 0.9]]), np.array([[0.1, 0.9 + 1e-6]])).passed
        True
    """
    atol = _non_negative("atol", atol)
    rtol = _non_negative("rtol", rtol)
    rounding_rtol = _non_negative("rounding_rtol", rounding_rtol)
    _share("min_top1_agreement", min_top1_agreement)
    _share("min_rounding_exact", min_rounding_exact)
    _share("max_outside", max_outside)
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(
            f"{engine} returned outputs of shape {candidate.shape}; the Keras model returned "
            f"{reference.shape}. The converted model does not compute the same function."
        )
    if reference.ndim == 0 or reference.shape[0] == 0:
        raise ValueError(
            f"Expected outputs with a non-empty batch axis. Received {reference.shape}."
        )
    n = reference.shape[0]
    per_sample = (candidate - reference).reshape(n, -1)
    diff = np.abs(per_sample)
    # NaN anywhere in a sample makes its difference NaN, which fails `<=` below.
    finite_max = np.where(np.isnan(diff), 0.0, diff).max(axis=1)
    sample_diff = np.where(np.isnan(diff).any(axis=1), np.nan, finite_max)
    scale = np.abs(reference.reshape(n, -1)).max(axis=1)
    tolerance = atol + rtol * scale
    ok = sample_diff <= tolerance
    excess = np.where(np.isnan(sample_diff), np.inf, sample_diff - tolerance)
    worst = int(np.argmax(excess))
    top1 = None
    if reference.ndim == 2 and reference.shape[1] > 1:
        top1 = float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1)))
    max_diff = float(np.nan if np.isnan(sample_diff).any() else sample_diff.max())
    report = VerifyReport(
        max_abs_diff=max_diff,
        top1_agreement=top1,
        n=n,
        passed=False,
        atol=atol,
        rtol=rtol,
        min_top1_agreement=float(min_top1_agreement),
        max_abs_reference=float(scale.max()),
        worst_sample=worst,
        worst_diff=float(sample_diff[worst]),
        worst_tolerance=float(tolerance[worst]),
        rounding_exact=int(np.sum(sample_diff <= 1e-6 + rounding_rtol * scale)),
        min_rounding_exact=float(min_rounding_exact),
        engine=engine,
        rounding_rtol=rounding_rtol,
        outside=int(np.sum(~ok)),
        max_outside=float(max_outside),
    )
    passed = (
        report.outside <= report.allowed_outside
        and not np.isnan(sample_diff).any()
        and (top1 is None or top1 >= min_top1_agreement)
        and report.rounding_exact >= report.required_rounding_exact
    )
    return dataclasses.replace(report, passed=passed)


def judged_checks(
    check: VerifyReport, check_f32: VerifyReport | None, *, untrained: bool
) -> tuple[VerifyReport, ...]:
    """The checks that decide whether a conversion agrees with Keras.

    ``check`` ran in the engine's precision; ``check_f32``, when that precision is lower than
    float32, is the same conversion compiled in float32. Both count for a trained model. For an
    untrained one (random weights or ``looks_untrained``) only the float32 check counts: deep
    binary models amplify bf16's rounding into sign flips when their weights are random
    (``TOLERANCES``), so the low-precision figure is reported, not judged.

    Example:
        >>> [c.engine for c in judged_checks(bf16_report, f32_report, untrained=True)]
        ['OpenVINO compiled in f32']
    """
    if check_f32 is None:
        return (check,)
    return (check_f32,) if untrained else (check, check_f32)


def _share(name: str, value) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (ok and 0 <= value <= 1):
        raise ValueError(
            f"Expected {name} to be a share between 0 and 1, e.g. 0.75. Received: {name}={value!r}."
        )


def _non_negative(name: str, value) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"Expected {name} to be a non-negative number, e.g. {DEFAULT_ATOL}. Received: "
            f"{name}={value!r}."
        )
    return float(value)


def verify_engine(
    model: tf.keras.Model,
    engine: Engine,
    *,
    inputs: np.ndarray | None = None,
    n: int = 8,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    min_top1_agreement: float = DEFAULT_MIN_TOP1,
    min_rounding_exact: float = DEFAULT_MIN_ROUNDING_EXACT,
    rounding_rtol: float = ROUNDING_RTOL,
    max_outside: float = 0.0,
    seed: int = 0,
    raise_on_failure: bool = True,
    engine_name: str = "engine",
) -> VerifyReport:
    """Run ``engine`` and the Keras model on the same inputs and compare them.

    Args:
        model: the Keras model (one input, one output, fixed input shape).
        engine: function from a batch ``(n, *input_shape)`` to the outputs ``(n, ...)``.
        inputs: the batch to use; None draws ``n`` standard-normal inputs from ``seed``.
        n, seed: size and seed of the random batch (ignored when ``inputs`` is given).
        atol, rtol, min_top1_agreement, min_rounding_exact, rounding_rtol, max_outside: the
            criteria of ``compare_outputs`` (``tolerance(precision).kwargs()`` per precision).
        raise_on_failure: raise ``VerificationError`` when the check fails.
        engine_name: name of the engine in messages.

    Returns:
        A ``VerifyReport``.

    Raises:
        VerificationError: the engine disagrees (with ``raise_on_failure``) or returns
            outputs of another shape.

    Example:
        >>> verify_engine(model, lambda x: compiled_model(x), engine_name="OpenVINO CPU")
    """
    check_single_io(model)
    if not callable(engine):
        raise ValueError(
            f"Expected engine to be a function from a batch to its outputs. Received: "
            f"{type(engine).__name__}."
        )
    batch = random_inputs(model, n, seed) if inputs is None else check_inputs(model, inputs)
    reference = keras_outputs(model, batch)
    candidate = np.asarray(engine(batch))
    if candidate.shape != reference.shape:
        raise VerificationError(
            f"{engine_name} returned outputs of shape {candidate.shape} for {len(batch)} inputs; "
            f"the Keras model returned {reference.shape}. The converted model does not compute "
            f"the same function (or the engine dropped the batch axis)."
        )
    report = compare_outputs(
        reference,
        candidate,
        atol=atol,
        rtol=rtol,
        min_top1_agreement=min_top1_agreement,
        min_rounding_exact=min_rounding_exact,
        engine=engine_name,
        rounding_rtol=rounding_rtol,
        max_outside=max_outside,
    )
    if raise_on_failure and not report.passed:
        raise VerificationError(report.failure_message(), report=report)
    return report
