"""What the paper measures on generators and trained classifiers.

Modules:
    lipschitz         local Lipschitz constants of conditional generators (Algorithm 1, Section 5.2)
    spectral          certified global Lipschitz bounds from spectral norms
    certify           natural and certified accuracy (Section 5.3's LP-Certify column)
    in_dist           in-distribution robustness and Remark 4.6 as a test of the bound (Section 5.4)
    recognisability   whether generated digits are their labels, judged by classifiers of real digits
    concentration     intrinsic robustness from below: half-spaces' expansions measured on fresh samples
"""
