"""The book's figures: one palette and marker table, sizes that fit the content column, text that stays legible.

The built book shows a figure in its content column, which at a 1,300-pixel window is
:data:`COLUMN_PX` pixels wide for images (sphinx-book-theme, measured in headless
Chromium). A wider image is scaled down to fit, and its text with it: a 13-inch figure
with 11-point tick labels at 100 dpi is shown at 54% and its labels at 8 pixels, below
anything a reader can read. So every chapter draws its figures at most
:data:`COLUMN_IN` inches wide (shown at their own size), with the theme's fonts, and
:func:`setup_figures` records with each figure the numbers that decide its legibility:
its smallest text in points and its dpi. ``tests/test_figures.py`` reads them back from
the executed notebooks, takes the width from the image itself and computes the size of
that text on the page (:func:`shown_text_px`), which must reach :data:`MIN_TEXT_PX`.

Methods are told apart by colour and marker (:data:`METHOD_STYLES`, the Okabe-Ito
palette, which stays distinct for colour-blind readers); bounds and the Lipschitz
estimates behind them are black and grey, told apart by line style
(:data:`ESTIMATE_STYLES`), so that a coloured mark is always a model and a grey line
always a bound, in chapters 3, 4 and 5 alike.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Width in pixels of the book's content column for images, at a 1,300-pixel window.
COLUMN_PX = 704
#: The theme's body text, in pixels.
BODY_TEXT_PX = 16
#: The smallest text a figure may show on the page, in pixels: the theme's "small" size
#: at its 16-pixel body, which its footnote marks use.
MIN_TEXT_PX = 13
#: Resolution of the figures the chapters show.
DPI = 100
#: The widest figure, in inches, that the column shows at its own size.
COLUMN_IN = COLUMN_PX / DPI
#: The key under which a figure's output metadata carries its legibility record.
RECORD_KEY = "intrinsic_rob"


@dataclass(frozen=True)
class Style:
    """How one method or estimate is drawn: its name in legends, colour, marker and line style."""

    label: str
    color: str
    marker: str = "o"
    linestyle: str = "-"

    def line(self) -> dict[str, Any]:
        """Keyword arguments for ``Axes.plot``: colour, marker and line style.

        Example:
            >>> METHOD_STYLES["adv"].line()
            {'color': '#D55E00', 'marker': 'o', 'linestyle': '-'}
        """
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}


#: Robust-training methods: colour and marker, the same in every chapter.
METHOD_STYLES: Mapping[str, Style] = {
    "lp": Style("LP-Certify", "#0072B2", "s"),
    "adv": Style("Adv-Train", "#D55E00", "o"),
    "trades": Style("TRADES", "#009E73", "^"),
}
#: Lipschitz estimates and the bounds computed from them: black or grey, told apart by line style.
ESTIMATE_STYLES: Mapping[str, Style] = {
    "sample": Style("sampled L", "#222222", "o", "-"),
    "gradient": Style("gradient L", "#222222", "D", "--"),
    "paper": Style("paper", "#999999", "x", ":"),
}


def setup_figures() -> None:
    """The chapters' figure settings: seaborn's theme at :data:`DPI`, figures :data:`COLUMN_IN` inches wide by
    default, and (inside IPython) every figure shown as a PNG that carries its legibility record.

    Called by :func:`~intrinsic_rob.pipeline.book.setup_chapter`.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    import seaborn as sns
    from IPython import get_ipython
    from matplotlib.figure import Figure

    shell = get_ipython()
    if shell is not None:
        # The inline backend registers its PNG formatter when pyplot makes its first figure:
        # make one now, so that the theme below and the formatter registered after it win.
        plt.close(plt.figure())
    sns.set_theme(context="notebook", style="whitegrid")
    matplotlib.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "figure.figsize": (COLUMN_IN, 4.2)})
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


def smallest_text_pt(fig: Figure) -> float:
    """The smallest font size, in points, of the text ``fig`` shows (titles, labels, ticks, legends, notes).

    Only visible, non-empty text counts, once the figure is drawn (tick labels exist then).

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> _ = ax.set_xlabel("x", fontsize=12); _ = ax.text(0.5, 0.5, "note", fontsize=9)
        >>> smallest_text_pt(fig) <= 9
        True
        >>> plt.close(fig)
    """
    from matplotlib.text import Text

    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and _inside_figure(t)]
    return float(min(sizes)) if sizes else float("inf")


def _inside_figure(text: Any) -> bool:
    """Whether a text artist lies (at least partly) inside its figure: tick labels beyond an axis' limits are
    made but not drawn."""
    try:
        box = text.get_window_extent()
    except RuntimeError:  # no renderer: count it
        return True
    width, height = text.figure.bbox.width, text.figure.bbox.height
    return box.x1 > 0 and box.y1 > 0 and box.x0 < width and box.y0 < height


def shown_text_px(points: float, image_width_px: int, dpi: float, column_px: int = COLUMN_PX) -> float:
    """The height on the page, in pixels, of text of ``points`` in an image ``image_width_px`` wide drawn at
    ``dpi``: the image is shown at its own size up to ``column_px``, scaled down to it beyond.

    Example:
        >>> round(shown_text_px(11, 704, 100), 1)   # a 7.04-inch figure: shown at its own size
        15.3
        >>> round(shown_text_px(11, 1284, 100), 1)  # 13 inches: shown at 55%
        8.4
    """
    return points / 72.0 * dpi * min(1.0, column_px / image_width_px)


