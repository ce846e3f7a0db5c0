"""Time batch-1 inference of one model on every engine, side by side in one process.

``bench`` converts the same Keras model for four engines and times one image at a time on each:

* ``keras``: TensorFlow running the model as one compiled ``tf.function`` (a graph, not
  ``model.predict``, whose per-call setup would dominate a batch of one);
* ``tflite``: the model as plain float32 TFLite (``tf.lite.TFLiteConverter``; larq's ``sign``
  becomes ``SIGN``/``ADD`` ops, each binary conv a float ``CONV_2D`` on ±1 values) in
  TensorFlow's interpreter with its default XNNPACK delegate;
* ``lce``: ``to_tflite(model)`` in Larq Compute Engine's interpreter (``verify.lce_engine``);
  on x86 its binary kernels are LCE's portable reference ones;
* ``openvino``: ``bnnzoo.converters.openvino`` (every binary conv a ``BinaryConvolution``, run
  by the CPU plugin's xnor-popcount kernel).

Every engine gets ``threads`` threads. Before timing, each engine's outputs are compared with
Keras (``verify.compare_outputs``) on a few random inputs; an engine that cannot convert or run
the model is reported as unavailable with the reason. The engines then take turns, one run
each, round after round (the order rotating), so that drift and other load on the machine hit
all of them alike; the report gives median, minimum and 90th percentile.

Throughput is put against a physical limit: ``binary_macs / median time`` (G binary MACs/s,
for every engine, also those that compute the binary layers in float) over
``BINARY_MACS_PER_CYCLE_PER_CORE × threads × clock``. The 341 binary MACs per cycle and core
count AVX-512 with ``VPOPCNTQ``: a 512-bit word of binary MACs takes three vector instructions
(XNOR, ``VPOPCNTQ``, an add), two of which issue per cycle, 2 × 512 / 3 ≈ 341. The clock is
``cpu MHz`` of ``/proc/cpuinfo`` (the clock the kernel reports, not necessarily the boost
clock), or an assumed 3.0 GHz where it is missing; the report states which. No engine reaches
the limit; the percentage says how far each is from it.

An untrained model (``verify.looks_untrained``) is copied and given random weights with
BatchNorm statistics measured on data (``verify.randomize_weights``) first: its exact zeros
before ``sign`` would make the agreement check meaningless (see ``bnnzoo.converters.verify``).
Speed does not depend on the weights. The report says when this happened.

Example:
    >>> from bnnzoo.converters.bench import bench
    >>> report = bench("binary_densenet28", input_shape=(224, 224, 3), threads=2, runs=30)
    >>> print(report.format())
    >>> report.as_dict()["ratio_to_lce"]["openvino"]
    0.05

The command ``bnnzoo bench MODEL`` prints ``report.format()`` (or ``as_dict()`` as JSON).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from bnnzoo.converters.verify import VerifyReport

ENGINES = ("keras", "tflite", "lce", "openvino")
ENGINE_TITLES = {
    "keras": "Keras (TF graph)",
    "tflite": "float TFLite (XNNPACK)",
    "lce": "LCE interpreter",
    "openvino": "OpenVINO binary",
}
BINARY_MACS_PER_CYCLE_PER_CORE = 341  # AVX-512 VPOPCNTQ: 2 x 512 / 3, see the module docstring
DEFAULT_CLOCK_GHZ = 3.0
CHECK_INPUTS = 4  # random inputs of the agreement check


# ----------------------------------------------------------------------------- timing


def time_interleaved(
    calls: Mapping[str, Callable[[], object]],
    *,
    runs: int,
    warmup: int = 3,
    block: int = 1,
) -> dict[str, list[float]]:
    """Milliseconds of each call, the calls taking turns.

    After ``warmup`` untimed calls of each, every round runs each function ``block`` times in a
    row, until each has run ``runs`` times; the order rotates by one function per round, so
    none always runs first. Slow drift (clock, other load) thus spreads over all of them.

    Args:
        calls: name → function with no arguments (one inference).
        runs: timed calls per function.
        warmup: untimed calls per function before the first round.
        block: consecutive calls of one function per round (1: strict round-robin).

    Returns:
        name → the ``runs`` times in milliseconds, in the order they were taken.

    Example:
        >>> times = time_interleaved({"a": run_a, "b": run_b}, runs=20)
        >>> statistics.median(times["a"]) / statistics.median(times["b"])
    """
    for name, value in (("runs", runs), ("block", block)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"Expected {name} to be a positive int. Received: {name}={value!r}.")
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ValueError(f"Expected warmup to be an int >= 0. Received: warmup={warmup!r}.")
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(math.ceil(runs / block)):
        shift = round_index % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            call = calls[name]
            for _ in range(min(block, runs - len(times[name]))):
                start = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - start) * 1e3)
    return times


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process) so far, from
    ``/proc/stat`` and ``os.times``; two readings give ``other_load``."""
    with open("/proc/stat") as stat:
        fields = [float(v) for v in stat.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    own = os.times()
    return (sum(fields[:8]) - idle) / ticks, own.user + own.system


def other_load(before: tuple[float, float], after: tuple[float, float], seconds: float) -> float:
    """Cores kept busy by other processes between two ``cpu_seconds`` readings ``seconds``
    apart: near 0 on an idle machine, the timings are then clean."""
    return max(0.0, (after[0] - before[0]) - (after[1] - before[1])) / max(seconds, 1e-9)


def wait_until_idle(limit_s: float, threshold: float = 0.2, window_s: float = 5.0) -> float:
    """Wait (at most ``limit_s``) until other processes use under ``threshold`` cores over a
    ``window_s`` window; returns the last measured load.

    Example:
        >>> wait_until_idle(3600)  # then time
        0.01
    """
    deadline = time.monotonic() + limit_s
    while True:
        before = cpu_seconds()
        time.sleep(window_s)
        load = other_load(before, cpu_seconds(), window_s)
        if load < threshold or time.monotonic() > deadline:
            return load


# ----------------------------------------------------------------------------- the limit


@dataclass(frozen=True)
class Limit:
    """The physical binary-MAC limit: ``per_cycle_per_core × cores × clock_ghz`` G MACs/s."""

    per_cycle_per_core: int
    cores: int
    clock_ghz: float
    clock_source: str

    @property
    def gmacs_per_s(self) -> float:
        return self.per_cycle_per_core * self.cores * self.clock_ghz

    def __str__(self) -> str:
        return (
            f"{self.per_cycle_per_core} binary MACs/cycle/core (AVX-512 VPOPCNTQ) x {self.cores} "
            f"threads x {self.clock_ghz:.2f} GHz ({self.clock_source}) = "
            f"{self.gmacs_per_s:,.0f} G binary MACs/s"
        )


def cpu_clock_ghz(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> tuple[float, str]:
    """The CPU clock in GHz and where it came from: the highest ``cpu MHz`` of ``cpuinfo``,
    or ``DEFAULT_CLOCK_GHZ`` (an assumption, said so) where the file has none.

    Example:
        >>> cpu_clock_ghz()
        (2.596124, 'cpu MHz from /proc/cpuinfo')
    """
    try:
        with open(cpuinfo) as f:
            text = f.read()
    except OSError:
        text = ""
    values = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "cpu MHz":
            try:
                values.append(float(value))
            except ValueError:
                continue
    values = [v for v in values if math.isfinite(v) and v > 0]
    if not values:
        return DEFAULT_CLOCK_GHZ, f"assumed; no cpu MHz in {os.fspath(cpuinfo)}"
    return max(values) / 1e3, f"cpu MHz from {os.fspath(cpuinfo)}"


# ----------------------------------------------------------------------------- the report


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
        lines.append(_table(rows))
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
            lines.append(_table(by_type))
            lines.append("")
            nodes = [["node", "type", "kernel", "ms"]]
            nodes.extend([n, ty, k, f"{ms:.3f}"] for n, ty, k, ms in self.profile)
            lines.append(_table(nodes))
        return "\n".join(lines)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _agreement_cell(report: VerifyReport | None) -> str:
    if report is None:
        return "-"
    relative = report.max_abs_diff / report.max_abs_reference if report.max_abs_reference else 0.0
    return f"{'yes' if report.passed else 'NO'} ({relative:.1e})"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- engines


@dataclass
class _Engine:
    """One engine ready to run: ``run`` maps a batch of one input to its outputs."""

    run: Callable[[np.ndarray], np.ndarray]
    detail: str = ""


def _keras_engine(model: tf.keras.Model, threads: int) -> _Engine:
    shape = tuple(model.inputs[0].shape[1:])
    dtype = model.inputs[0].dtype
    graph = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((1, *shape), dtype)],
    )

    def run(batch: np.ndarray) -> np.ndarray:
        return graph(tf.constant(batch, dtype)).numpy()

    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    return _Engine(
        run,
        f"tf.function of model(x, training=False), TensorFlow {tf.__version__}, intra-op "
        f"threads {intra or 'default'}, inter-op threads {inter or 'default'}",
    )


