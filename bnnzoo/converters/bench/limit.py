"""The machine's limit that bench holds every model against: peak MAC rates measured here.

A model cannot run faster than its binary MACs at the best binary-MAC rate this machine reaches
plus its float MACs at the best float-MAC rate (in the precision its float layers run in)::

    limit time = binary MACs / binary peak + float MACs / float peak

Each peak is measured, not assumed: OpenVINO's CPU plugin runs one large 3×3 convolution
(``PROBLEMS``: 256→256 channels on 28×28 and 512→512 on 14×14, the best of them) ``runs``
times with ``threads`` threads, built from the public opset: a ``BinaryConvolution``
(``xnor-popcount``) on a ``FakeQuantize(levels=2)`` binarized input for the binary peak, a
``Convolution`` for the float peak in f32 or bf16. The op's time is OpenVINO's per-node time of
the convolution, or the whole inference where that is shorter (the per-node times of its
``brgconv`` float kernels came out longer than the whole inference, measured); the peak is the
fastest run, MACs / time. Every layer of a real model has less work per byte than this one op,
so no model reaches 100 %; the percentage says how far it is.

A measurement takes about a second; it is kept for the rest of the process per
(threads, precision, problem sizes, runs), so repeated ``bench`` calls measure once.

Example:
    >>> limit = measure_limit(threads=2, precisions=("f32", "bf16"))
    >>> print(limit)  # binary peak 3,100 G MACs/s; float peak f32 150, bf16 450 G MACs/s
    >>> limit.time_ms(binary_macs=3.6e9, float_macs=0.2e9, precision="bf16")
    1.6
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bnnzoo._checks import one_of, positive_int

# (channels, height = width) of the measured 3x3 convolutions; the best rate is the peak
PROBLEMS = ((256, 28), (512, 14))
KERNEL = 3
FLOAT_PRECISIONS = ("f32", "bf16")


@dataclass(frozen=True)
class Limit:
    """Peak MAC rates measured on this machine, and the limit time they give a model.

    Attributes:
        binary_gmacs_per_s: best binary MACs per second of one ``BinaryConvolution``, in G.
        float_gmacs_per_s: precision (``"f32"``, ``"bf16"``) → best float MACs/s of one
            ``Convolution`` in that precision, in G.
        threads: threads of the measurement.
        measured: what was measured, for the report.
    """

    binary_gmacs_per_s: float
    float_gmacs_per_s: Mapping[str, float]
    threads: int
    measured: str = ""

    def time_ms(self, binary_macs: float, float_macs: float, precision: str = "f32") -> float:
        """``binary_macs / binary peak + float_macs / float peak`` in milliseconds, the float
        peak in ``precision`` (a KeyError names a precision that was not measured)."""
        if precision not in self.float_gmacs_per_s:
            raise KeyError(
                f"No float peak measured in {precision!r}; measured: "
                f"{sorted(self.float_gmacs_per_s)}. Pass precisions=(..., {precision!r}) to "
                f"measure_limit."
            )
        float_rate = self.float_gmacs_per_s[precision]
        return (binary_macs / self.binary_gmacs_per_s + float_macs / float_rate) / 1e6

    def percent(self, binary_macs: float, float_macs: float, ms: float, precision: str) -> float:
        """The limit time as a percentage of ``ms``: 100 means the model ran at the peaks."""
        return 100.0 * self.time_ms(binary_macs, float_macs, precision) / ms

    def __str__(self) -> str:
        floats = ", ".join(f"{p} {r:,.0f}" for p, r in self.float_gmacs_per_s.items())
        return (
            f"measured peaks with {self.threads} threads: {self.binary_gmacs_per_s:,.0f} G "
            f"binary MACs/s, float {floats} G MACs/s ({self.measured})"
        )


def measure_limit(
    threads: int,
    precisions: Sequence[str] = ("f32",),
    *,
    problems: Sequence[tuple[int, int]] = PROBLEMS,
    runs: int = 20,
) -> Limit:
    """Measure (or take from this process's cache) the binary peak and the float peaks in
    ``precisions``.

    Args:
        threads: inference threads, as the engines get.
        precisions: float precisions to measure, from ``FLOAT_PRECISIONS``.
        problems: ``(channels, size)`` of the measured convolutions (3×3, channels→channels,
            size×size, stride 1, same padding); the best rate counts.
        runs: timed runs of each, after one warm-up.

    Example:
        >>> measure_limit(2, ("f32",), problems=((16, 8),), runs=2).binary_gmacs_per_s > 0
        True
    """
    threads = positive_int("threads", threads)
    runs = positive_int("runs", runs)
    problems = tuple((positive_int("channels", c), positive_int("size", s)) for c, s in problems)
    if not problems:
        raise ValueError(
            "Expected problems to be a non-empty sequence of (channels, size). Received: (). "
            f"Pass e.g. problems={PROBLEMS}."
        )
    for precision in precisions:
        one_of("precision", precision, FLOAT_PRECISIONS)
    shapes = ", ".join(f"{c}->{c} on {s}x{s}" for c, s in problems)
    return Limit(
        binary_gmacs_per_s=_peak("binary", "f32", threads, problems, runs),
        float_gmacs_per_s={p: _peak("float", p, threads, problems, runs) for p in precisions},
        threads=threads,
        measured=(
            f"the fastest of {runs} runs of one OpenVINO 3x3 BinaryConvolution / Convolution, "
            f"{shapes}, batch 1; bench.limit"
        ),
    )


@functools.cache
def _peak(
    kind: str, precision: str, threads: int, problems: tuple[tuple[int, int], ...], runs: int
) -> float:
    """Best G MACs/s over ``problems`` of one binary or float convolution (cached)."""
    rates = []
    for channels, size in problems:
        model = _binary_conv(channels, size) if kind == "binary" else _float_conv(channels, size)
        node_type = "BinaryConvolution" if kind == "binary" else "Convolution"
        seconds = _fastest_op(model, node_type, threads, precision, runs)
        rates.append(size * size * channels * channels * KERNEL * KERNEL / seconds / 1e9)
    return max(rates)


def _fastest_op(model, node_type: str, threads: int, precision: str, runs: int) -> float:
    """Seconds of the fastest run of ``node_type`` in ``model``: per run, OpenVINO's time of
    the node or the whole inference, whichever is shorter."""
    from bnnzoo.converters.openvino import compile as ov_compile

    compiled = ov_compile(model, threads, profiling=True, precision=precision)
    request = compiled.create_infer_request()
    x = np.random.default_rng(0).normal(size=tuple(compiled.input(0).shape))
    data = [x.astype(np.float32)]
    request.infer(data)  # warm-up
    best = math.inf
    for _ in range(runs):
        start = time.perf_counter()
        request.infer(data)
        whole = time.perf_counter() - start
        node = sum(
            info.real_time.total_seconds()
            for info in request.get_profiling_info()
            if info.node_type == node_type and str(info.status).endswith("EXECUTED")
        )
        best = min(best, min(node, whole) if node > 0 else whole)
    return best


def _binary_conv(channels: int, size: int):
    """``FakeQuantize(levels=2)`` → 3×3 ``BinaryConvolution`` (xnor-popcount, random ±1
    weights), NCHW, as the OpenVINO exporter emits binary convolutions."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, channels, size, size], ov.Type.f32, name="x")
    per_channel = (1, channels, 1, 1)
    zero = ops.constant(np.zeros(per_channel, np.float32))
    bits = ops.fake_quantize(
        x, zero, zero, zero, ops.constant(np.ones(per_channel, np.float32)), levels=2
    )
    shape = [channels, channels, KERNEL, KERNEL]
    weights = ov.Tensor(ov.Type.u1, ov.Shape(shape))
    random_bits = np.random.default_rng(0).integers(0, 2, shape, dtype=np.uint8)
    weights.data[:] = np.packbits(random_bits.ravel(), bitorder="little")
    pad = [KERNEL // 2] * 2
    y = ops.binary_convolution(
        bits, ov.op.Constant(weights), [1, 1], pad, pad, [1, 1], "xnor-popcount", 0.0
    )
    return ov.Model([y.output(0)], [x], "binary_peak")


def _float_conv(channels: int, size: int):
    """One 3×3 float ``Convolution``, NCHW, random weights."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, channels, size, size], ov.Type.f32, name="x")
    shape = (channels, channels, KERNEL, KERNEL)
    kernel = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    pad = [KERNEL // 2] * 2
    y = ops.convolution(x, ops.constant(kernel), [1, 1], pad, pad, [1, 1])
    return ov.Model([y.output(0)], [x], "float_peak")
