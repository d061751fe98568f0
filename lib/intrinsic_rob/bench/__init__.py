"""Benchmarks (``intrinsic-rob bench``): speed as ratios against baselines measured in the same run, and
in-distribution attacks compared on distance against budget.

Modules:
    speed    Lipschitz estimation, PGD, robust training and sweeps against their straightforward baselines
    in_dist  minimum-norm in-distribution attacks: median distance and success against propagations
"""
