"""Argument checks shared across bnnzoo: each raises a ValueError that says what was received,
what was expected and how to fix it, before any work starts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def positive_int(name: str, value, *, minimum: int = 1, hint: str | None = None) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``, else a ValueError.

    Example:
        >>> positive_int("runs", 0)
        Traceback (most recent call last):
        ValueError: Expected runs to be an int >= 1. Received: runs=0. Pass e.g. runs=2.
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        fix = hint or f"Pass e.g. {name}={max(minimum, 2)}."
        raise ValueError(
            f"Expected {name} to be an int >= {minimum}. Received: {name}={value!r}. {fix}"
        )
    return value


def positive_ints(name: str, values: Iterable) -> tuple[int, ...]:
    """``values`` as a non-empty tuple of ints >= 1, else a ValueError."""
    values = tuple(values)
    if not values or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ValueError(
            f"Expected {name} to be a non-empty sequence of positive ints. Received: "
            f"{name}={values!r}."
        )
    return values


def true_or_false(name: str, value, *, hint: str = "") -> bool:
    """``value`` if it is True or False (not 1, 0 or "yes"), else a ValueError.

    Example:
        >>> true_or_false("int8", "yes")
        Traceback (most recent call last):
        ValueError: Expected int8 to be True or False. Received: int8='yes'.
    """
    if not isinstance(value, bool):
        suffix = f" {hint}" if hint else ""
        raise ValueError(
            f"Expected {name} to be True or False. Received: {name}={value!r}.{suffix}"
        )
    return value


def one_of(name: str, value, choices: Sequence, *, hint: str = "") -> object:
    """``value`` if it is one of ``choices``, else a ValueError that lists them.

    Example:
        >>> one_of("target", "x86", ("arm", "xcore"))
        Traceback (most recent call last):
        ValueError: Expected target to be one of ('arm', 'xcore'). Received: target='x86'.
    """
    if value not in choices:
        suffix = f" {hint}" if hint else ""
        raise ValueError(
            f"Expected {name} to be one of {tuple(choices)}. Received: {name}={value!r}.{suffix}"
        )
    return value


def finite_float32(what: str, array, fix: str):
    """``array`` as float32, or a ValueError counting its NaN or infinite values.

    Example:
        >>> finite_float32("The images", np.array([1.0, np.nan]), "Pass real images.")
        ValueError: The images contain 1 NaN or infinite values. Pass real images.
    """
    import numpy as np

    array = np.asarray(array).astype(np.float32, copy=False)
    bad = np.count_nonzero(~np.isfinite(array))
    if bad:
        raise ValueError(f"{what} contain {bad} NaN or infinite values. {fix}")
    return array
