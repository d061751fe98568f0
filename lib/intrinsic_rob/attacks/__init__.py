"""Attacks on classifiers, one per module: PGD-L2 (:mod:`.pgd`) for Section 5.3's robust
accuracy, and for Section 5.4 the in-distribution attack as the paper ran it
(:mod:`.in_distribution`) and a minimum-norm augmented Lagrangian in latent space
(:mod:`.latent_min_norm`)."""

from intrinsic_rob.attacks.in_distribution import (
                              InDistributionResult,
                              cw_margin,
                              fit_latent,
                              in_distribution_attack,
                              in_distribution_robustness,
                              not_class_cross_entropy,
                              original_in_distribution_attack,
)
from intrinsic_rob.attacks.latent_min_norm import LatentMinNormResult, latent_min_norm_attack
from intrinsic_rob.attacks.pgd import PGDResult, PGDSettings, pgd_l2, pgd_l2_detailed, robust_accuracy, robust_outcomes

__all__ = ["InDistributionResult", "LatentMinNormResult", "latent_min_norm_attack", "PGDResult", "PGDSettings", "cw_margin", "fit_latent", "in_distribution_attack",
           "in_distribution_robustness", "not_class_cross_entropy", "original_in_distribution_attack", "pgd_l2", "pgd_l2_detailed", "robust_accuracy", "robust_outcomes"]
