"""Our numbers beside the paper's: the columns every comparison table of the book and the command shares."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import pandas as pd

#: What separates a mean from its standard deviation; the command prints ASCII.
PLUS_MINUS = " ± "
ASCII_PLUS_MINUS = " +- "


def mean_std(mean: float, std: float, digits: int = 3, sep: str = PLUS_MINUS) -> str:
    """'mean ± std' with ``digits`` decimals.

    Example:
        >>> mean_std(7.91234, 0.3, 1)
        '7.9 ± 0.3'
    """
    return f"{mean:.{digits}f}{sep}{std:.{digits}f}"


def mean_std_column(means: Iterable[float], stds: Iterable[float], digits: int = 3,
                    sep: str = PLUS_MINUS) -> list[str]:
    """:func:`mean_std` of each (mean, std) pair.

    Example:
        >>> mean_std_column([1.0, 2.0], [0.1, 0.2], 2)
        ['1.00 ± 0.10', '2.00 ± 0.20']
    """
    return [mean_std(m, s, digits, sep) for m, s in zip(means, stds)]


def paper_column(names: Sequence[str], printed: Mapping[str, tuple[float, float]], digits: int = 1,
                 sep: str = PLUS_MINUS) -> list[str]:
    """The paper's 'mean ± std' for each class name, as printed (Tables 1 and 2: one decimal).

    Example:
        >>> from intrinsic_rob import paper
        >>> paper_column(["digit 0", "digit 5"], paper.TABLE1_MNIST_LIPSCHITZ)
        ['7.9 ± 0.3', '11.0 ± 0.4']
    """
    return [mean_std(*printed[name], digits=digits, sep=sep) for name in names]


def beside_paper(summary: pd.DataFrame, printed: Mapping[str, tuple[float, float]], *, paper_label: str = "paper",
                 digits: int = 3, sep: str = PLUS_MINUS) -> pd.DataFrame:
    """A per-class summary (columns name, mean, std) with 'ours' and the paper's value as text columns.

    Example:
        >>> from intrinsic_rob import paper
        >>> frame = pd.DataFrame({"name": ["digit 0"], "mean": [4.0], "std": [0.25]})
        >>> beside_paper(frame, paper.TABLE1_MNIST_LIPSCHITZ)[["ours", "paper"]].values.tolist()
        [['4.000 ± 0.250', '7.9 ± 0.3']]
    """
    out = summary.copy()
    out["ours"] = mean_std_column(out["mean"], out["std"], digits, sep)
    out[paper_label] = paper_column(list(out["name"]), printed, sep=sep)
    return out
