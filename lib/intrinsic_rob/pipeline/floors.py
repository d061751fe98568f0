"""Floors: what a trained classifier must reach before any conclusion rests on it.

A classifier that has not learned lies on the bound's curve, or far below it, by
construction: a constant classifier has risk 1 - 1/10 and robustness 0 at every epsilon
of its errors, and any gap between an upper bound and it is guaranteed. So every robust
classifier of Section 5.3 has a floor, checked where it is trained (chapter 4 fails with
a one-line reason when a model is below its floor) and again where a conclusion is drawn
(:mod:`intrinsic_rob.pipeline.findings` refuses a model below its floor).

The floors (:data:`FLOORS`, each kept in its method's record in :mod:`intrinsic_rob.models.methods`):
natural accuracy on the generated test digits of at least 90% for Adv-Train and TRADES
(the paper's: 97.2% and 98.3%), at least 70% for LP-Certify (the paper's: 88.3%), whose
own certificate must also hold for some digits (certified accuracy above 0) at epsilon = 1.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import pandas as pd

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.models.methods import METHODS, PAPER_METHODS, Floor, get_method

#: The paper's methods' names as tables print them, in Table 3's order (:data:`~intrinsic_rob.models.methods.PAPER_METHODS`).
METHOD_NAMES: Mapping[str, str] = MappingProxyType({name: METHODS[name].paper_name for name in PAPER_METHODS})

#: Each method's floor (:attr:`~intrinsic_rob.models.methods.Method.floor`).
FLOORS: Mapping[str, Floor] = MappingProxyType({m.name: m.floor for m in METHODS.values()})


class BelowFloor(InputError):
    """A classifier below its floor was given where a conclusion would rest on it."""


def floor_failures(rows: pd.DataFrame) -> list[str]:
    """Why each model in ``rows`` is below its floor: one line per failure, [] when every model meets it.

    ``rows`` is a tidy table of evaluations (columns method, seed, eps, metric, value;
    metric "natural" at eps 0, "certified" per eps), as chapter 4 and its sweep points
    write. A model is one (method, seed). A certified floor with no certified row at its
    epsilon is a failure too: the floor cannot be checked.

    Example:
        >>> rows = pd.DataFrame([
        ...     {"method": "adv", "seed": 0, "eps": 0.0, "metric": "natural", "value": 0.09},
        ...     {"method": "trades", "seed": 0, "eps": 0.0, "metric": "natural", "value": 0.95},
        ...     {"method": "lp", "seed": 0, "eps": 0.0, "metric": "natural", "value": 0.80},
        ...     {"method": "lp", "seed": 0, "eps": 1.0, "metric": "certified", "value": 0.0}])
        >>> for line in floor_failures(rows): print(line)
        Adv-Train (seed 0): natural accuracy 9.0% is below its floor of 90%
        LP-Certify (seed 0): certified accuracy at eps = 1 is 0.0%, and its floor needs some certified digits
    """
    missing = {"method", "seed", "eps", "metric", "value"} - set(rows.columns)
    if missing:
        raise InputError(f"rows must have the columns method, seed, eps, metric and value; missing {sorted(missing)}")
    failures = []
    for (method, seed), model in rows.groupby(["method", "seed"], sort=False):
        registered = get_method(str(method))
        floor, name = registered.floor, f"{registered.paper_name} (seed {seed})"
        natural = model[model["metric"] == "natural"]["value"]
        if natural.empty or float(natural.mean()) < floor.natural:
            shown = "missing" if natural.empty else f"{100 * float(natural.mean()):.1f}%"
            failures.append(f"{name}: natural accuracy {shown} is below its floor of {100 * floor.natural:g}%")
        if floor.certified_eps is not None:
            certified = model[(model["metric"] == "certified") & (model["eps"] == floor.certified_eps)]["value"]
            if certified.empty or float(certified.max()) <= 0:
                shown = "missing" if certified.empty else f"{100 * float(certified.max()):.1f}%"
                failures.append(f"{name}: certified accuracy at eps = {floor.certified_eps:g} is {shown}, "
                                "and its floor needs some certified digits")
    return failures


def check_floors(rows: pd.DataFrame) -> None:
    """Raise :class:`BelowFloor` naming every model of ``rows`` below its floor (:func:`floor_failures`).

    Example:
        >>> check_floors(pd.DataFrame([{"method": "trades", "seed": 0, "eps": 0.0, "metric": "natural",
        ...                             "value": 0.95}]))
        >>> check_floors(pd.DataFrame([{"method": "adv", "seed": 0, "eps": 0.0, "metric": "natural", "value": 0.1}]))
        Traceback (most recent call last):
        ...
        intrinsic_rob.pipeline.floors.BelowFloor: Adv-Train (seed 0): natural accuracy 10.0% is below its floor of 90%
    """
    failures = floor_failures(rows)
    if failures:
        raise BelowFloor("; ".join(failures))
