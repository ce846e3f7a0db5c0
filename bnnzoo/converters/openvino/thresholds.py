"""Where Keras' ``sign`` switches from -1 to +1, per channel, found exactly over all float32
values: the thresholds of the exporter's binarization.

The CPU plugin's binarization sets a bit where ``x > threshold`` (XNOR its output-high flag),
so each threshold is the float just below the first ``x`` whose sign is +1 (``sign(0) = +1``).
The answer comes from the Keras layers themselves (an *oracle*, e.g. ``quantizer(bn(x)) > 0``),
so a BatchNorm folded into the threshold agrees with Keras for every float input whatever
formula TensorFlow uses inside BatchNorm (oneDNN and Eigen round differently). A decreasing
channel (a BatchNorm with negative ``gamma``) swaps output low and high. Subnormal thresholds
are moved to the nearest normal float, because the plugin may flush subnormals to zero; this
changes the sign only of subnormal inputs, which TensorFlow itself flushes to zero on CPU.

Example:
    >>> threshold, high = sign_thresholds(lambda x: quantizer(bn(x)).numpy() > 0, channels=64)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FLOAT_MIN = np.float32(np.finfo(np.float32).tiny)  # smallest normal float32


def _order_keys(x: np.ndarray) -> np.ndarray:
    """float32 → int64 keys in the order of the floats (-0.0 and 0.0 share key 0)."""
    bits = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(bits >= 0, bits, -(bits & 0x7FFFFFFF))


def _from_keys(keys: np.ndarray) -> np.ndarray:
    keys = np.asarray(keys, np.int64)
    bits = np.where(keys >= 0, keys, (-keys) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32)


def sign_thresholds(
    oracle: Callable[[np.ndarray], np.ndarray], channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(threshold, output_high)`` such that ``bit = (x > t) == output_high``.

    ``oracle(x)`` (x of shape ``[k, channels]``) says where Keras's sign is +1; it must be
    monotone in x per channel (BatchNorm then sign is). Bisection over the 2^32 float32 values
    finds the switching point in 32 steps, all channels at once.
    """
    big = np.finfo(np.float32).max
    ends = oracle(np.array([[-big] * channels, [big] * channels], np.float32))
    at_low, at_high = ends[0], ends[1]
    increasing = ~at_low & at_high
    decreasing = at_low & ~at_high
    # pred(x) = oracle(x) for increasing channels, not oracle(x) for decreasing ones: false at
    # the low end, true at the high end; find the first true key.
    lo = np.full(channels, _order_keys(np.float32(-big)), np.int64)
    hi = np.full(channels, _order_keys(np.float32(big)), np.int64)
    moving = increasing | decreasing
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        value = oracle(_from_keys(mid)[None, :])[0]
        pred = np.where(decreasing, ~value, value)
        hi = np.where(moving & pred, mid, hi)
        lo = np.where(moving & ~pred, mid, lo)
        lo = np.where(moving, lo, hi - 1)  # constant channels stop at once
    threshold = _from_keys(hi - 1).copy()  # x > threshold  <=>  x >= first true
    # constant channels: compare against -inf, output = their constant sign
    threshold[~moving] = -np.inf
    high = np.where(moving, increasing, at_high).astype(np.float32)
    # the CPU plugin may treat subnormal thresholds as zero; use the nearest normal instead
    subnormal = (threshold != 0) & (np.abs(threshold) < FLOAT_MIN)
    threshold[subnormal] = np.copysign(FLOAT_MIN, threshold[subnormal])
    return threshold.astype(np.float32), high