def _tflite_engine(model: tf.keras.Model, threads: int) -> _Engine:
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=threads)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    ops: dict[str, int] = {}
    for op in interpreter._get_ops_details():  # the only way to see the XNNPACK delegate
        ops[op["op_name"]] = ops.get(op["op_name"], 0) + 1

    def run(batch: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(input_index, np.asarray(batch, np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(output_index).copy()

    delegated = ops.get("DELEGATE", 0)
    detail = (
        f"tf.lite.Interpreter, {delegated} XNNPACK delegate partitions"
        if delegated
        else "tf.lite.Interpreter WITHOUT the XNNPACK delegate (no DELEGATE op)"
    )
    floats = ", ".join(f"{k} {v}" for k, v in sorted(ops.items()) if k != "DELEGATE")
    return _Engine(run, f"{detail}; ops: {floats}")


def _lce_engine(model: tf.keras.Model, threads: int) -> _Engine:
    import larq_compute_engine as lce

    from bnnzoo.converters.lce import binary_mac_report, to_tflite
    from bnnzoo.converters.verify import lce_engine

    flatbuffer = to_tflite(model)
    macs = binary_mac_report(model, flatbuffer)
    return _Engine(
        lce_engine(flatbuffer, num_threads=threads),
        f"larq-compute-engine {lce.__version__} interpreter; {macs}",
    )


def _openvino_engine(model: tf.keras.Model, threads: int) -> _Engine:
    import openvino as ov

    from bnnzoo.converters import openvino as ovx

    compiled = ovx.compile(ovx.to_openvino(model), threads=threads)
    request = compiled.create_infer_request()

    def run(batch: np.ndarray) -> np.ndarray:
        request.infer([np.ascontiguousarray(batch, np.float32)])
        return np.array(request.get_output_tensor(0).data, copy=True)

    binary = ovx.binary_ops_in_runtime(compiled)
    expected = ovx.binary_conv_layers(model)
    kernels = ", ".join(sorted(set(binary.values()))) or "none"
    return _Engine(
        run,
        f"openvino {ov.__version__.split('-')[0]}, {len(set(expected) & set(binary))} of "
        f"{len(expected)} binary convs run as BinaryConvolution (kernels: {kernels})",
    )


_BUILDERS = {
    "keras": _keras_engine,
    "tflite": _tflite_engine,
    "lce": _lce_engine,
    "openvino": _openvino_engine,
}


def _check_engines(engines) -> tuple[str, ...]:
    if isinstance(engines, str):
        engines = [e for e in engines.split(",") if e]
    names = list(engines) if isinstance(engines, (list, tuple)) else None
    unknown = [] if names is None else [e for e in names if e not in ENGINES]
    if not names or unknown:
        raise ValueError(
            f"Expected engines to be a non-empty selection of {ENGINES}. Received: "
            f"engines={engines!r}{f' (unknown: {unknown})' if unknown else ''}. Pass e.g. "
            f"engines=('lce', 'openvino')."
        )
    return tuple(e for e in ENGINES if e in names)


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(
            f"Expected {name} to be an int >= {minimum}. Received: {name}={value!r}. "
            f"Pass e.g. {name}={max(minimum, 2)}."
        )
    return value


def _configure_tf_threads(threads: int) -> str | None:
    """Give TensorFlow ``threads`` intra-op threads and one inter-op thread (ops run one after
    the other, each on ``threads`` threads, like the other engines). Returns a note when
    TensorFlow had started already with other settings, which it cannot change then."""
    wanted = {"intra-op": threads, "inter-op": 1}
    setters = {
        "intra-op": tf.config.threading.set_intra_op_parallelism_threads,
        "inter-op": tf.config.threading.set_inter_op_parallelism_threads,
    }
    refused = []
    for kind, count in wanted.items():
        try:
            setters[kind](count)
        except RuntimeError:  # TensorFlow's runtime already started with other values
            refused.append(kind)
    if not refused:
        return None
    return (
        f"note: TensorFlow had started before bench() with other {' and '.join(refused)} "
        f"thread settings, which cannot change afterwards; the Keras row runs with them. Call "
        f"bench() before anything else runs TensorFlow (as `bnnzoo bench` does) to give Keras "
        f"{threads} threads."
    )


# ----------------------------------------------------------------------------- bench


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
            (``converters.load_or_build``).
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
    from bnnzoo.analysis import count_model
    from bnnzoo.converters.lce import load_or_build
    from bnnzoo.converters.verify import (
        compare_outputs,
        looks_untrained,
        random_inputs,
        randomize_weights,
    )

    threads = _positive_int("threads", threads)
    runs = _positive_int("runs", runs)
    warmup = _positive_int("warmup", warmup, minimum=0)
    check_inputs = _positive_int("check_inputs", check_inputs)
    profile = _positive_int("profile", profile, minimum=0)
    names = _check_engines(engines)
    say = log or (lambda line: None)

    notes = []
    thread_note = _configure_tf_threads(threads) if "keras" in names else None
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
    ready: dict[str, _Engine] = {}
    unavailable: dict[str, str] = {}
    agreement: dict[str, VerifyReport] = {}
    for name in names:
        say(f"bench: preparing {ENGINE_TITLES[name]} ...")
        try:
            engine = _BUILDERS[name](model, threads)
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
