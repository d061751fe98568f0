"""The distance-against-budget benchmark of in-distribution attacks, on an affine generator."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from intrinsic_rob.bench.in_dist import (
    BASELINE,
    LAGRANGIAN,
    ORIGINAL,
    baseline_record,
    compare_budgets,
    identity_of,
    summarise_distances,
    targets,
    write_baseline_record,
)

from .test_in_distribution import _setup


def test_summary_counts_unfound_examples_as_infinitely_far():
    s = summarise_distances(torch.tensor([1.0, 2.0, float("inf"), float("inf")]), eps=(1.5,))
    assert s["median"] == math.inf and s["mean"] == 1.5 and s["found"] == 0.5 and s["success_eps1.5"] == 0.25
    assert summarise_distances(torch.tensor([3.0, 1.0, 2.0]))["median"] == 2.0


def test_compare_budgets_reads_every_attack_at_every_budget(tmp_path):
    gen, clf, w, z0, y, x = _setup(n=12)
    bench = compare_budgets(gen, clf, x, y, z0, budgets=(20, 100), eps=(0.01, 0.1))
    table = bench.table.set_index(["attack", "budget"])
    assert {(BASELINE, 20), (BASELINE, 100), (LAGRANGIAN, 20), (LAGRANGIAN, 100)} <= set(table.index)
    assert (table.index.get_level_values(0) == ORIGINAL).sum() == 1
    # each budget is a run of its own, as a user asking for that budget gets it
    from intrinsic_rob.attacks import latent_min_norm_attack

    for b in (20, 100):
        alone = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=b).distance
        assert torch.equal(bench.distances[LAGRANGIAN][b], alone)
    assert bench.distances[LAGRANGIAN][100].mean() <= bench.distances[LAGRANGIAN][20].mean()
    assert set(bench.verdict) >= {"target", "stretch"}
    # the recorded baseline is reused only for the same weights, digits, fit and chunk
    identity = identity_of(gen, clf, x, y, {"steps": 0})
    as_record = {b: dict(enumerate(d.tolist())) for b, d in bench.distances[BASELINE].items()}
    path = write_baseline_record(tmp_path / "baseline.csv", as_record, identity, seconds=1.0)
    again, seconds = baseline_record(path, identity)
    assert seconds == 1.0 and all(torch.allclose(torch.tensor([again[b][i] for i in range(12)]), bench.distances[BASELINE][b])
               for b in (20, 100))
    assert baseline_record(path, identity_of(gen, clf, x[:5], y[:5], {"steps": 0})) == ({}, 0.0)
    assert baseline_record(path, identity_of(gen, clf, x, y, {"steps": 0}, chunk=5)) == ({}, 0.0)
    reused = compare_budgets(gen, clf, x, y, z0, budgets=(20, 100), eps=(0.1,),
                             baseline={b: bench.distances[BASELINE][b] for b in (20, 100)})
    assert BASELINE not in reused.seconds  # not rerun


def test_baseline_resumes_from_a_part_recorded_run_with_the_same_distances():
    from intrinsic_rob.bench.in_dist import baseline_distances

    gen, clf, w, z0, y, x = _setup(n=10)
    n = x.shape[0]
    assert n > 8
    whole = baseline_distances(gen, clf, x, y, z0, (20, 60), chunk=4)
    seen = []

    class Stop(Exception):
        pass

    def stop_after_two(done, seconds):
        seen.append({b: dict(v) for b, v in done.items()})
        if len(seen) == 2:
            raise Stop

    with pytest.raises(Stop):
        baseline_distances(gen, clf, x, y, z0, (20, 60), chunk=4, on_chunk=stop_after_two)
    part = seen[-1]
    assert sorted(part[20]) == list(range(8)) and 60 not in part or not part.get(60)
    calls = []
    resumed = baseline_distances(gen, clf, x, y, z0, (20, 60), chunk=4, done=part,
                                 on_chunk=lambda done, s: calls.append(sum(len(v) for v in done.values())))
    assert calls == [n, n + 4, n + 8, 2 * n]  # the missing chunk of budget 20, then budget 60's three
    for b in (20, 60):
        assert torch.equal(resumed[b], whole[b])


def test_targets_say_by_how_much():
    rows = [{"attack": BASELINE, "budget": 50_000, "mean": 2.0, "median": 2.0, "success_eps2": 0.5},
            {"attack": LAGRANGIAN, "budget": 1_000, "mean": 2.03, "median": 2.01, "success_eps2": 0.5},
            {"attack": LAGRANGIAN, "budget": 10_000, "mean": 1.9, "median": 2.1, "success_eps2": 0.6}]
    v = targets(pd.DataFrame(rows))
    assert v["baseline_budget"] == 50_000
    assert v["target"]["met"] is False and v["target"]["median_ratio"] == pytest.approx(1.05)
    assert v["stretch"]["met"] is True and v["stretch"]["mean_ratio"] == pytest.approx(1.015)  # within 2%
    rows[1]["mean"] = 2.05
    assert targets(pd.DataFrame(rows))["stretch"]["met"] is False
    rows[2]["median"] = 1.99
    assert targets(pd.DataFrame(rows))["target"]["met"] is True


def test_in_distribution_distances_are_never_below_the_image_space_ones():
    from intrinsic_rob.attacks import latent_min_norm_attack
    from intrinsic_rob.bench.in_dist import cross_check, image_space_distances

    gen, clf, w, z0, y, x = _setup(n=12)
    image = image_space_distances(clf, x, y, steps=300)
    closed = (x.flatten(1) @ w - 0.5 * float(w.sum())).abs() / w.norm()  # a linear model's image-space minimum
    found = torch.isfinite(image)
    assert int(found.sum()) >= 10  # FMN can miss a digit that lies on the boundary already
    assert bool((image[found] >= closed[found] - 1e-4).all()) and bool((image[found] <= 1.05 * closed[found]).all())
    res = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=500)
    assert torch.isfinite(res.distance).all()
    check = cross_check(res.distance, image)
    # only where FMN found nothing: there the in-distribution example shows the image-space attack was weak
    assert check["violations"] == int((~found).sum()) and check["indices"] == torch.nonzero(~found).flatten().tolist()
    assert check["examples"] == 12 and check["median_ratio"] >= 1
    weak = cross_check(res.distance, 10 * image + 1)  # an image-space attack that missed the nearest points
    assert weak["violations"] == 12 and weak["indices"] == list(range(12))


def test_the_image_space_cross_check_rejects_bad_input():
    from intrinsic_rob.bench.in_dist import cross_check, image_space_distances
    from intrinsic_rob.core.errors import InputError

    gen, clf, w, z0, y, x = _setup(n=3)
    with pytest.raises(InputError, match="steps must be >= 1, got 0"):
        image_space_distances(clf, x, y, steps=0)
    with pytest.raises(InputError, match=r"x must hold images in \[0, 1\]"):
        image_space_distances(clf, x + 2, y)
    with pytest.raises(InputError, match="must have the same shape"):
        cross_check(torch.ones(3), torch.ones(2))
