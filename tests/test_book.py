from __future__ import annotations

import ast
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.pipeline import book
from intrinsic_rob.pipeline.profiles import PROFILES, get_profile

from .paths import ROOT

CHAPTERS = book.list_chapters(ROOT)


def test_there_are_chapters():
    assert [c.stem for c in CHAPTERS][:1] == ["01_theory"]


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_committed_notebook_matches_its_source(source):
    problems = book.drift(source, ROOT / "book" / f"{source.stem}.ipynb")
    assert not problems, "book/ is out of date; run `intrinsic-rob book`:\n" + "\n".join(problems)


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_committed_notebook_ran_with_the_quick_profile(source):
    nb = nbformat.read(ROOT / "book" / f"{source.stem}.ipynb", as_version=4)
    assert nb.metadata["papermill"]["parameters"]["profile"] == "quick"
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_drift_detects_an_edited_source(tmp_path):
    source = CHAPTERS[0]
    edited = tmp_path / source.name
    edited.write_text(source.read_text().replace("import warnings", "import warnings  # edited"))
    problems = book.drift(edited, ROOT / "book" / f"{source.stem}.ipynb")
    assert problems and "differs" in problems[0]


def test_drift_detects_an_edited_tag(tmp_path):
    source = CHAPTERS[0]
    edited = tmp_path / source.name
    text = source.read_text()
    assert '# %% tags=["hide-input"]\n' in text
    edited.write_text(text.replace('# %% tags=["hide-input"]\n', "# %%\n", 1))
    problems = book.drift(edited, ROOT / "book" / f"{source.stem}.ipynb")
    assert problems and "tags" in problems[0]


def _assigned(source: str) -> dict:
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
    }


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_committed_notebook_shows_the_parameters_in_effect_once(source):
    """The book shows one parameters cell: papermill's, with every value in effect, collapsed.

    The chapter's own cell (the defaults) stays in the notebook for nbval and the drift
    check but is tagged remove-cell; the injected cell and the set-up cell after it are
    collapsed (hide-input).
    """
    path = ROOT / "book" / f"{source.stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    defaults = [i for i, t in enumerate(tags) if "parameters" in t]
    injected = [i for i, t in enumerate(tags) if book.INJECTED_TAG in t]
    assert len(defaults) == len(injected) == 1 and injected[0] == defaults[0] + 1
    assert book.HIDDEN_TAG in tags[defaults[0]]
    assert not {book.HIDDEN_TAG, "remove-input", "hide-cell"} & set(tags[injected[0]])
    assert book.COLLAPSED_TAG in tags[injected[0]]  # shown, one click away
    shown = _assigned(nb.cells[injected[0]].source)
    declared = book.declared_parameters(book.read_chapter(source))
    assert list(shown) == list(declared)
    assert shown == nb.metadata["papermill"]["parameters"]
    assert shown == book.effective_parameters(book.read_chapter(source), source.stem, shown["profile"])
    assert "hide-input" in tags[injected[0] + 1] and nb.cells[injected[0] + 1].cell_type == "code"
    # the committed notebook is what the pipeline writes: tagging it again changes nothing
    assert nbformat.writes(book.present_for_book(nb)) == path.read_text(encoding="utf-8")


TINY_CHAPTER = """\
# %% [markdown]
# # A tiny chapter

# %% tags=["parameters"]
profile = "quick"
seed = 0
note = "default"

# %% tags=["hide-input"]
print(profile, seed, note)
"""


