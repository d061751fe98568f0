"""Every number in a chapter's prose comes from a computation.

Numbers reach the prose through myst-nb ``glue`` roles. What remains after removing glue
roles, math, code, citations, links and references to the paper's numbered parts (Table 1,
Section 5.2, (A.4), ...) must hold no digit, except for the few names in ``ALLOWED``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))

#: Names that contain digits but are not quantities.
ALLOWED = (
    "ImageNet10",
    "BigGAN-deep-128",
    "BigGAN-128",
    "CIFAR-10",
    "sha256",
    "PGD-L2",
    "[0, 1]",
    "[-1, 1]",
    "[0,1]",
    "[-1,1]",
)

_STRIP = [
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S),
    re.compile(r"\$[^$]+\$"),  # inline math
    re.compile(r"\{(?:glue|cite)(?::\w+)?\}`[^`]*`"),  # glue and citation roles
    re.compile(r"`[^`]*`"),  # code spans
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"^\s*:::?.*$", re.M),  # directive lines
    re.compile(r"^#{1,6}\s+\d+(?:\.\d+)*\.?(?=\s)", re.M),  # the chapter's own section numbers
    # references to the paper's numbered parts: Table 1, Tables 1 and 2, Section 5.2, Figure 1(a)
    re.compile(
        r"\b(?:Tables?|Figures?|Sections?|Theorems?|Lemmas?|Remarks?|Algorithms?|Appendix|Appendices|Conditions?|"
        r"Definitions?|Chapters?|defects?|Eqs?\.)\s+(?:[A-Z]\.)?\d+(?:\.\d+)*(?:\([a-z]\))?"
        r"(?:\s*(?:,|and|or|to|-|–)\s*(?:[A-Z]\.)?\d+(?:\.\d+)*(?:\([a-z]\))?)*"
    ),
    re.compile(r"\((?:[A-Z]\.\d+|\d+\.\d+)\)"),  # equation numbers: (4.1), (A.4)
    re.compile(r"\bet al\.,? \(?(?:19|20)\d\d[a-z]?\)?"),  # author-year citations in text
    re.compile(r"\((?:[A-Z][\w-]+(?: (?:and|&) [A-Z][\w-]+)?(?: et al\.)?,? )?(?:19|20)\d\d[a-z]?\)"),
    re.compile(r"[A-Z][\w-]+ (?:and [A-Z][\w-]+ )?\((?:19|20)\d\d[a-z]?\)"),
]


def markdown_cells(path: Path) -> list[tuple[int, str]]:
    """(first line number, text) of each markdown cell of a Jupytext percent file."""
    cells, current, start = [], None, 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith("# %%"):
            if current is not None:
                cells.append((start, "\n".join(current)))
            current, start = ([] if "[markdown]" in line else None), number
        elif current is not None:
            current.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    if current is not None:
        cells.append((start, "\n".join(current)))
    return cells


def stray_numbers(text: str) -> list[str]:
    """Snippets of ``text`` that hold a digit outside glue, math, code, citations and references."""
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    for name in ALLOWED:
        text = text.replace(name, " ")
    return [text[max(m.start() - 30, 0): m.end() + 30].replace("\n", " ") for m in re.finditer(r"\d+", text)]


def test_stripping_keeps_what_it_should():
    assert stray_numbers("the bound is {glue:text}`b:.1f`% at $\\epsilon=3$ (Table 3, Section 5.2, (A.4))") == []
    assert stray_numbers("Fawzi et al. (2018) and {cite:t}`zhang2020` on ImageNet10") == []
    assert stray_numbers("the proof in Appendix A.1 and the optimisation (A.4)") == []
    assert stray_numbers("the paper trained 25 epochs") != []
    assert stray_numbers("about 74%") != []


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_prose_has_no_typed_numbers(chapter):
    found = [f"line {line}: ...{snippet}..." for line, text in markdown_cells(chapter) for snippet in stray_numbers(text)]
    assert not found, f"{chapter.name}: numbers typed into prose (glue them):\n" + "\n".join(found)
