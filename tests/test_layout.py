"""The library's layout: subpackages by concern, the foundations importing nothing above them, short functions."""

import ast
from pathlib import Path

import pytest

import intrinsic_rob

PACKAGE = Path(intrinsic_rob.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))

#: What each foundational subpackage may import from the project (lazily or not): itself, the paper's values
#: (``paper``, which imports nothing of the project) and those listed.
FOUNDATIONS = {"core": set(), "theory": {"core"}, "attacks": {"core", "theory"}}
MAX_FUNCTION_LINES = 60


def _subpackage(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _imported_subpackages(path: Path) -> set[str]:
    """The project's subpackages (or top-level modules) that ``path`` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("intrinsic_rob."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("intrinsic_rob."))
    return found


def test_only_the_package_file_and_the_papers_values_sit_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "paper.py"], top
    for folder in (p for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert (folder / "__init__.py").is_file(), f"{folder.name} is not a package"
        assert ast.get_docstring(ast.parse((folder / "__init__.py").read_text())), f"{folder.name} has no docstring"


@pytest.mark.parametrize("subpackage", sorted(FOUNDATIONS))
def test_foundations_import_nothing_above_them(subpackage):
    allowed = FOUNDATIONS[subpackage] | {subpackage, "paper"}
    offending = {
        str(path.relative_to(PACKAGE)): sorted(_imported_subpackages(path) - allowed)
        for path in SOURCES if _subpackage(path) == subpackage
    }
    assert not {k: v for k, v in offending.items() if v}, offending


def test_the_papers_values_import_nothing_of_the_project():
    assert _imported_subpackages(PACKAGE / "paper.py") == set()


def test_the_scan_sees_imports():
    """The import scan finds a known dependency (attacks/pgd.py uses theory's geometry), so the check above
    is looking at real imports."""
    assert "theory" in _imported_subpackages(PACKAGE / "attacks" / "pgd.py")


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's length without its docstring: its signature and the statements of its body."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def test_every_function_is_short():
    """Functions stay under 60 lines of code (docstrings, with their examples, are not counted)."""
    long = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) >= MAX_FUNCTION_LINES:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({_code_lines(node)} lines)")
    assert not long, "\n".join(long)


def test_the_length_count_skips_only_the_docstring():
    tree = ast.parse('def f():\n    """Doc.\n\n    More.\n    """\n    a = 1\n    return a\n')
    assert _code_lines(tree.body[0]) == 3
