"""``bench()``: build every engine from one model, check each against Keras (on real images
where the caller has them), measure a bf16 engine that fails its check again in f32, time them
in blocks taking turns and then each alone, measure the machine's limit, and put it all in a
``BenchReport``.

Each step is a function of its own, in the order ``bench`` calls them: ``_check_options``,
``_load``, ``_check_inputs``, ``_weights_for_the_check``, ``_prepare``,
``_measure_again_in_f32``, ``_time_engines``, ``_measure_limit``, ``_profile``, ``_report``.

Example:
    >>> from bnnzoo.converters.bench import bench
    >>> report = bench("binary_resnet_e18", input_shape=(224, 224, 3), engines=("lce", "openvino"))
    >>> report.engines["openvino"].alone_median_ms, report.percent_of_limit["openvino"]
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from bnnzoo._checks import finite_float32, positive_int
from bnnzoo._host import describe
from bnnzoo.analysis import ModelCount, count_model
from bnnzoo.converters.bench.choice import relative_difference
from bnnzoo.converters.bench.engines import (
    ALL_ENGINES,
    ENGINE_TITLES,
    ENGINES,
    PreparedEngine,
    build_engine,
    check_engines,
    configure_tf_threads,
)
from bnnzoo.converters.bench.limit import FLOAT_PRECISIONS, measure_limit
from bnnzoo.converters.bench.report import BenchReport, EngineTimes
from bnnzoo.converters.bench.timing import cpu_seconds, other_load, time_interleaved
from bnnzoo.converters.exact import tie_free_weights
from bnnzoo.converters.reference import keras_outputs, looks_untrained, random_inputs
from bnnzoo.converters.verify import VerifyReport, compare_outputs, judged_checks, tolerance
from bnnzoo.zoo.loading import load_or_build

CHECK_INPUTS = 4  # random inputs of the agreement check
# real images on which an untrained model's random weights get their BatchNorm statistics
# the engine that measures OpenVINO again when its bf16 check fails
F32_ENGINE = "openvino-f32"


def bench(
    model: tf.keras.Model | str | os.PathLike,
    *,
    input_shape: tuple[int, int, int] | None = None,
    threads: int = 2,
    runs: int = 20,
    warmup: int = 3,
    block: int = 20,
    batch: int = 1,
    precision: str = "auto",
    engines: Sequence[str] = ENGINES,
    seed: int = 0,
    check_inputs: int = CHECK_INPUTS,
    profile: int = 0,
    images: np.ndarray | None = None,
    log: Callable[[str], None] | None = None,
) -> BenchReport:
    """Time inference of one model on Keras, float TFLite, LCE and OpenVINO.

    The engines take turns in blocks: each block is ``warmup`` untimed runs, then ``block``
    timed runs of one engine, until each has ``runs`` timed runs; then each engine runs
    ``runs`` times alone (after ``warmup``). Same input, same threads for all. The report gives
    both medians, images/s, the share of the machine's measured limit (``bench.limit``), the
    engine to use and why each engine was or was not chosen (``report.reasons``).

    An engine computing in bf16 whose check fails while its conversion, compiled in f32,
    agrees is kept (reported as disagreeing) and OpenVINO is measured again in f32
    (``openvino-f32``, unless it was asked for anyway): bf16's rounding, not the conversion,
    failed, and f32 may still be the fastest engine that agrees.

    Args:
        model: a Keras model, a saved model path (``.keras``/``.h5``) or a zoo name
            (``bnnzoo.zoo.loading.load_or_build``).
        input_shape: (H, W, C) for a zoo name; None for the model's default.
        threads: threads of every engine.
        runs: timed runs per engine, taking turns, and again alone.
        warmup: untimed runs per engine before each block and before its runs alone.
        block: consecutive timed runs of one engine before the next takes its turn.
        batch: inputs per run (throughput: images/s); OpenVINO gets a model with that static
            batch, TFLite a resized input, LCE runs the batch image by image.
        precision: float precision of the ``openvino`` engine: ``"f32"``, ``"bf16"`` or
            ``"auto"`` (bf16 where the CPU has AVX512_BF16 or AMX). The engines
            ``openvino-f32`` and ``openvino-bf16`` time both side by side.
        engines: which of ``ALL_ENGINES`` to run. An engine that cannot convert or run the
            model is reported in ``unavailable``; when it is the only one asked for, that is an
            error.
        seed: seed of the inputs and, for an untrained model, of its random weights.
        check_inputs: random inputs of the agreement check against Keras (rounded up to a
            multiple of ``batch``); unused with ``images``.
        profile: with an OpenVINO engine, also report the first one's ``profile`` slowest
            runtime nodes and the time and share of the limit per node type
            (``openvino.profile`` over ``runs`` runs, after the timing).
        images: real inputs, an array ``(n, *input shape)`` preprocessed like the model's
            inputs, on which the agreement check runs instead of random inputs (every engine
            runs every one of them: a few hundred are plenty); the first multiple of
            ``batch`` are used. A bf16 engine is then judged by ``verify.tolerance("bf16")``
            on them, which random inputs judge poorly.
        log: called with a line of progress at each step (e.g. ``print`` to stderr).

    Returns:
        A ``BenchReport``.

    Raises:
        ValueError: bad arguments, images of another shape than the model's input, an
            unknown zoo name, a model with several inputs or outputs, or the only engine asked
            for cannot run the model.
        FileNotFoundError: no saved model at the path.

    Example:
        >>> report = bench("binary_resnet_e18", input_shape=(224, 224, 3), runs=30)
        >>> report.engines["openvino"].alone_median_ms, report.recommended_engine
    """
    options = _check_options(threads, runs, warmup, block, batch, precision, seed, check_inputs,
                             profile)  # fmt: skip
    names = check_engines(engines)
    images = _real_numbers(images)  # before any model is loaded; the shape once it is
    say = log or (lambda line: None)
    notes = _thread_notes(options.threads, names)
    loaded = _load(model, input_shape)
    inputs = _check_inputs(loaded, images, options)
    loaded, randomized = _weights_for_the_check(loaded, model, inputs, options.seed, notes)
    check = _Check.measure(loaded, inputs, options.batch, real=images is not None,
                           untrained=randomized)  # fmt: skip
    prepared = _prepare(loaded, names, options, check, say)
    _measure_again_in_f32(loaded, prepared, options, check, say)
    notes.extend(prepared.notes)
    x = np.random.default_rng(options.seed + 1).normal(size=(options.batch, *check.shape))
    x = x.astype(np.float32)
    timed = _time_engines(prepared.ready, x, options, say)
    limit = _measure_limit(options.threads, prepared.ready, notes, say)
    profiled = _profile(loaded, prepared.ready, x, options, say)
    return _report(loaded, options, prepared, check, timed, limit, profiled, notes, randomized)


@dataclass(frozen=True)
class _Options:
    threads: int
    runs: int
    warmup: int
    block: int
    batch: int
    precision: str
    seed: int
    check_inputs: int
    profile: int


def _check_options(threads, runs, warmup, block, batch, precision, seed, check_inputs, profile):
    """Every count and the precision checked, before any work."""
    from bnnzoo.converters.openvino.runtime import resolve_precision

    options = _Options(
        threads=positive_int("threads", threads),
        runs=positive_int("runs", runs),
        warmup=positive_int("warmup", warmup, minimum=0),
        block=positive_int("block", block),
        batch=positive_int("batch", batch),
        precision=precision,
        seed=seed,
        check_inputs=positive_int("check_inputs", check_inputs),
        profile=positive_int("profile", profile, minimum=0),
    )
    resolve_precision(precision)  # a bad value is refused here
    return options


def _real_numbers(images) -> np.ndarray | None:
    """``images`` as a finite float32 array with a non-empty batch axis (None stays None);
    its shape is checked against the model by ``_check_inputs``."""
    if images is None:
        return None
    received = type(images).__name__
    try:
        array = np.asarray(images)
    except ValueError:  # ragged nested lists
        array = np.asarray(None)
    if array.dtype.kind not in "iuf" or array.ndim < 2 or not len(array):
        what = f"{received} of dtype {array.dtype}" if array.dtype != object else received
        raise ValueError(
            f"Expected images as a non-empty numpy array of real numbers, shape (n, H, W, C) "
            f"preprocessed like the model's inputs. Received: {what}, shape {array.shape}. "
            f"Pass e.g. np.asarray(images, np.float32)."
        )
    fix = "Pass real images, preprocessed like the model's inputs."
    return finite_float32("The images", array, fix)


def _thread_notes(threads: int, names: Sequence[str]) -> list[str]:
    note = configure_tf_threads(threads) if "keras" in names else None
    return [note] if note else []


def _load(model, input_shape) -> tf.keras.Model:
    """The Keras model, with one input of a fixed shape and one output."""
    # a zoo name is built with a logits head: the check compares logits (a softmax would turn
    # a sign flip's small logit change into a large probability change); speed is the same
    model = load_or_build(model, input_shape=input_shape, logits=True)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"bench times models with one input and one output; {model.name!r} has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    shape = tuple(int(d) if d is not None else None for d in model.inputs[0].shape[1:])
    if None in shape:
        raise ValueError(
            f"bench needs a fixed input shape; {model.name!r} has input shape (None, "
            f"{', '.join(map(str, shape))}). Build it with a fixed input_shape, e.g. (224, 224, 3)."
        )
    return model


def _check_inputs(model: tf.keras.Model, images: np.ndarray | None, options: _Options):
    """The inputs of the agreement check: the first multiple of ``batch`` of the real images,
    or ``check_inputs`` random ones rounded up to a multiple of ``batch``."""
    batch = options.batch
    if images is None:
        return random_inputs(model, math.ceil(options.check_inputs / batch) * batch, options.seed)
    expected = tuple(int(d) for d in model.inputs[0].shape[1:])
    if images.shape[1:] != expected or len(images) < batch:
        raise ValueError(
            f"Expected images of shape (n, {', '.join(map(str, expected))}), the input shape of "
            f"{model.name!r}, with n >= batch={batch}. Received shape {images.shape}. Pass "
            f"images preprocessed like the model's inputs (or the model they were made for)."
        )
    return images[: len(images) // batch * batch]


def _weights_for_the_check(model, given, inputs, seed: int, notes: list[str]):
    """An untrained model (``verify.looks_untrained``) copied (a caller's model is left as it
    is) and given tie-free weights on the check's inputs (``exact.tie_free_weights``: no value
    before a sign near 0, so every float32 engine that converts it right agrees to float
    rounding on every one of them). Returns (model, randomized)."""
    if not looks_untrained(model):
        return model, False
    if isinstance(given, tf.keras.Model):
        model = tf.keras.models.clone_model(model)
    margins = tie_free_weights(model, inputs, seed=seed)
    notes.append(
        f"weights: the model looks untrained (every BatchNorm at mean 0, variance 1), which "
        f"feeds exact zeros to sign() and makes the agreement check meaningless, so it got "
        f"tie-free weights on the {len(inputs)} check inputs (exact.tie_free_weights, seed "
        f"{seed}; {margins}). Speed does not depend on the weights."
    )
    return model, True


@dataclass
class _Check:
    """The agreement check's inputs and Keras' outputs on them."""

    inputs: np.ndarray
    reference: np.ndarray
    batch: int
    checked_on: str  # "random inputs" or "real images", for the report
    untrained: bool

    @classmethod
    def measure(cls, model, inputs, batch, *, real: bool, untrained: bool) -> _Check:
        """Keras' outputs on ``inputs`` (``verify.keras_outputs``)."""
        reference = keras_outputs(model, inputs)
        return cls(inputs, reference, batch, "real images" if real else "random inputs", untrained)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.inputs.shape[1:])

    def outputs_of(self, run: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        step = self.batch
        return np.concatenate([run(self.inputs[i : i + step]) for i in range(0, len(self), step)])

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass
class _Prepared:
    """The engines built and checked: those ready to time, those that could not run and why,
    each one's judged check, a bf16 engine's check compiled in f32, notes, and the engine
    measured in f32 because a bf16 check failed (→ that engine)."""

    ready: dict[str, PreparedEngine] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    agreement: dict[str, VerifyReport] = field(default_factory=dict)
    exact: dict[str, VerifyReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    remeasured: dict[str, str] = field(default_factory=dict)


def _prepare(model, names, options: _Options, check: _Check, say) -> _Prepared:
    """Build each engine and check it against Keras; an engine that cannot convert or run is
    reported, not raised, unless it is the only one asked for."""
    prepared = _Prepared()
    for name in names:
        _add_engine(name, model, options, check, prepared, say, only=len(names) == 1)
    return prepared


def _add_engine(name, model, options: _Options, check: _Check, prepared: _Prepared, say, *,
                only: bool = False) -> None:  # fmt: skip
    """Build the engine ``name``, check it, and file it in ``prepared`` (ready or not)."""
    title = ENGINE_TITLES[name]
    say(f"bench: preparing {title} ...")
    try:
        engine = build_engine(name, model, options.threads, batch=options.batch,
                              precision=options.precision)  # fmt: skip
        report, exact, note = _judge(engine, title, check)
    except Exception as err:  # any failure of a converter or runtime: report, go on
        reason = f"{type(err).__name__}: {' '.join(str(err).split())}"
        if only:
            raise ValueError(
                f"The engine {name!r} cannot run {model.name!r}: {reason} Choose another "
                f"engine from {ALL_ENGINES}."
            ) from err
        prepared.unavailable[name] = reason
        return
    prepared.agreement[name] = report
    if exact is not None:
        prepared.exact[name] = exact
    if note:
        prepared.notes.append(note)
    prepared.ready[name] = engine


def _judge(engine: PreparedEngine, title: str, check: _Check):
    """The engine's check against Keras by the criteria of its precision; for an engine
    computing in bf16 also its conversion compiled in f32, checked exactly:
    ``verify.judged_checks`` says which count (with random weights only the f32 one); its
    agreement is the failing one, the conversion's first (a conversion error is the reason to
    give, not bf16's rounding), else the first. Returns (agreement, the f32 check or None, a
    note or None)."""
    criteria = tolerance(engine.precision).kwargs()
    report = compare_outputs(check.reference, check.outputs_of(engine.run), engine=title,
                             **criteria)  # fmt: skip
    if engine.exact is None:
        return report, None, None
    exact = compare_outputs(check.reference, check.outputs_of(engine.exact),
                            engine=f"{title} compiled in f32")  # fmt: skip
    judged = judged_checks(report, exact, untrained=check.untrained)
    note = None
    if check.untrained or not exact.passed:
        note = (
            f"{title}: in {engine.precision} max |diff| / max |Keras| "
            f"{relative_difference(report):.1e} "
            f"({'within' if report.passed else 'beyond'} verify's {engine.precision} criteria); "
            + ("not judged with random weights, which deep binary models amplify in bf16; "
               if check.untrained else "")
            + f"the conversion, compiled in f32: {relative_difference(exact):.1e} "
            f"({'agrees' if exact.passed else 'DISAGREES'})."
        )  # fmt: skip
    failing = [c for c in judged if not c.passed]
    return (exact if exact in failing else next(iter(failing), judged[0])), exact, note


def _measure_again_in_f32(model, prepared: _Prepared, options: _Options, check: _Check, say):
    """Where an engine failed its check in bf16 while its conversion agrees in f32, add
    ``openvino-f32`` (unless it is there already): measured rather than dropped."""
    failed = [
        name
        for name, engine in prepared.ready.items()
        if engine.precision == "bf16"
        and not prepared.agreement[name].passed
        and name in prepared.exact
        and prepared.exact[name].passed
    ]
    if not failed or F32_ENGINE in prepared.ready or F32_ENGINE in prepared.unavailable:
        return
    say(f"bench: {', '.join(failed)} failed the check in bf16; measuring {F32_ENGINE} too ...")
    _add_engine(F32_ENGINE, model, options, check, prepared, say)
    if F32_ENGINE in prepared.ready:
        prepared.remeasured[F32_ENGINE] = ", ".join(failed)
    order = {name: i for i, name in enumerate(ALL_ENGINES)}
    for table in (prepared.ready, prepared.unavailable, prepared.agreement):
        items = sorted(table.items(), key=lambda item: order[item[0]])
        table.clear()
        table.update(items)


@dataclass(frozen=True)
class _Timed:
    turns: dict[str, list[float]]
    alone: dict[str, list[float]]
    other_load: float


def _time_engines(ready: dict[str, PreparedEngine], x, options: _Options, say) -> _Timed:
    """Every engine in blocks taking turns, then each alone, and the load of other processes
    meanwhile."""
    calls = {name: (lambda engine=engine: engine.run(x)) for name, engine in ready.items()}
    runs, warmup, block = options.runs, options.warmup, options.block
    say(
        f"bench: timing {', '.join(calls) or 'nothing'} ({runs} runs each in blocks of {block} "
        f"taking turns, then {runs} alone) ..."
    )
    start, before = time.perf_counter(), cpu_seconds()
    turns = (
        time_interleaved(calls, runs=runs, warmup=warmup, block=block, warmup_every_block=True)
        if calls
        else {}
    )
    alone = {
        name: time_interleaved({name: call}, runs=runs, warmup=warmup)[name]
        for name, call in calls.items()
    }
    load = other_load(before, cpu_seconds(), time.perf_counter() - start)
    return _Timed(turns, alone, load)


def _measure_limit(threads: int, ready: dict[str, PreparedEngine], notes: list[str], say):
    """The machine's peaks in f32 and every precision an engine computes in; None (and a
    note) where they cannot be measured."""
    used = {engine.precision for engine in ready.values()}
    precisions = sorted({"f32", *(used & set(FLOAT_PRECISIONS))})
    say(f"bench: measuring this machine's peak MAC rates ({', '.join(precisions)}) ...")
    try:
        return measure_limit(threads, precisions)
    except Exception as err:  # e.g. a CPU plugin without BinaryConvolution: report, go on
        notes.append(f"limit: not measured ({type(err).__name__}: {' '.join(str(err).split())})")
        return None


@dataclass(frozen=True)
class _Profiled:
    engine: str = ""
    slowest: tuple[tuple[str, str, str, float], ...] = ()
    by_type: dict[str, float] = field(default_factory=dict)


def _profile(model, ready: dict[str, PreparedEngine], x, options: _Options, say) -> _Profiled:
    """The first OpenVINO engine's slowest nodes and time per node type, when asked for."""
    profiled = next(
        (name for name in ALL_ENGINES if name.startswith("openvino") and name in ready), ""
    )
    if not (options.profile and profiled):
        return _Profiled()
    from bnnzoo.converters import openvino as ovx

    say(f"bench: profiling {ENGINE_TITLES[profiled]} per node ...")
    compiled = ovx.compile(
        ovx.to_openvino(model, batch_size=options.batch),
        threads=options.threads,
        profiling=True,
        precision=ready[profiled].precision,
    )
    layer_times = ovx.profile(compiled, x, runs=options.runs)
    slowest = tuple(
        (t.name, t.node_type, t.exec_type, t.ms) for t in layer_times[: options.profile]
    )
    return _Profiled(profiled, slowest, ovx.summarize_profile(layer_times))


def _report(model, options: _Options, prepared: _Prepared, check: _Check, timed: _Timed, limit,
            profiled: _Profiled, notes: list[str], randomized: bool) -> BenchReport:  # fmt: skip
    counts = count_model(model)
    ready = prepared.ready
    return BenchReport(
        model=model.name,
        input_shape=check.shape,
        threads=options.threads,
        runs=options.runs,
        warmup=options.warmup,
        block=options.block,
        batch=options.batch,
        engines={
            name: EngineTimes.from_samples(
                timed.turns[name], timed.alone[name], ready[name].detail, ready[name].precision
            )
            for name in timed.turns
        },
        unavailable=prepared.unavailable,
        agreement=prepared.agreement,
        binary_macs=counts.binary_macs,
        float_macs=counts.float_macs,
        limit=limit,
        randomized=randomized,
        other_load=timed.other_load,
        notes=tuple(notes),
        machine=describe(),
        profile=profiled.slowest,
        profile_by_type=profiled.by_type,
        profile_engine=profiled.engine if profiled.slowest else "",
        macs_by_node_type=macs_by_node_type(counts),
        checked_on=check.checked_on,
        remeasured=prepared.remeasured,
    )


def macs_by_node_type(counts: ModelCount) -> dict[str, int]:
    """MACs of one image per OpenVINO runtime node type: binary layers run as
    ``BinaryConvolution``, dense layers as ``FullyConnected``, other float layers with MACs as
    ``Convolution``."""
    result: dict[str, int] = {}
    for layer in counts.layers:
        if layer.binary_macs:
            result["BinaryConvolution"] = result.get("BinaryConvolution", 0) + layer.binary_macs
        elif layer.float_macs:
            kind = "FullyConnected" if "Dense" in layer.kind else "Convolution"
            result[kind] = result.get(kind, 0) + layer.float_macs
    return result
