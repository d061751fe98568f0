"""Range checks for configuration dataclasses, declared beside each field.

A field declared with :func:`bounded` carries its allowed range; a dataclass that
inherits :class:`Checked` checks every such field when it is built, and an out-of-range
value is an :class:`~intrinsic_rob.core.errors.InputError` naming the field and the range.
Every settings dataclass of the library (training, the ACGAN, Algorithm 1) uses this
one validator.
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Integral, Real
from typing import Any

from intrinsic_rob.core.errors import InputError, check_range, range_text

_RANGE = "intrinsic_rob.range"


def bounded(default: Any = dataclasses.MISSING, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False, integer: bool = False,
            optional: bool = False) -> Any:
    """A dataclass field whose value must lie in a range (ends ``None`` are unbounded).

    ``integer`` requires an int; ``optional`` also admits None; ``low_open``/``high_open``
    exclude the end itself.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Example(Checked):
        ...     steps: int = bounded(1, low=1, integer=True)
        ...     rate: float = bounded(0.5, low=0, high=1, high_open=True)
        >>> Example(steps=3).steps
        3
        >>> Example(rate=1.0)
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: rate must be in [0, 1), got 1
    """
    spec = {"low": low, "high": high, "low_open": low_open, "high_open": high_open, "integer": integer,
            "optional": optional}
    return dataclasses.field(default=default, metadata={_RANGE: spec})


def check_value(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False, integer: bool = False,
                optional: bool = False) -> None:
    """Raise :class:`InputError` unless ``value`` is a number of the right kind in the range (see :func:`bounded`).

    The range itself is checked by :func:`intrinsic_rob.core.errors.check_range`, the
    library's one range check.

    Example:
        >>> check_value("epochs", 0, low=1, integer=True)
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: epochs must be >= 1, got 0
        >>> check_value("epochs", 2.5, low=1, integer=True)
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: epochs must be an integer >= 1, got 2.5
    """
    if value is None and optional:
        return
    interval = {"low": -math.inf if low is None else low, "high": math.inf if high is None else high,
                "low_open": low_open, "high_open": high_open}
    if isinstance(value, bool) or not isinstance(value, Integral if integer else Real) \
            or not math.isfinite(float(value)):
        allowed = f"{'an integer ' if integer else 'a finite number '}{range_text(**interval)}"
        raise InputError(f"{name} must be {allowed}{' or None' if optional else ''}, got {value!r}")
    check_range(name, float(value), **interval)


def check_fields(instance: Any) -> None:
    """Check every :func:`bounded` field of a dataclass instance."""
    for f in dataclasses.fields(instance):
        spec = f.metadata.get(_RANGE)
        if spec is not None:
            check_value(f.name, getattr(instance, f.name), **spec)


class Checked:
    """Mixin for dataclasses: ``__post_init__`` checks the fields declared with :func:`bounded`."""

    def __post_init__(self) -> None:
        check_fields(self)
