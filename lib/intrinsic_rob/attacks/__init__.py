"""Attacks on classifiers, one per module: PGD-L2 (:mod:`.pgd`) for Section 5.3's robust accuracy."""

from .pgd import PGDResult, PGDSettings, pgd_l2, pgd_l2_detailed, robust_accuracy

__all__ = ["PGDResult", "PGDSettings", "pgd_l2", "pgd_l2_detailed", "robust_accuracy"]
