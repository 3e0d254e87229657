"""billing/rules stays pure Python (style.md §3): no Django or project app, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "billing" / "rules"
FORBIDDEN_ROOTS = {"django", "rest_framework", "ccm", "patients", "careplans", "timelog"}
CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
}
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden(module: str) -> bool:
    root = module.split(".")[0]
    if root in FORBIDDEN_ROOTS:
        return True
    # Only the engine itself may be imported from the billing app.
    inside = module == "billing.rules" or module.startswith("billing.rules.")
    return root == "billing" and not inside


def _clock_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if (owner_name, node.func.attr) in CLOCK_CALLS or node.func.attr in {"now", "utcnow"}:
            found.append(f"line {node.lineno}: {owner_name}.{node.func.attr}()")
    return found


def test_the_package_has_sources() -> None:
    assert {path.name for path in SOURCES} >= {"types.py", "codes.py", "engine.py", "__main__.py"}


@pytest.mark.parametrize("path", SOURCES, ids=[path.name for path in SOURCES])
def test_no_django_or_project_app_import(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = [name for name in _imported_modules(tree) if _forbidden(name)]
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", SOURCES, ids=[path.name for path in SOURCES])
def test_no_clock_reads(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert not _clock_calls(tree), f"{path.name} reads the clock: {_clock_calls(tree)}"


def test_clock_reads_from_imported_names_are_caught_too() -> None:
    # `from time import time` then `time()` would slip past the attribute check above.
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in {"time", "datetime"}:
                imported = {alias.name for alias in node.names}
                assert not imported & {"time", "time_ns", "monotonic"}, path.name


def test_the_checker_itself_catches_violations() -> None:
    tree = ast.parse("import django.db\nfrom billing.models import Claim\nx = datetime.now()\n")
    assert [name for name in _imported_modules(tree) if _forbidden(name)] == [
        "django.db",
        "billing.models",
        "billing.models.Claim",
    ]
    assert _clock_calls(tree) == ["line 3: datetime.now()"]
    assert _clock_calls(ast.parse("import datetime\ndatetime.date.today()")) == [
        "line 2: date.today()"
    ]