def png_width(data: bytes) -> int:
    """The width in pixels of a PNG image, read from its header.

    Example:
        >>> png_width(b"\\x89PNG\\r\\n\\x1a\\n" + b"\\x00\\x00\\x00\\rIHDR" + (704).to_bytes(4, "big") + bytes(9))
        704
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    return struct.unpack(">I", data[16:20])[0]


def figure_png(fig: Figure) -> tuple[bytes, dict[str, Any]]:
    """IPython's PNG formatter for the chapters' figures: the image (tight bounding box, as the inline backend
    draws it) and its legibility record ({:data:`RECORD_KEY`: {"smallest_text_pt", "dpi"}}) as its metadata."""
    smallest = smallest_text_pt(fig)
    buffer = io.BytesIO()
    fig.canvas.print_figure(buffer, format="png", dpi=fig.dpi, bbox_inches="tight",
                            facecolor=fig.get_facecolor(), edgecolor=fig.get_edgecolor())
    return buffer.getvalue(), {RECORD_KEY: {"smallest_text_pt": smallest, "dpi": float(fig.dpi)}}


def shared_legend(fig: Figure, axes: Sequence[Any], *, ncol: int = 2, **kwargs: Any) -> Any:
    """One legend for a multi-panel figure, below its panels: every label once, in the order the panels first
    draw it. Call after ``tight_layout`` (it makes room beneath the panels).

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> fig, axes = plt.subplots(1, 2)
        >>> for ax in axes:
        ...     _ = ax.plot([0, 1], label="a"); _ = ax.plot([1, 0], label="b")
        >>> [t.get_text() for t in shared_legend(fig, axes).get_texts()]
        ['a', 'b']
        >>> plt.close(fig)
    """
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    rows = -(-len(labels) // ncol)
    # room beneath the panels: one legend row takes about 0.3 inch
    bottom = min(0.6, (0.35 + 0.3 * rows) / fig.get_figheight())
    fig.subplots_adjust(bottom=bottom + 0.08)
    return fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, **kwargs)



def figure2_figure(figure2: Any, curves: Mapping[str, Any], curve_styles: Mapping[str, Mapping[str, Any]],
                   names: Mapping[str, str], *, epsilons: Sequence[float], title: str,
                   max_risk: float = 0.95) -> Figure:
    """Figure 2: one panel per eps (at most three), the fourth holding the legend. Each bound curve (a callable
    of alpha and eps) over the risk, drawn with its ``curve_styles`` entry; each method's kept models at their
    risk, in its colour: in-distribution robustness filled on a solid line, PGD's open on a dotted one,
    LP-Certify's certified accuracy as stars.

    ``figure2`` has one row per model and eps (columns method, epoch, eps, risk, unconstrained,
    in_distribution, certified); ``names`` maps a method to its name in the legend; ``max_risk`` is the
    largest risk shown (models that learned sit near zero, where the default range would crush them).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    alphas = np.linspace(min(0.005, max_risk / 50), max_risk, 80)
    fig, grid = plt.subplots(2, 2, figsize=(COLUMN_IN, 6.8))
    axes = grid.flat[:len(epsilons)]
    for ax, eps in zip(axes, epsilons):
        for name, curve in curves.items():
            ax.plot(100 * alphas, [100 * curve(a, eps) for a in alphas], **curve_styles[name])
        for method, name in names.items():
            pts = figure2[(figure2["method"] == method) & (figure2["eps"] == eps)].sort_values("epoch")
            style = METHOD_STYLES[method]
            ax.plot(100 * pts["risk"], 100 * pts["in_distribution"], **style.line(), zorder=4,
                    label=f"{name}, in distribution")
            ax.plot(100 * pts["risk"], 100 * pts["unconstrained"], color=style.color, marker=style.marker,
                    mfc="none", ls=":", zorder=4, label=f"{name}, PGD")
            if method == "lp":
                ax.plot(100 * pts["risk"], 100 * pts["certified"], color=style.color, marker="*", ms=12, ls="none",
                        zorder=4, label=f"{name}, certified")
        ax.set(title=f"ε = {eps:g}", xlabel="risk α of the model (%)", ylabel="robustness (%)",
               xlim=(-100 * max_risk / 30, 100 * max_risk * 1.05), ylim=(-3, 106))
    legend_ax = grid.flat[len(epsilons)]
    legend_ax.axis("off")
    legend_ax.legend(*axes[0].get_legend_handles_labels(), loc="center", frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

__all__ = [
    "BODY_TEXT_PX", "COLUMN_IN", "COLUMN_PX", "DPI", "ESTIMATE_STYLES", "METHOD_STYLES", "MIN_TEXT_PX", "RECORD_KEY",
    "figure2_figure",
    "Style", "figure_png", "png_width", "setup_figures", "shared_legend", "shown_text_px", "smallest_text_pt",
]
