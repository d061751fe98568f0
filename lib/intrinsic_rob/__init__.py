"""intrinsic_rob: the library behind the reproduction of Zhang, Chen, Gu and Evans (AISTATS 2020).

Subpackages, from the mathematics to the book:
    theory      the paper's bounds and the models where its definitions can be computed exactly
    generators  conditional generators behind one interface (ACGAN, BigGAN-deep, affine)
    data        real MNIST and the generated datasets
    models      classifiers, the training loop, the robust-training methods and their losses
    attacks     PGD-L2 and the in-distribution attacks
    estimators  Lipschitz constants, certified accuracy, in-distribution robustness, recognisability
    pipeline    profiles, runs, caches, results, the book, sweeps and findings
    bench       the benchmarks behind ``intrinsic-rob bench``
    cli         the ``intrinsic-rob`` command
    core        errors, range checks, CPU kernels, devices, progress

The module ``paper`` holds the values the paper prints.
"""

from intrinsic_rob.core.kernels import pin_environment as _pin_environment

__version__ = "0.1.0"

# Before torch's first tensor operation reads them (see kernels); processes started from here inherit them.
_pin_environment()
