"""The paper's mathematics, checkable without a trained model (Sections 3-4, Appendix A).

Modules:
    bounds        Lemma 4.2, Theorems 4.3 and 4.4, the optimisation (A.4), Fawzi et al. (2018)
    isoperimetry  Gaussian sets with exact expansion measures, Monte Carlo checks
    toy           a conditional generative model where every definition is computable
    geometry      l2 balls: uniform sampling, ratios, gradient steps and projections
"""
