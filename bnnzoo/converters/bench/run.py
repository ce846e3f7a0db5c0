"""``bench()``: build every engine from one model, check each against Keras, time them in
blocks taking turns and then each alone, measure the machine's limit, and put it all in a
``BenchReport``.

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

import numpy as np
import tensorflow as tf

from bnnzoo._checks import positive_int
from bnnzoo._host import describe
from bnnzoo.analysis import ModelCount, count_model
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
from bnnzoo.converters.verify import (
    VerifyReport,
    compare_outputs,
    judged_checks,
    looks_untrained,
    random_inputs,
    randomize_weights,
    tolerance,
)
from bnnzoo.zoo.loading import load_or_build

CHECK_INPUTS = 4  # random inputs of the agreement check


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
    log: Callable[[str], None] | None = None,
) -> BenchReport:
    """Time inference of one model on Keras, float TFLite, LCE and OpenVINO.

    The engines take turns in blocks: each block is ``warmup`` untimed runs, then ``block``
    timed runs of one engine, until each has ``runs`` timed runs; then each engine runs
    ``runs`` times alone (after ``warmup``). Same input, same threads for all. The report gives
    both medians, images/s, the share of the machine's measured limit (``bench.limit``) and the
    engine to use.

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
            multiple of ``batch``).
        profile: with an OpenVINO engine, also report the first one's ``profile`` slowest
            runtime nodes and the time and share of the limit per node type
            (``openvino.profile`` over ``runs`` runs, after the timing).
        log: called with a line of progress at each step (e.g. ``print`` to stderr).

    Returns:
        A ``BenchReport``.

    Raises:
        ValueError: bad arguments, an unknown zoo name, a model with several inputs or
            outputs, or the only engine asked for cannot run the model.
        FileNotFoundError: no saved model at the path.

    Example:
        >>> report = bench("binary_resnet_e18", input_shape=(224, 224, 3), runs=30)
        >>> report.engines["openvino"].alone_median_ms, report.recommended_engine
    """
    from bnnzoo.converters.openvino.runtime import resolve_precision

    threads = positive_int("threads", threads)
    runs = positive_int("runs", runs)
    warmup = positive_int("warmup", warmup, minimum=0)
    block = positive_int("block", block)
    batch = positive_int("batch", batch)
    check_inputs = positive_int("check_inputs", check_inputs)
    profile = positive_int("profile", profile, minimum=0)
    resolve_precision(precision)  # a bad value is refused here, before any work
    names = check_engines(engines)
    say = log or (lambda line: None)

    notes = []
    thread_note = configure_tf_threads(threads) if "keras" in names else None
    if thread_note:
        notes.append(thread_note)
    given = model
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
    randomized = looks_untrained(model)
    if randomized:
        if isinstance(given, tf.keras.Model):  # leave the caller's model as it is
            model = tf.keras.models.clone_model(model)
        randomize_weights(model, seed=seed)
        notes.append(
            f"weights: the model looks untrained (every BatchNorm at mean 0, variance 1), which "
            f"feeds exact zeros to sign() and makes the agreement check meaningless, so it got "
            f"random weights with BatchNorm statistics measured on data "
            f"(verify.randomize_weights, seed {seed}). Speed does not depend on the weights."
        )

    ready, unavailable, agreement, checked = _prepare(
        model, names, threads, batch, precision, math.ceil(check_inputs / batch) * batch, seed,
        say, randomized=randomized,
    )  # fmt: skip
    notes.extend(checked)
    x = np.random.default_rng(seed + 1).normal(size=(batch, *shape)).astype(np.float32)
    calls = {name: (lambda engine=engine: engine.run(x)) for name, engine in ready.items()}
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

    used = {engine.precision for engine in ready.values()}
    precisions = sorted({"f32", *(used & set(FLOAT_PRECISIONS))})
    say(f"bench: measuring this machine's peak MAC rates ({', '.join(precisions)}) ...")
    try:
        limit = measure_limit(threads, precisions)
    except Exception as err:  # e.g. a CPU plugin without BinaryConvolution: report, go on
        limit = None
        notes.append(f"limit: not measured ({type(err).__name__}: {' '.join(str(err).split())})")

    slowest: tuple[tuple[str, str, str, float], ...] = ()
    by_type: dict[str, float] = {}
    profiled = next(
        (name for name in ALL_ENGINES if name.startswith("openvino") and name in ready), ""
    )
    if profile and profiled:
        from bnnzoo.converters import openvino as ovx

        say(f"bench: profiling {ENGINE_TITLES[profiled]} per node ...")
        compiled = ovx.compile(
            ovx.to_openvino(model, batch_size=batch),
            threads=threads,
            profiling=True,
            precision=ready[profiled].precision,
        )
        layer_times = ovx.profile(compiled, x, runs=runs)
        by_type = ovx.summarize_profile(layer_times)
        slowest = tuple((t.name, t.node_type, t.exec_type, t.ms) for t in layer_times[:profile])

    counts = count_model(model)
    return BenchReport(
        model=model.name,
        input_shape=shape,
        threads=threads,
        runs=runs,
        warmup=warmup,
        block=block,
        batch=batch,
        engines={
            name: EngineTimes.from_samples(
                turns[name], alone[name], ready[name].detail, ready[name].precision
            )
            for name in turns
        },
        unavailable=unavailable,
        agreement=agreement,
        binary_macs=counts.binary_macs,
        float_macs=counts.float_macs,
        limit=limit,
        randomized=randomized,
        other_load=load,
        notes=tuple(notes),
        machine=describe(),
        profile=slowest,
        profile_by_type=by_type,
        profile_engine=profiled if slowest else "",
        macs_by_node_type=macs_by_node_type(counts),
    )


def _prepare(model, names, threads, batch, precision, n, seed, say, *, randomized=False):
    """Build each engine and check it against Keras on ``n`` random inputs (a multiple of
    ``batch``); returns (ready engines, unavailable engines and why, agreement reports, notes).

    An engine computing in bf16 is checked by ``verify``'s bf16 criteria, and its conversion
    exactly, compiled in f32; ``verify.judged_checks`` says which of the two count (with random
    weights only the f32 one), and the first failing one (else the first) is reported.
    """
    checks = random_inputs(model, n, seed)
    reference = model.predict(checks, batch_size=len(checks), verbose=0)
    ready: dict[str, PreparedEngine] = {}
    unavailable: dict[str, str] = {}
    agreement: dict[str, VerifyReport] = {}
    notes: list[str] = []

    def outputs_of(run):
        return np.concatenate([run(checks[i : i + batch]) for i in range(0, len(checks), batch)])

    for name in names:
        say(f"bench: preparing {ENGINE_TITLES[name]} ...")
        title = ENGINE_TITLES[name]
        try:
            engine = build_engine(name, model, threads, batch=batch, precision=precision)
            criteria = tolerance(engine.precision).kwargs()
            report = compare_outputs(reference, outputs_of(engine.run), engine=title, **criteria)
            if engine.exact is not None:
                exact = compare_outputs(reference, outputs_of(engine.exact),
                                        engine=f"{title} compiled in f32")  # fmt: skip
                judged = judged_checks(report, exact, untrained=randomized)
                if randomized or not exact.passed:
                    notes.append(
                        f"{title}: in {engine.precision} max |diff| / max |Keras| "
                        f"{_relative(report):.1e} ({'within' if report.passed else 'beyond'} "
                        f"verify's {engine.precision} criteria); "
                        + ("not judged with random weights, which deep binary models amplify in "
                           "bf16; " if randomized else "")
                        + f"the conversion, compiled in f32: {_relative(exact):.1e} "
                        f"({'agrees' if exact.passed else 'DISAGREES'})."
                    )  # fmt: skip
                report = next((c for c in judged if not c.passed), judged[0])
            agreement[name] = report
        except Exception as err:  # any failure of a converter or runtime: report, go on
            reason = f"{type(err).__name__}: {' '.join(str(err).split())}"
            if len(names) == 1:
                raise ValueError(
                    f"The engine {name!r} cannot run {model.name!r}: {reason} Choose another "
                    f"engine from {ALL_ENGINES}."
                ) from err
            unavailable[name] = reason
            continue
        ready[name] = engine
    return ready, unavailable, agreement, notes


def _relative(report: VerifyReport) -> float:
    return report.max_abs_diff / report.max_abs_reference if report.max_abs_reference else 0.0


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
