"""How a built figure is judged against a printed one, for the papers whose figures are judged
by a relative difference (``igp``, ``reactnet``)."""

from __future__ import annotations


def relative_diff(printed: float | None, built: float) -> float | None:
    """Built / printed − 1; None where the paper prints nothing.

    Example:
        >>> round(relative_diff(0.87e8, 0.871e8), 4)
        0.0011
    """
    return None if printed is None else built / printed - 1


def figure_status(diff: float | None, tolerance: float, documented: bool) -> str:
    """``"ok"`` within ``tolerance``, ``"deviation"`` outside it where ``documented``, ``"OFF"``
    otherwise, ``""`` where nothing is printed (``diff`` None).

    Example:
        >>> figure_status(0.06, 0.05, documented=False)
        'OFF'
    """
    if diff is None:
        return ""
    if abs(diff) <= tolerance:
        return "ok"
    return "deviation" if documented else "OFF"
