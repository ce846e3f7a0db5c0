"""sign_thresholds: the per-channel switching point of Keras' sign, exact over float32."""

import numpy as np

from bnnzoo.converters.openvino.thresholds import FLOAT_MIN, sign_thresholds

BIG = np.finfo(np.float32).max


def oracle(x: np.ndarray) -> np.ndarray:
    """Five channels: switches at 0.5, at 0 (sign(0) = +1), decreasing at -1, always +1, never."""
    x = np.asarray(x, np.float32)
    return np.stack(
        [x[:, 0] >= 0.5, x[:, 1] >= 0, x[:, 2] < -1, np.ones(len(x), bool), np.zeros(len(x), bool)],
        axis=1,
    )


def test_thresholds_reproduce_the_oracle_on_both_sides_of_every_switch():
    threshold, high = sign_thresholds(oracle, 5)
    assert threshold.dtype == high.dtype == np.float32
    assert threshold[0] == np.nextafter(np.float32(0.5), np.float32(-np.inf))
    assert threshold[1] == -FLOAT_MIN  # just below -0.0 is subnormal: moved to a normal float
    assert list(high) == [1, 1, 0, 1, 0]  # the decreasing channel swaps output low and high
    values = [-BIG, -2.0, -1.0, -FLOAT_MIN, -0.0, 0.0, FLOAT_MIN, 0.5, 2.0, BIG]
    values += [np.nextafter(np.float32(v), np.float32(d)) for v in (-1.0, 0.5) for d in (-9, 9)]
    x = np.repeat(np.array(values, np.float32)[:, None], 5, axis=1)
    bits = (x > threshold) == high.astype(bool)
    np.testing.assert_array_equal(bits, oracle(x))
