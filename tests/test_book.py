from __future__ import annotations

import re
import tomllib

import nbformat
import pytest
import yaml

from intrinsic_rob import book
from intrinsic_rob.errors import InputError
from intrinsic_rob.profiles import PROFILES, get_profile

from .conftest import ROOT

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


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_profile_parameters_are_declared_by_the_chapter(profile, source):
    nb = book.read_chapter(source)
    params = book.chapter_parameters(nb, source.stem, profile)
    assert params["profile"] == profile


def test_quick_profile_matches_chapter_defaults():
    for source in CHAPTERS:
        declared = book.declared_parameters(book.read_chapter(source))
        assert get_profile("quick").parameters(source.stem) == {
            k: declared[k] for k in get_profile("quick").parameters(source.stem)
        }


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


@pytest.mark.book
def test_book_builds_with_warnings_as_errors(tmp_path):
    html = book.build_html(ROOT, output=tmp_path, strict=True)
    assert (html / "index.html").exists()
    for source in CHAPTERS:
        page = (html / f"{source.stem}.html").read_text()
        assert "Traceback" not in page
    assert "Fawzi" in (html / "bibliography.html").read_text()
