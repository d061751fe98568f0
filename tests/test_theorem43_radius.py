"""Theorem 4.3's hypothesis r * L_i(r) >= eps: the cap on eps / L, the radius as part of
every call, and a scan that no chapter or command computes a bound without it."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtr, ndtri

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.estimators.lipschitz import LipschitzResult, LipschitzSettings
from intrinsic_rob.theory import bounds

ROOT = Path(__file__).resolve().parents[1]
BOUND_FUNCTIONS = {"robustness_bound", "robustness_bound_a4", "adversarial_risk_lower_bound", "table3_bound",
                   "bound_curve"}


def _estimate(value: float, radius: float, label: int = 0) -> LipschitzResult:
    settings = LipschitzSettings(label, 10, 10, radius, 0.001, "sample", "uniform", 0)
    return LipschitzResult(value, np.full(10, value), settings, 100)


def test_cap_applies_exactly_where_eps_exceeds_r_times_l():
    eps = np.array([0.5, 1.0, 1.5, 3.0])
    res = bounds.robustness_bound(0.015, eps, 2.0, radius=0.5, delta=0.001, per_class_risk=True)
    assert res.capped.tolist() == [False, False, True, True]
    # eps / L' is eps / L below the cap and r above it
    assert (eps / res.lipschitz.max(axis=1)).tolist() == pytest.approx([0.25, 0.5, 0.5, 0.5])
    # above the cap the bound is that of eps / L = r, whatever eps is
    at_r = 0.001 + 1 - ndtr(ndtri(0.015) + 0.5)
    assert res.value[2:] == pytest.approx([at_r, at_r], abs=1e-15)
    # and below it the uncapped formula
    assert res.value[0] == pytest.approx(0.001 + 1 - ndtr(ndtri(0.015) + 0.25), abs=1e-15)


def test_capped_bound_is_never_stronger_than_uncapped():
    eps = np.linspace(0, 6, 25)
    lip = [1.0, 2.0, 4.0]
    capped = bounds.robustness_bound(0.05, eps, lip, radius=0.5, per_class_risk=True, per_class_lipschitz=True)
    global_ = bounds.robustness_bound(0.05, eps, lip, radius=None, per_class_risk=True, per_class_lipschitz=True)
    assert np.all(capped.value >= global_.value - 1e-15)
    assert np.any(capped.value > global_.value + 1e-3)
    assert not global_.capped.any()
    # per class: the class with L = 1 is raised first, at eps > 0.5
    assert capped.capped.tolist() == (eps > 0.5).tolist()


def test_no_estimate_of_l_pushes_the_bound_below_the_radius_floor():
    """At r = 0.5, alpha = 0.015, eps = 3: the floor the issue's prose quotes (about 95%)."""
    floor = 0.001 + 1 - ndtr(ndtri(0.015) + 0.5)
    for lip in (0.01, 1.0, 5.9, 6.0):
        got = float(bounds.robustness_bound(0.015, 3.0, lip, radius=0.5, delta=0.001, per_class_risk=True))
        assert got == pytest.approx(floor, abs=1e-15)
    assert 0.95 < floor < 0.96
    above = float(bounds.robustness_bound(0.015, 3.0, 7.0, radius=0.5, delta=0.001, per_class_risk=True))
    assert above > floor


def test_theorem_4_3_lower_bound_is_capped_too():
    res = bounds.adversarial_risk_lower_bound([0.1, 0.2], [0.2, 2.0], [1.0, 3.0], radius=0.5)
    assert res.capped.tolist() == [False, True]
    expected = 0.5 * (ndtr(ndtri(0.1) + 0.5) + ndtr(ndtri(0.2) + 2.0 / 4.0))
    assert res.value[1] == pytest.approx(expected)


def test_a4_form_uses_the_same_cap():
    probs = np.full(10, 0.1)
    res = bounds.robustness_bound_a4(0.15, [1.0, 10.0], 14.9, radius=0.5, class_probs=probs)
    assert res.capped.tolist() == [False, True]
    capped_value = 1 - bounds.solve_a4(0.15, 0.5, probs).value
    assert res.value[1] == pytest.approx(capped_value)


def test_radius_is_required_unless_the_constants_carry_it():
    with pytest.raises(InputError, match="radius is required"):
        bounds.robustness_bound(0.015, 1.0, 5.0, per_class_risk=True)
    with pytest.raises(InputError, match="radius is required"):
        bounds.adversarial_risk_lower_bound(0.1, 1.0, 5.0)
    with pytest.raises(InputError, match="radius must be > 0"):
        bounds.robustness_bound(0.015, 1.0, 5.0, radius=-1.0, per_class_risk=True)


def test_estimates_supply_their_radius():
    per_class = [_estimate(v, 0.5, k) for k, v in enumerate([2.0, 3.0])]
    res = bounds.robustness_bound(0.015, 3.0, per_class, per_class_risk=True)
    assert res.radius == 0.5 and bool(res.capped)
    assert float(res) == pytest.approx(float(bounds.robustness_bound(0.015, 3.0, [2.0, 3.0], radius=0.5,
                                                                      per_class_risk=True)))
    one = bounds.robustness_bound(0.015, [1.0, 2.0], _estimate(3.0, 0.5), per_class_risk=True)
    assert one.capped.tolist() == [False, True]
    local = bounds.robustness_bound(0.015, 2.0, bounds.LocalLipschitz([3.0, 5.0], radius=0.5), per_class_risk=True)
    assert local.radius == 0.5 and not bool(local.capped)
    with pytest.raises(InputError, match="differs"):
        bounds.robustness_bound(0.015, 1.0, per_class, radius=1.0, per_class_risk=True)
    with pytest.raises(InputError, match="different radii"):
        bounds.robustness_bound(0.015, 1.0, [_estimate(2.0, 0.5), _estimate(2.0, 1.0)], per_class_risk=True)


def _bound_calls(path: Path) -> list[tuple[int, ast.Call]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in BOUND_FUNCTIONS:
                calls.append((node.lineno, node))
    return calls


def test_every_chapter_and_command_passes_the_radius():
    """A bound computed from a local constant without its radius would skip Theorem 4.3's
    hypothesis; every call outside bounds.py names it (None only for global constants)."""
    sources = sorted((ROOT / "chapters").glob("*.py")) + sorted((ROOT / "lib" / "intrinsic_rob").rglob("*.py"))
    sources = [p for p in sources if p.name != "bounds.py"]
    checked, missing = 0, []
    for path in sources:
        for line, call in _bound_calls(path):
            checked += 1
            if not any(kw.arg == "radius" for kw in call.keywords):
                missing.append(f"{path.relative_to(ROOT)}:{line}")
    assert checked >= 5, "the scan found too few calls to be looking at the right files"
    assert not missing, "bound computed without radius= at " + ", ".join(missing)
