"""Interleaved timing and the load of other processes (no timing thresholds)."""

import pytest

from bnnzoo.converters.bench.timing import cpu_seconds, other_load, time_interleaved


def test_time_interleaved_takes_turns():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in "abc"}
    times = time_interleaved(calls, runs=3, warmup=1)
    assert order == list("abc" + "abc" + "bca" + "cab")
    assert {name: len(values) for name, values in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0 for values in times.values() for t in values)
    order.clear()
    time_interleaved(calls, runs=3, warmup=0, block=2)
    assert order == list("aabbcc" + "bca")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"runs": 0}, "runs to be an int >= 1"),
        ({"runs": 2, "block": 0}, "block to be an int >= 1"),
        ({"runs": 2, "warmup": -1}, "warmup to be an int >= 0"),
    ],
)
def test_time_interleaved_refuses_bad_counts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        time_interleaved({"a": lambda: None}, **kwargs)


def test_other_load_is_the_machine_minus_this_process():
    # the machine was busy 3 CPU seconds over 2 s, of which this process used 1
    assert other_load((10.0, 1.0), (13.0, 2.0), 2.0) == pytest.approx(1.0)
    assert other_load((10.0, 1.0), (10.5, 2.0), 2.0) == 0.0  # never negative
    machine, own = cpu_seconds()
    assert machine >= own - 1e-6 >= 0  # the machine's busy time includes this process's


def test_time_interleaved_can_warm_up_before_every_block():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in "ab"}
    times = time_interleaved(calls, runs=2, warmup=1, block=2, warmup_every_block=True)
    # each block: one untimed run, then two timed ones
    assert order == list("aaa" + "bbb")
    assert {name: len(values) for name, values in times.items()} == {"a": 2, "b": 2}
