"""The project's one error type for bad user input."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np


class InputError(ValueError):
    """Bad input; the message names the parameter and its allowed range.

    The command line prints the message as one line and exits with status 2.
    """


def as_float_array(name: str, value: float | Iterable[float]) -> np.ndarray:
    """``value`` as a float64 array, refusing NaN and non-numbers."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number or a list of numbers, got {value!r}") from None
    if np.isnan(arr).any():
        raise InputError(f"{name} must not be NaN")
    return arr


def check_range(
    name: str,
    value: float | np.ndarray,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise :class:`InputError` unless every entry lies in the interval.

    Example:
        >>> check_range("alpha", 0.5, low=0, high=1, low_open=True, high_open=True)
        >>> check_range("alpha", [0.5, 1.0], low=0, high=1, low_open=True, high_open=True)
        Traceback (most recent call last):
            ...
        intrinsic_rob.core.errors.InputError: alpha must be in (0, 1), got 1
        >>> check_range("radius", 0.0, low=0, low_open=True)
        Traceback (most recent call last):
            ...
        intrinsic_rob.core.errors.InputError: radius must be > 0, got 0
    """
    arr = np.asarray(value, dtype=np.float64)
    below = arr <= low if low_open else arr < low
    above = arr >= high if high_open else arr > high
    bad = below | above | np.isnan(arr)
    if bad.any():
        worst = arr[bad].flat[0]
        raise InputError(f"{name} must be {range_text(low, high, low_open, high_open)}, got {worst:g}")


def range_text(low: float = -math.inf, high: float = math.inf, low_open: bool = False,
               high_open: bool = False) -> str:
    """An interval as error messages state it.

    Example:
        >>> range_text(0, 1, high_open=True), range_text(1), range_text(0, low_open=True)
        ('in [0, 1)', '>= 1', '> 0')
    """
    if math.isfinite(low) and math.isfinite(high):
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if math.isfinite(low):
        return f"{'>' if low_open else '>='} {low:g}"
    if math.isfinite(high):
        return f"{'<' if high_open else '<='} {high:g}"
    return "a number"