def test_pipeline_shows_the_injected_parameters_and_hides_the_defaults(tmp_path):
    """execute_chapter on a tiny chapter: the defaults cell is tagged remove-cell, the
    injected cell lists every parameter with its value in effect, and drift is clean."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "book").mkdir()
    source = tmp_path / "chapters" / "99_tiny.py"
    source.write_text(TINY_CHAPTER)
    target = book.execute_chapter(source, tmp_path, "paper", progress=False)
    nb = nbformat.read(target, as_version=4)
    assert [c.metadata.get("tags") for c in nb.cells[1:]] == [
        ["parameters", "remove-cell"],
        ["injected-parameters", "hide-input"],
        ["hide-input"],
    ]
    assert _assigned(nb.cells[2].source) == {"profile": "paper", "seed": 0, "note": "default"}
    assert nb.cells[3].outputs[0]["text"] == "paper 0 default\n"
    assert book.drift(source, target) == []
    assert target.read_text(encoding="utf-8") == nbformat.writes(nb)


def test_a_failing_chapter_names_its_line_and_keeps_its_notebook(tmp_path):
    """A bare assert has no message: the error names the cell's line instead. The executed
    notebook, with the error, is kept in results/<profile>/failed/; book/ gets nothing."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "book").mkdir()
    source = tmp_path / "chapters" / "99_tiny.py"
    source.write_text(TINY_CHAPTER + "\n# %%\nvalues = [1, 2]\nassert sum(values) == 4\n")
    with pytest.raises(book.ChapterFailed) as failure:
        book.execute_chapter(source, tmp_path, "paper", progress=False)
    assert str(failure.value) == "cell 4, line 2 `assert sum(values) == 4`: AssertionError"
    kept = tmp_path / "results" / "paper" / "failed" / "99_tiny.ipynb"
    assert failure.value.notebook == kept
    errors = [o for c in nbformat.read(kept, as_version=4).cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert [e["ename"] for e in errors] == ["AssertionError"]
    assert not (tmp_path / "book" / "99_tiny.ipynb").exists()
    assert [p.name for p in (tmp_path / "book").iterdir()] == []
    source.write_text(TINY_CHAPTER)  # mended: the next run succeeds and the stale notebook goes
    book.execute_chapter(source, tmp_path, "paper", progress=False)
    assert not kept.exists() and (tmp_path / "book" / "99_tiny.ipynb").is_file()


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_effective_parameters_are_the_profile_over_the_defaults(source):
    nb = book.read_chapter(source)
    declared = book.declared_parameters(nb)
    params = book.effective_parameters(nb, source.stem, "paper", {"seed": 7})
    assert list(params) == list(declared)
    assert params["profile"] == "paper" and params["seed"] == 7
    for name, value in get_profile("paper").parameters(source.stem).items():
        if name != "seed":
            assert params[name] == value


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_profile_parameters_are_declared_by_the_chapter(profile, source):
    nb = book.read_chapter(source)
    params = book.chapter_parameters(nb, source.stem, profile)
    assert params["profile"] == profile


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_each_value_is_written_once_in_its_profile(source):
    """The chapter declares every profiled parameter as None; its values live in the profiles only."""
    declared = book.declared_parameters(book.read_chapter(source))
    profiled = set(get_profile("quick").parameters(source.stem)) - {"profile"}
    assert profiled <= set(declared)
    assert {k: declared[k] for k in profiled} == dict.fromkeys(profiled)
    assert set(get_profile("paper").parameters(source.stem)) == set(get_profile("quick").parameters(source.stem))


def test_unknown_profile_and_parameter_are_clear_errors():
    with pytest.raises(InputError, match="profile must be one of"):
        get_profile("nope")
    nb = book.read_chapter(CHAPTERS[0])
    with pytest.raises(InputError, match="'bogus' is not a parameter"):
        book.chapter_parameters(nb, CHAPTERS[0].stem, "quick", {"bogus": 1})
    with pytest.raises(InputError, match="chapter must be one of"):
        book.list_chapters(ROOT, ["99_missing"])


def _pins(specs):
    return {re.split(r"[=<>!~\[ ]", s, maxsplit=1)[0].lower(): s.replace(" ", "") for s in specs}


def test_environment_yml_in_step_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = [s for s in pip_section if not s.startswith("-")]
    assert _pins(listed) == _pins(wanted)
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python == "python=3.11"


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + [s for v in project["optional-dependencies"].values() for s in v]
    assert all("==" in s for s in specs), specs


@pytest.fixture(scope="module")
def built_html(tmp_path_factory) -> Path:
    """One strict build of the book per test session, shared by the tests that read it."""
    return book.build_html(ROOT, output=tmp_path_factory.mktemp("book"), strict=True)


@pytest.mark.book
def test_book_builds_with_warnings_as_errors(built_html):
    html = built_html
    assert (html / "index.html").exists()
    for source in CHAPTERS:
        page = (html / f"{source.stem}.html").read_text()
        assert "Traceback" not in page
    assert "Fawzi" in (html / "bibliography.html").read_text()


class _PageParser(HTMLParser):
    """Collects a page's <script src>, resource <link href>, <img src>, inline scripts and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.resources: list[str] = []
        self.inline: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
            if attrs.get("src"):
                self.scripts.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            rel = set((attrs.get("rel") or "").lower().split())
            if rel & {"stylesheet", "preload", "modulepreload", "icon", "shortcut"}:
                self.resources.append(attrs["href"])
        elif tag == "img" and attrs.get("src"):
            self.resources.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        (self.inline if self._in_script else self.text).append(data)


def _parse(page: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


@pytest.mark.book
def test_book_loads_nothing_from_outside_the_build(built_html):
    """Every page works offline: scripts (MathJax included), stylesheets, fonts and
    images come from the build, and the MathJax the pages load is in it."""
    pages = sorted(built_html.rglob("*.html"))
    assert pages
    outside, mathjax = [], set()
    for page in pages:
        parsed = _parse(page)
        for url in parsed.scripts + parsed.resources:
            if _EXTERNAL.match(url) and not url.startswith("data:"):
                outside.append(f"{page.relative_to(built_html)}: {url}")
            elif "mathjax" in url.lower():
                mathjax.add((page.parent / url.split("?")[0].split("#")[0]).resolve())
    assert not outside, "the built book loads from outside itself:\n" + "\n".join(outside)
    assert mathjax, "no page loads MathJax"
    for path in mathjax:
        assert path.is_file() and path.is_relative_to(built_html.resolve()), path
    # the chapters load it, with the book's macros (_config.yml mathjax3_config)
    for source in CHAPTERS:
        parsed = _parse(built_html / f"{source.stem}.html")
        assert any("mathjax" in s.lower() for s in parsed.scripts), source.stem
        assert any("window.MathJax" in s and "AdvRisk" in s for s in parsed.inline), source.stem


@pytest.mark.book
@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_book_page_shows_parameters_once_and_collapses_set_up(built_html, source):
    parsed = _parse(built_html / f"{source.stem}.html")
    text = "".join(parsed.text)
    assert text.count('profile = "quick"') == 1
    assert "# Parameters" in text
    assert "tag_hide-input" in (built_html / f"{source.stem}.html").read_text(encoding="utf-8")


@pytest.mark.book
def test_landing_page_shows_the_headline_results(built_html):
    """The landing page pastes Table 3 (chapter 4), Figure 2 (chapter 5) and the bracket (chapter 6) and links their
    chapters."""
    page = (built_html / "intro.html").read_text(encoding="utf-8")
    headline = page[page.index("Headline results"):page.index('id="chapters"')]
    assert "<table" in headline, "no Table 3 on the landing page"
    assert headline.count("<img") >= 2, "no Figure 2 or no bracket on the landing page"
    assert all(f'href="{c}.html"' in headline for c in ("04_robust", "05_in_distribution", "06_bracket"))


@pytest.mark.book
@pytest.mark.parametrize("source", [c for c in CHAPTERS if int(c.stem[:2]) <= 8], ids=lambda p: p.stem)
def test_page_opens_with_findings_before_any_code(built_html, source):
    """On the page, the findings come first: the Findings box precedes the first code cell."""
    page = (built_html / f"{source.stem}.html").read_text(encoding="utf-8")
    findings = page.find("Findings</p>")
    first_code = page.find('class="cell docutils container')
    assert findings != -1, f"{source.stem}: no Findings box"
    assert first_code == -1 or findings < first_code, f"{source.stem}: code comes before the findings"


def _chromium() -> str | None:
    import shutil

    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.mark.book
@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed (apt-get install chromium): "
                                              "the pages are not screenshotted")
def test_pages_render_in_a_browser_at_reading_width(built_html, tmp_path):
    """Headless Chromium renders the landing page and chapters 1-8 at 1,300 pixels; the screenshots, kept in
    the test's temporary folder, show each page as a reader first sees it."""
    import subprocess

    from intrinsic_rob.pipeline.plotting import png_width

    pages = ["intro"] + [c.stem for c in CHAPTERS if int(c.stem[:2]) <= 8]
    for name in pages:
        shot = tmp_path / f"{name}.png"
        subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1300,1800", f"--screenshot={shot}",
             (built_html / f"{name}.html").as_uri()],
            check=True, capture_output=True, timeout=120)
        data = shot.read_bytes()
        assert png_width(data) == 1300, name
        assert len(data) > 20_000, f"{name}: the screenshot is nearly blank"
