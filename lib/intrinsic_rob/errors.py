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
        intrinsic_rob.errors.InputError: alpha must be in (0, 1), got 1
    """
    arr = np.asarray(value, dtype=np.float64)
    below = arr <= low if low_open else arr < low
    above = arr >= high if high_open else arr > high
    bad = below | above | np.isnan(arr)
    if bad.any():
        interval = f"{'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"
        worst = arr[bad].flat[0]
        raise InputError(f"{name} must be in {interval}, got {worst:g}")


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"
