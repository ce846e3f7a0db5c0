"""The shared helpers: atomic writes, tables, /proc/cpuinfo reading, argument checks."""

import os
import re

import pytest

from bnnzoo import _checks, _host, _io, _text

CPUINFO = """processor\t: 0
model name\t: Test CPU @ 2.10GHz
cpu MHz\t\t: 2100.000
flags\t\t: fpu avx512f avx512_bf16

processor\t: 1
model name\t: Test CPU @ 2.10GHz
cpu MHz\t\t: 3000.5
flags\t\t: fpu avx512f avx512_bf16
"""


def test_write_atomically_replaces_whole_and_keeps_mode(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    target.chmod(0o600)
    _io.write_atomically(target, "new text")
    assert target.read_text() == "new text"
    assert target.stat().st_mode & 0o777 == 0o600
    _io.write_atomically(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o644
    assert sorted(os.listdir(tmp_path)) == ["a.json", "b.bin"]  # no temporary left


def test_write_atomically_failure_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(TypeError):
        _io.write_atomically(target, 12345)  # neither bytes nor str
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_format_table_aligns_and_underlines():
    text = _text.format_table([["model", "ms"], ["bdn28", "4.26"], ["r", "10.5"]])
    assert text.splitlines() == ["model    ms", "-----  ----", "bdn28  4.26", "r      10.5"]


def test_cpuinfo_readers(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert _host.cpuinfo_values("cpu MHz", path) == ["2100.000", "3000.5"]
    assert _host.cpu_flags(path) == {"fpu", "avx512f", "avx512_bf16"}
    assert _host.cpu_model(path) == "Test CPU @ 2.10GHz"
    assert _host.cpu_mhz(path) == 3000.5
    missing = tmp_path / "none"
    assert _host.cpu_flags(missing) == set()
    assert _host.cpu_model(missing) == "unknown CPU"
    assert _host.cpu_mhz(missing) is None


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2", None])
def test_positive_int_refuses(value):
    with pytest.raises(ValueError, match=r"Expected runs to be an int >= 1\. Received: runs="):
        _checks.positive_int("runs", value)


def test_positive_int_minimum_and_accepts():
    assert _checks.positive_int("threads", 3, minimum=3) == 3
    with pytest.raises(ValueError, match="int >= 3"):
        _checks.positive_int("threads", 2, minimum=3)


def test_positive_ints_and_one_of():
    assert _checks.positive_ints("stages", [1, 2]) == (1, 2)
    for bad in ([], [1, 0], [1, True], (1.0,)):
        with pytest.raises(ValueError, match="non-empty sequence of positive ints"):
            _checks.positive_ints("stages", bad)
    assert _checks.one_of("target", "arm", ("arm", "xcore")) == "arm"
    with pytest.raises(
        ValueError, match=r"one of \('arm', 'xcore'\)\. Received: target='x86'\. Hi"
    ):
        _checks.one_of("target", "x86", ("arm", "xcore"), hint="Hi")


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_true_or_false_takes_only_a_bool(value):
    assert (
        _checks.true_or_false("int8", True) is True and _checks.true_or_false("x", False) is False
    )
    with pytest.raises(ValueError, match=rf"^Expected int8 to be True or False\. Received: int8="
                                         rf"{re.escape(repr(value))}\. Hi$"):  # fmt: skip
        _checks.true_or_false("int8", value, hint="Hi")
