"""Quantizer presets shared by every binary layer in bnnzoo.

The straight-through estimator with gradient cancelling (Bethge, Yang, Bornstein, Meinel 2019,
"BinaryDenseNet: Developing an Architecture for Binary Neural Networks", §3.1) passes the gradient
through ``sign`` only where ``|x| <= clip_value``; BinaryDenseNet uses ``t_clip = 1.3`` and
ResNetE ``t_clip = 1.25`` (Table 7). The latent weights are clipped to the same range
by a ``WeightClip`` constraint, so no weight drifts into the region where its gradient is zero.
"""

from __future__ import annotations

import larq as lq


def _check_clip(clip_value: float) -> float:
    is_number = isinstance(clip_value, (int, float)) and not isinstance(clip_value, bool)
    if not is_number or clip_value <= 0:
        raise ValueError(
            f"Expected clip_value to be a positive number (Bethge et al. 2019 use 1.3 for "
            f"BinaryDenseNet and 1.25 for ResNetE). Received: clip_value={clip_value!r}."
        )
    return float(clip_value)


def sign_quantizer(clip_value: float = 1.3) -> lq.quantizers.SteSign:
    """``sign`` forward; straight-through gradient, zero outside ``[-clip_value, clip_value]``."""
    return lq.quantizers.SteSign(clip_value=_check_clip(clip_value))


def magnitude_aware_quantizer(clip_value: float = 1.3) -> lq.quantizers.MagnitudeAwareSign:
    """XNOR-Net weight scaling: ``sign(w)`` times the mean ``|w|`` of each output channel."""
    return lq.quantizers.MagnitudeAwareSign(clip_value=_check_clip(clip_value))


def weight_clip(clip_value: float = 1.3) -> lq.constraints.WeightClip:
    """Constraint that keeps latent binary weights inside the STE's pass-through range."""
    return lq.constraints.WeightClip(clip_value=_check_clip(clip_value))
