"""From a profile to the book: settings, runs, caches, results, chapters, sweeps and findings.

Modules:
    profiles     the named parameter sets (quick, cpu, paper) that size every chapter's work
    run          where one run reads and writes, read once from the environment
    results      tidy result tables under results/<profile>/ with their provenance
    experiments  chapters 4 and 5's experiments, shared by chapters, commands and sweep points
    book         Jupytext chapter -> papermill -> book/ -> Jupyter Book
    sweep        one notebook executed per grid point, on Dask
    recorded     Table 3 as a recorded profile measured it
    findings     the reproduction's findings, computed from the recorded results
    floors       what a classifier must reach before a conclusion rests on it
    tables       our numbers beside the paper's
    plotting     the figures: one palette, sized for the book's column, legible where shown
"""
