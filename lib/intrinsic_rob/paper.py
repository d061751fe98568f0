"""Values printed in the paper, kept in one place so that every comparison cites them.

Zhang, Chen, Gu and Evans, "Understanding the Intrinsic Robustness of Image Distributions
using Conditional Generative Models", AISTATS 2020: Tables 1-3, Section 5.2 and Remark 4.5.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Table 1: local Lipschitz constants of the ACGAN per MNIST digit (mean, std over 10 trials).
TABLE1_MNIST_LIPSCHITZ: dict[str, tuple[float, float]] = {
    "digit 0": (7.9, 0.3),
    "digit 1": (8.6, 0.4),
    "digit 2": (8.3, 0.4),
    "digit 3": (7.8, 0.3),
    "digit 4": (10.3, 0.6),
    "digit 5": (11.0, 0.4),
    "digit 6": (9.5, 0.3),
    "digit 7": (7.8, 0.2),
    "digit 8": (9.3, 0.4),
    "digit 9": (10.9, 0.4),
}

#: Table 2: local Lipschitz constants of BigGAN per ImageNet10 class.
TABLE2_IMAGENET10_LIPSCHITZ: dict[str, tuple[float, float]] = {
    "airliner": (13.1, 0.8),
    "jeep": (14.5, 1.1),
    "goldfinch": (11.7, 0.5),
    "tabby cat": (12.4, 0.4),
    "hartebeest": (10.4, 1.1),
    "Maltese dog": (11.3, 0.6),
    "bullfrog": (9.4, 0.3),
    "sorrel": (13.0, 0.3),
    "pirate ship": (13.1, 0.8),
    "pickup": (14.9, 0.9),
}

#: Algorithm 1 settings used for Tables 1 and 2 (Section 5.2): S latent samples, N
#: neighbours each, radius r, delta, and the trials behind each mean and std.
LIPSCHITZ_SAMPLES = 1000
LIPSCHITZ_NEIGHBORS = 2000
LIPSCHITZ_RADIUS = 0.5
LIPSCHITZ_DELTA = 0.001
LIPSCHITZ_TRIALS = 10

#: Table 3's epsilons and the "Our Bound" row, in percent.
TABLE3_EPSILONS: tuple[float, ...] = (1.0, 2.0, 3.0)
TABLE3_BOUND_PERCENT: dict[str, tuple[float, ...]] = {
    "generated MNIST": (98.2, 97.8, 97.2),
    "ImageNet10": (83.5, 81.8, 80.0),
}


@dataclass(frozen=True)
class BoundSetting:
    """The inputs the paper fed to Theorem 4.4 for one dataset's row of Table 3."""

    dataset: str
    alpha: float
    lipschitz: dict[str, tuple[float, float]]
    delta: float = LIPSCHITZ_DELTA
    radius: float = LIPSCHITZ_RADIUS

    @property
    def lipschitz_means(self) -> list[float]:
        return [mean for mean, _ in self.lipschitz.values()]


#: Section 5.3: alpha = 0.015 for generated MNIST and 0.15 for ImageNet10.
TABLE3_SETTINGS: tuple[BoundSetting, ...] = (
    BoundSetting("generated MNIST", 0.015, TABLE1_MNIST_LIPSCHITZ),
    BoundSetting("ImageNet10", 0.15, TABLE2_IMAGENET10_LIPSCHITZ),
)

#: Section 5.2: Algorithm 1 on an unconditional GAN trained on MNIST.
UNCONDITIONAL_MNIST_LIPSCHITZ = 27.01

#: Section 5.2: with that constant the Fawzi et al. (2018) bound is "vacuous (above 1)" for eps <= 3.0.
UNCONDITIONAL_FAWZI_VACUOUS_EPS = 3.0

#: Remark 4.5: with eps / L_max = 1 and risk at least 5%, robust accuracy is at most "75%".
REMARK_4_5 = {"eps_over_l": 1.0, "alpha": 0.05, "stated_percent": 75.0}

#: Section 5.1: the ACGAN maps a 100-dimensional latent (plus a one-hot label) to 28x28
#: MNIST digits; BigGAN-128 maps a 120-dimensional latent to 128x128 images, which the
#: paper down-sampled to 32x32.
ACGAN_Z_DIM = 100
MNIST_IMAGE_SIDE = 28
BIGGAN_Z_DIM = 120
BIGGAN_IMAGE_SIDE = 128
IMAGENET10_IMAGE_SIDE = 32

