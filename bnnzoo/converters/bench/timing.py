"""Time several functions fairly on a shared machine: interleaved runs (one at a time or in
blocks), and the CPU load of other processes before and during the timing.

Example:
    >>> from bnnzoo.converters.bench.timing import cpu_seconds, other_load, time_interleaved
    >>> before, start = cpu_seconds(), time.perf_counter()
    >>> times = time_interleaved({"a": run_a, "b": run_b}, runs=20)
    >>> other_load(before, cpu_seconds(), time.perf_counter() - start)  # near 0: clean
    0.02
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping

from bnnzoo._checks import positive_int


def time_interleaved(
    calls: Mapping[str, Callable[[], object]],
    *,
    runs: int,
    warmup: int = 3,
    block: int = 1,
    warmup_every_block: bool = False,
) -> dict[str, list[float]]:
    """Milliseconds of each call, the calls taking turns.

    After ``warmup`` untimed calls of each, every round runs each function ``block`` times in a
    row, until each has run ``runs`` times; the order rotates by one function per round, so
    none always runs first. Slow drift (clock, other load) thus spreads over all of them.

    Args:
        calls: name → function with no arguments (one inference).
        runs: timed calls per function.
        warmup: untimed calls per function before the first round, or before each of its
            blocks with ``warmup_every_block``.
        block: consecutive calls of one function per round (1: strict round-robin).
        warmup_every_block: warm up before every block, not only the first: each block then
            starts with the function's data back in the caches that the others evicted.

    Returns:
        name → the ``runs`` times in milliseconds, in the order they were taken.

    Example:
        >>> times = time_interleaved({"a": run_a, "b": run_b}, runs=20)
        >>> statistics.median(times["a"]) / statistics.median(times["b"])
    """
    positive_int("runs", runs)
    positive_int("block", block)
    positive_int("warmup", warmup, minimum=0)
    names = list(calls)
    if not warmup_every_block:
        for name in names:
            for _ in range(warmup):
                calls[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(math.ceil(runs / block)):
        shift = round_index % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            call = calls[name]
            for _ in range(warmup if warmup_every_block else 0):
                call()
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
