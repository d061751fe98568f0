"""The book as a reader sees it: figures legible where they are shown, results before code, findings up front.

The executed notebooks in book/ carry, with every figure, the record that
:func:`intrinsic_rob.pipeline.plotting.figure_png` writes (its smallest text in points and
its dpi); the image's width is read from the PNG itself. From these and the content
column's width the size of the figure's smallest text on the page follows
(:func:`~intrinsic_rob.pipeline.plotting.shown_text_px`).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest

from intrinsic_rob.pipeline.book import read_chapter
from intrinsic_rob.pipeline.plotting import MIN_TEXT_PX, RECORD_KEY, png_width, shown_text_px

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))
#: Chapters whose first lines must state their findings (the appendices report rather than find).
FINDING_CHAPTERS = [p for p in CHAPTERS if int(p.stem[:2]) <= 8]
#: The longest code cell the page shows in full: the lines a reader would copy.
MAX_VISIBLE_LINES = 15
COLLAPSED = {"hide-input", "remove-input", "remove-cell", "hide-cell", "parameters"}


def _figures(notebook: Path) -> list[tuple[int, bytes, dict]]:
    """(cell index, PNG bytes, output metadata) of every image a notebook shows or glues."""
    found = []
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        for output in cell.get("outputs", []):
            for key, value in output.get("data", {}).items():
                if key.endswith("image/png"):
                    found.append((index, base64.b64decode(value), output.get("metadata", {})))
    return found


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_is_legible_in_the_content_column(source):
    notebook = ROOT / "book" / f"{source.stem}.ipynb"
    problems = []
    for index, png, metadata in _figures(notebook):
        record = metadata.get("image/png", {}).get(RECORD_KEY)
        if record is None:
            problems.append(f"cell {index}: no legibility record (drawn outside the chapter's set-up?)")
            continue
        width = png_width(png)
        shown = shown_text_px(record["smallest_text_pt"], width, record["dpi"])
        if shown < MIN_TEXT_PX:
            problems.append(f"cell {index}: smallest text {record['smallest_text_pt']:g} pt in an image {width} px "
                            f"wide at {record['dpi']:g} dpi shows at {shown:.1f} px, below {MIN_TEXT_PX} px")
    assert not problems, f"{notebook.name}:\n" + "\n".join(problems)


def test_the_legibility_check_fails_a_wide_figure():
    """A 13-inch figure with 11-point text (chapter 5's Figure 2 as it was) is below the legible size, and the
    same text in a figure of the column's width is not."""
    assert shown_text_px(11, 1284, 100) < MIN_TEXT_PX <= shown_text_px(11, 700, 100)


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_code_cells_shown_in_full_are_short(source):
    """Cells that assemble tables, glue values or draw figures are collapsed (hide-input); what stays in view
    is the short code a reader would copy."""
    long = []
    for index, cell in enumerate(read_chapter(source).cells):
        if cell.cell_type != "code" or COLLAPSED & set(cell.metadata.get("tags", [])):
            continue
        lines = len(cell.source.strip().splitlines())
        if lines > MAX_VISIBLE_LINES:
            first = cell.source.strip().splitlines()[0][:60]
            long.append(f"cell {index} ({lines} lines, {first!r})")
    assert not long, f"{source.name}: visible code cells over {MAX_VISIBLE_LINES} lines: " + "; ".join(long)


_ADMONITION = re.compile(r"^:::\{admonition\} Findings\s*$", re.M)


@pytest.mark.parametrize("source", FINDING_CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_opens_with_its_findings(source):
    """The chapter opens with its title alone, then a Findings admonition whose numbers are glued from the
    chapter; the introduction follows."""
    cells = read_chapter(source).cells
    title = cells[0].source.strip().splitlines()
    assert cells[0].cell_type == "markdown" and len(title) == 1 and title[0].startswith("# "), (
        f"{source.name}: the first cell is not the title alone")
    findings = cells[1]
    assert findings.cell_type == "markdown" and _ADMONITION.search(findings.source), (
        f"{source.name}: the cell after the title is not a Findings admonition")
    assert "{glue:" in findings.source, f"{source.name}: the findings quote no computed number"
    glued = _glued_names(ROOT / "book" / f"{source.stem}.ipynb")
    used = set(re.findall(r"\{glue(?::\w+)?\}`([^`:]+)(?::[^`]*)?`", findings.source))  # key[:format]
    assert used <= glued, f"{source.name}: findings use keys the executed chapter never glued: {sorted(used - glued)}"


def _glued_names(notebook: Path) -> set[str]:
    """The keys an executed notebook glued (myst-nb records each in its output's metadata)."""
    return {output["metadata"]["scrapbook"]["name"]
            for cell in nbformat.read(notebook, as_version=4).cells
            for output in cell.get("outputs", []) if "scrapbook" in output.get("metadata", {})}
