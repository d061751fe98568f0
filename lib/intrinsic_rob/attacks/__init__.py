"""Attacks on classifiers, one per module: PGD-L2 (:mod:`.pgd`) for Section 5.3's robust
accuracy, and the in-distribution attack (:mod:`.in_distribution`) for Section 5.4."""

from .in_distribution import (InDistributionResult, cw_margin, fit_latent, in_distribution_attack,
                              in_distribution_robustness, not_class_cross_entropy, original_in_distribution_attack)
from .pgd import PGDResult, PGDSettings, pgd_l2, pgd_l2_detailed, robust_accuracy

__all__ = ["InDistributionResult", "PGDResult", "PGDSettings", "cw_margin", "fit_latent", "in_distribution_attack",
           "in_distribution_robustness", "not_class_cross_entropy", "original_in_distribution_attack", "pgd_l2", "pgd_l2_detailed", "robust_accuracy"]
