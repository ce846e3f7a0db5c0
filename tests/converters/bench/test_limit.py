"""The binary-MAC limit and the CPU clock it is computed from."""

import pytest

from bnnzoo.converters.bench import BINARY_MACS_PER_CYCLE_PER_CORE, Limit, cpu_clock_ghz


def test_cpu_clock_is_read_or_assumed(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\ncpu MHz\t\t: 2500.000\n\nprocessor\t: 1\ncpu MHz\t: 2600.5\n"
    )
    assert cpu_clock_ghz(cpuinfo) == (pytest.approx(2.6005), f"cpu MHz from {cpuinfo}")
    cpuinfo.write_text("processor\t: 0\n")
    clock, source = cpu_clock_ghz(cpuinfo)
    assert clock == 3.0 and source.startswith("assumed")
    assert cpu_clock_ghz(tmp_path / "missing")[0] == 3.0


def test_limit_is_macs_per_cycle_times_threads_times_clock():
    limit = Limit(BINARY_MACS_PER_CYCLE_PER_CORE, 2, 2.5, "assumed")
    assert BINARY_MACS_PER_CYCLE_PER_CORE == 341
    assert limit.gmacs_per_s == pytest.approx(341 * 2 * 2.5)
    assert str(limit) == (
        "341 binary MACs/cycle/core (AVX-512 VPOPCNTQ) x 2 threads x 2.50 GHz (assumed) = "
        "1,705 G binary MACs/s"
    )
