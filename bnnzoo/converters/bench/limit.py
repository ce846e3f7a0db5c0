"""The physical limit of binary MACs per second that bench holds every engine against.

``BINARY_MACS_PER_CYCLE_PER_CORE × threads × clock``. The 341 binary MACs per cycle and core
count AVX-512 with ``VPOPCNTQ``: a 512-bit word of binary MACs takes three vector instructions
(XNOR, ``VPOPCNTQ``, an add), two of which issue per cycle, 2 × 512 / 3 ≈ 341. The clock is
``cpu MHz`` of ``/proc/cpuinfo`` (the clock the kernel reports, not necessarily the boost
clock), or an assumed 3.0 GHz where it is missing; the limit states which. No engine reaches
it; the percentage of it says how far each is.

Example:
    >>> from bnnzoo.converters.bench.limit import BINARY_MACS_PER_CYCLE_PER_CORE as PER_CYCLE
    >>> limit = Limit(PER_CYCLE, 2, *cpu_clock_ghz())
    >>> limit.gmacs_per_s  # 341 x 2 threads x 2.596 GHz
    1770.56...
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bnnzoo._host import CPUINFO, cpu_mhz

BINARY_MACS_PER_CYCLE_PER_CORE = 341  # AVX-512 VPOPCNTQ: 2 x 512 / 3, see the module docstring
DEFAULT_CLOCK_GHZ = 3.0


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


def cpu_clock_ghz(cpuinfo: str | os.PathLike = CPUINFO) -> tuple[float, str]:
    """The CPU clock in GHz and where it came from: the highest ``cpu MHz`` of ``cpuinfo``
    (``bnnzoo._host.cpu_mhz``), or ``DEFAULT_CLOCK_GHZ`` (an assumption, said so) where the
    file has none.

    Example:
        >>> cpu_clock_ghz()
        (2.596124, 'cpu MHz from /proc/cpuinfo')
    """
    mhz = cpu_mhz(cpuinfo)
    if mhz is None:
        return DEFAULT_CLOCK_GHZ, f"assumed; no cpu MHz in {os.fspath(cpuinfo)}"
    return mhz / 1e3, f"cpu MHz from {os.fspath(cpuinfo)}"
