"""The measured limit: its arithmetic on peaks given by hand, and a measurement on a tiny
problem (no timing thresholds: only that the rates are positive and finite, and cached)."""

import math

import pytest

from bnnzoo.converters.bench import Limit, measure_limit
from bnnzoo.converters.bench import limit as limit_module

TINY = ((8, 4),)  # 3x3 convolutions of 8 -> 8 channels on 4x4


def test_limit_time_is_binary_over_binary_peak_plus_float_over_float_peak():
    limit = Limit(2000.0, {"f32": 100.0, "bf16": 400.0}, threads=2, measured="by hand")
    # 4 G binary MACs at 2 T/s (2 ms) + 0.2 G float MACs at 100 G/s (2 ms) or 400 G/s (0.5 ms)
    assert limit.time_ms(4e9, 0.2e9, "f32") == pytest.approx(4.0)
    assert limit.time_ms(4e9, 0.2e9, "bf16") == pytest.approx(2.5)
    assert limit.percent(4e9, 0.2e9, 10.0, "f32") == pytest.approx(40.0)
    with pytest.raises(KeyError, match="No float peak measured in 'f16'"):
        limit.time_ms(1, 1, "f16")
    assert str(limit) == (
        "measured peaks with 2 threads: 2,000 G binary MACs/s, float f32 100, bf16 400 G MACs/s "
        "(by hand)"
    )


def test_a_tiny_measurement_gives_positive_finite_rates_and_is_cached(monkeypatch):
    limit = measure_limit(1, ("f32", "bf16"), problems=TINY, runs=2)
    rates = [limit.binary_gmacs_per_s, *limit.float_gmacs_per_s.values()]
    assert len(rates) == 3 and all(math.isfinite(r) and r > 0 for r in rates)
    assert limit.threads == 1 and "8->8 on 4x4" in limit.measured

    def no_more_measuring(*args):
        raise AssertionError("measured again")

    monkeypatch.setattr(limit_module, "_fastest_op", no_more_measuring)
    assert measure_limit(1, ("bf16", "f32"), problems=TINY, runs=2) == limit
    with pytest.raises(AssertionError, match="measured again"):
        measure_limit(1, ("f32",), problems=TINY, runs=3)  # other settings: a new measurement


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threads": 0}, "threads to be an int >= 1"),
        ({"threads": 1, "runs": 0}, "runs to be an int >= 1"),
        ({"threads": 1, "precisions": ("f16",)}, "precision to be one of ('f32', 'bf16')"),
        ({"threads": 1, "problems": ()}, "problems to be a non-empty sequence"),
        ({"threads": 1, "problems": ((0, 4),)}, "channels to be an int >= 1"),
    ],
)
def test_bad_arguments_are_refused_before_measuring(kwargs, message):
    with pytest.raises(ValueError) as info:
        measure_limit(**kwargs)
    assert message in str(info.value)
