"""``bench()``: build every engine from one model, check each against Keras, time them taking
turns, and put it all in a ``BenchReport``.

Example:
    >>> from bnnzoo.converters.bench import bench
    >>> report = bench("binary_resnet_e18", input_shape=(224, 224, 3), engines=("lce", "openvino"))
    >>> report.engines["openvino"].median_ms, report.percent_of_limit["openvino"]
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from bnnzoo._checks import positive_int
from bnnzoo.analysis import count_model
from bnnzoo.converters.bench.engines import (
    ENGINE_TITLES,
    ENGINES,
    PreparedEngine,
    build_engine,
    check_engines,
    configure_tf_threads,
)
from bnnzoo.converters.bench.limit import BINARY_MACS_PER_CYCLE_PER_CORE, Limit, cpu_clock_ghz
from bnnzoo.converters.bench.report import BenchReport, EngineTimes
from bnnzoo.converters.bench.timing import cpu_seconds, other_load, time_interleaved
from bnnzoo.converters.verify import (
    VerifyReport,
    compare_outputs,
    looks_untrained,
    random_inputs,
    randomize_weights,
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
    engines: Sequence[str] = ENGINES,
    seed: int = 0,
    check_inputs: int = CHECK_INPUTS,
    profile: int = 0,
    log: Callable[[str], None] | None = None,
) -> BenchReport:
    """Time batch-1 inference of one model on Keras, float TFLite, LCE and OpenVINO.

    Args:
        model: a Keras model, a saved model path (``.keras``/``.h5``) or a zoo name
            (``bnnzoo.zoo.loading.load_or_build``).
        input_shape: (H, W, C) for a zoo name; None for the model's default.
        threads: threads of every engine.
        runs: timed runs per engine, interleaved with the other engines.
        warmup: untimed runs per engine before timing.
        engines: which of ``ENGINES`` to run. An engine that cannot convert or run the model
            is reported in ``unavailable``; when it is the only one asked for, that is an error.
        seed: seed of the inputs and, for an untrained model, of its random weights.
        check_inputs: random inputs of the agreement check against Keras.
        profile: with ``openvino``, also report its ``profile`` slowest runtime nodes and the
            time per node type (``openvino.profile`` over ``runs`` runs, after the timing).
        log: called with a line of progress at each step (e.g. ``print`` to stderr).

    Returns:
        A ``BenchReport``.

    Raises:
        ValueError: bad arguments, an unknown zoo name, a model with several inputs or
            outputs, or the only engine asked for cannot run the model.
        FileNotFoundError: no saved model at the path.

    Example:
        >>> report = bench("binary_resnet_e18", input_shape=(224, 224, 3), runs=30)
        >>> report.engines["openvino"].median_ms, report.percent_of_limit["openvino"]
    """
    threads = positive_int("threads", threads)
    runs = positive_int("runs", runs)
    warmup = positive_int("warmup", warmup, minimum=0)
    check_inputs = positive_int("check_inputs", check_inputs)
    profile = positive_int("profile", profile, minimum=0)
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

    checks = random_inputs(model, check_inputs, seed)
    reference = model.predict(checks, batch_size=len(checks), verbose=0)
    ready: dict[str, PreparedEngine] = {}
    unavailable: dict[str, str] = {}
    agreement: dict[str, VerifyReport] = {}
    for name in names:
        say(f"bench: preparing {ENGINE_TITLES[name]} ...")
        try:
            engine = build_engine(name, model, threads)
            outputs = np.concatenate([engine.run(checks[i : i + 1]) for i in range(len(checks))])
            agreement[name] = compare_outputs(reference, outputs, engine=ENGINE_TITLES[name])
        except Exception as err:  # any failure of a converter or runtime: report, go on
            reason = f"{type(err).__name__}: {' '.join(str(err).split())}"
            if len(names) == 1:
                raise ValueError(
                    f"The engine {name!r} cannot run {model.name!r}: {reason} Choose another "
                    f"engine from {ENGINES}."
                ) from err
            unavailable[name] = reason
            continue
        ready[name] = engine

    x = np.random.default_rng(seed + 1).normal(size=(1, *shape)).astype(np.float32)
    calls = {name: (lambda engine=engine: engine.run(x)) for name, engine in ready.items()}
    say(f"bench: timing {', '.join(calls) or 'nothing'} ({runs} runs each, taking turns) ...")
    start, before = time.perf_counter(), cpu_seconds()
    times = time_interleaved(calls, runs=runs, warmup=warmup) if calls else {}
    load = other_load(before, cpu_seconds(), time.perf_counter() - start)

    slowest: tuple[tuple[str, str, str, float], ...] = ()
    by_type: dict[str, float] = {}
    if profile and "openvino" in ready:
        from bnnzoo.converters import openvino as ovx

        say("bench: profiling OpenVINO per node ...")
        profiled = ovx.compile(ovx.to_openvino(model), threads=threads, profiling=True)
        layer_times = ovx.profile(profiled, x, runs=runs)
        by_type = ovx.summarize_profile(layer_times)
        slowest = tuple((t.name, t.node_type, t.exec_type, t.ms) for t in layer_times[:profile])

    clock, source = cpu_clock_ghz()
    return BenchReport(
        model=model.name,
        input_shape=shape,
        threads=threads,
        runs=runs,
        warmup=warmup,
        engines={name: EngineTimes.from_samples(times[name], ready[name].detail) for name in times},
        unavailable=unavailable,
        agreement=agreement,
        binary_macs=count_model(model).binary_macs,
        limit=Limit(BINARY_MACS_PER_CYCLE_PER_CORE, threads, clock, source),
        randomized=randomized,
        other_load=load,
        notes=tuple(notes),
        profile=slowest,
        profile_by_type=by_type,
    )
