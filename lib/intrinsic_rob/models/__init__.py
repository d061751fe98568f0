"""Classifiers and how they are trained: one training loop, the robust-training methods and their losses.

Modules:
    classifiers    architectures and plain training, one cache for every classifier
    training       the one training loop (fit), its checkpoints, exact resumption and snapshots
    methods        the registry of Section 5.3's robust-training methods, one record each
    robust         a robust-training run's settings (Table 4) and the factories its method names
    robust_losses  the robust losses (Adv-Train, TRADES, LP-Certify) and their inner maximisations
"""