#: The real MNIST training set the paper's ACGAN was trained on.
REAL_MNIST_TRAIN_SIZE = 60_000

#: The original implementation's ACGAN training length and batch size.
ACGAN_EPOCHS = 25
ACGAN_BATCH_SIZE = 64

#: Section 5.3: (train, test) sizes of the generated datasets.
GENERATED_MNIST_SIZES: tuple[int, int] = (60_000, 10_000)
GENERATED_IMAGENET10_SIZES: tuple[int, int] = (50_000, 10_000)

# --- Appendix B.1: Table 4 (robust training) and Table 5 (PGD evaluation) ---------------
# Keyed by the library's dataset names ("mnist" is the generated MNIST, "imagenet10" the
# generated ImageNet10) and method names ("lp" LP-Certify, "adv" Adv-Train, "trades").
# None where the table prints "-". Settings the paper does not print (batch size 128,
# momentum 0.9, ImageNet10's weight decay 2e-4, the learning-rate schedule) come from the
# original implementation and live in intrinsic_rob.models.robust, not here.

#: Table 4: epsilon (l2), optimiser, learning rate, epochs, attack step size, attack steps, beta.
TABLE4_ROBUST_TRAINING: dict[tuple[str, str], dict[str, float | int | str | None]] = {
    ("mnist", "lp"): {"eps": 2.0, "optimizer": "adam", "lr": 0.001, "epochs": 60,
                      "step_size": None, "steps": None, "beta": None},
    ("mnist", "adv"): {"eps": 3.0, "optimizer": "sgd", "lr": 0.05, "epochs": 100,
                       "step_size": 0.5, "steps": 40, "beta": None},
    ("mnist", "trades"): {"eps": 3.0, "optimizer": "sgd", "lr": 0.05, "epochs": 100,
                          "step_size": 0.5, "steps": 40, "beta": 6.0},
    ("imagenet10", "adv"): {"eps": 3.0, "optimizer": "sgd", "lr": 0.01, "epochs": 100,
                            "step_size": 0.5, "steps": 10, "beta": None},
    ("imagenet10", "trades"): {"eps": 3.0, "optimizer": "sgd", "lr": 0.01, "epochs": 100,
                               "step_size": 0.5, "steps": 10, "beta": 6.0},
}

#: Appendix B.1 (text): LP-Certify trained with batch size 50.
TABLE4_LP_BATCH_SIZE = 50

#: Table 5: PGD-L2 evaluation, epsilon -> (step size, steps); the same for both datasets.
TABLE5_PGD: dict[float, tuple[float, int]] = {1.0: (0.1, 100), 2.0: (0.3, 100), 3.0: (0.5, 100)}


def table5_step_size(eps: float) -> float:
    """PGD-L2's step for ``eps``: Table 5's where it gives one, else eps / 6 (between its 1/10 and 1/6).

    Example:
        >>> table5_step_size(2.0), table5_step_size(1.5)
        (0.3, 0.25)
    """
    return TABLE5_PGD.get(float(eps), (float(eps) / 6.0, 0))[0]

#: Table 3's measured rows, in percent (mean, std over 10 trials): per (dataset, method),
#: natural accuracy and PGD-L2 robust accuracy at eps 1, 2 and 3.
TABLE3_ROBUST_PERCENT: dict[tuple[str, str], dict[str | float, tuple[float, float]]] = {
    ("mnist", "lp"): {"natural": (88.3, 0.2), 1.0: (74.0, 0.4), 2.0: (51.1, 0.6), 3.0: (23.5, 0.3)},
    ("mnist", "adv"): {"natural": (97.2, 0.2), 1.0: (93.1, 0.2), 2.0: (83.5, 0.3), 3.0: (58.9, 0.4)},
    ("mnist", "trades"): {"natural": (98.3, 0.1), 1.0: (94.8, 0.2), 2.0: (81.8, 0.4), 3.0: (57.7, 0.4)},
    ("imagenet10", "adv"): {"natural": (82.1, 0.3), 1.0: (67.8, 0.3), 2.0: (47.1, 0.4), 3.0: (23.4, 0.4)},
    ("imagenet10", "trades"): {"natural": (83.4, 0.3), 1.0: (68.5, 0.3), 2.0: (49.1, 0.5), 3.0: (27.8, 0.5)},
}
