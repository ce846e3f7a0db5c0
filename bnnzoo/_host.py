"""What the host CPU is, read from ``/proc/cpuinfo``: the one reader of it in bnnzoo."""

from __future__ import annotations

import math
import os

CPUINFO = "/proc/cpuinfo"


def cpuinfo_values(key: str, cpuinfo: str | os.PathLike = CPUINFO) -> list[str]:
    """Every value of ``key`` in ``cpuinfo`` (one per logical CPU), in order; [] where the file
    is missing (not Linux) or has no such key.

    Example:
        >>> cpuinfo_values("model name")[:1]
        ['AMD EPYC']
    """
    try:
        with open(cpuinfo) as f:
            text = f.read()
    except OSError:
        return []
    values = []
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() == key:
            values.append(value.strip())
    return values


def cpu_flags(cpuinfo: str | os.PathLike = CPUINFO) -> set[str]:
    """The CPU's feature flags (``avx512_bf16``, ``amx_bf16``...); empty where unknown."""
    values = cpuinfo_values("flags", cpuinfo)
    return set(values[0].split()) if values else set()


def cpu_model(cpuinfo: str | os.PathLike = CPUINFO) -> str:
    """The CPU's model name, or ``"unknown CPU"``."""
    values = cpuinfo_values("model name", cpuinfo)
    return values[0] if values else "unknown CPU"


def cpu_mhz(cpuinfo: str | os.PathLike = CPUINFO) -> float | None:
    """The highest ``cpu MHz`` of ``cpuinfo`` (the clock the kernel reports), or None."""
    values = []
    for value in cpuinfo_values("cpu MHz", cpuinfo):
        try:
            mhz = float(value)
        except ValueError:
            continue
        if math.isfinite(mhz) and mhz > 0:
            values.append(mhz)
    return max(values) if values else None


# the flags a benchmark reader needs to judge binary and low-precision float kernels
RELEVANT_FLAGS = ("avx2", "fma", "avx512", "amx", "vnni")


def describe(cpuinfo: str | os.PathLike = CPUINFO) -> str:
    """One line for a benchmark's header: model, clock, logical cores and the vector flags.

    Example:
        >>> describe()
        'AMD EPYC 9B45 (2596 MHz), 2 logical cores; flags: avx2, avx512_bf16, ..., fma'
    """
    mhz = cpu_mhz(cpuinfo)
    clock = f"{mhz:.0f} MHz" if mhz else "clock unknown"
    flags = sorted(f for f in cpu_flags(cpuinfo) if any(k in f for k in RELEVANT_FLAGS))
    return (
        f"{cpu_model(cpuinfo)} ({clock}), {os.cpu_count()} logical cores; "
        f"flags: {', '.join(flags) or 'no AVX2/AVX-512/AMX'}"
    )
