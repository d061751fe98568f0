"""intrinsic_rob: the library behind the reproduction of Zhang, Chen, Gu and Evans (AISTATS 2020).

Modules:
    bounds        Lemma 4.2, Theorems 4.3 and 4.4, the optimisation (A.4), Fawzi et al. (2018)
    isoperimetry  Gaussian sets with exact expansion measures, Monte Carlo checks
    toy           a conditional generative model where every definition is computable
    paper         the values printed in the paper
    profiles      the quick and paper parameter sets
    book          the Jupytext -> papermill -> Jupyter Book pipeline
    results       tidy result tables with provenance
    kernels       torch's CPU code paths pinned, so that numbers agree across x86-64 machines
"""

from .kernels import pin_environment as _pin_environment

__version__ = "0.1.0"

# Before torch's first tensor operation reads them (see kernels); processes started from here inherit them.
_pin_environment()
