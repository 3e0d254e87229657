"""The API's input, pages and audited reads have one home each (issue 15): ccm.api's
`validated`, `paginate`, `read_page` and `read_answer`. An AST walk over every app's API
modules finds a second copy (a serializer validated by hand, a paginator built by hand)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
APPS = ("ccm", "patients", "careplans", "timelog", "billing")
HOME = "ccm/api.py"
# billing.fees validates its settings its own way: unknown keys refused, errors reshaped.
VALIDATES_BY_HAND = {"billing/fees/apis.py"}


def _api_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*apis.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text())


def _calls(tree, name):
    for node in ast.walk(tree):
        called = isinstance(node, ast.Call) and (
            name in (getattr(node.func, "id", None), getattr(node.func, "attr", None))
        )
        if called:
            yield node.lineno


def _found(name, allowed=frozenset()):
    return [
        f"{path}:{line}"
        for path, tree in _api_modules()
        if path not in allowed
        for line in _calls(tree, name)
    ]


def test_api_modules_validate_input_through_the_helper():
    assert _found("is_valid", VALIDATES_BY_HAND) == []


def test_api_modules_paginate_through_the_helper():
    assert _found("Pagination") == []
    assert _found("paginate_queryset") == []


def test_the_walk_finds_what_it_looks_for():
    """The helpers' own calls are found (a walk finding nothing would pass for nothing)."""
    home = ast.parse((ROOT / HOME).read_text())
    assert list(_calls(home, "is_valid"))
    assert list(_calls(home, "paginate_queryset"))
    assert {path for path, _ in _api_modules()} >= {"patients/apis.py", "billing/claims/apis.py"}
    for path in VALIDATES_BY_HAND:
        assert list(_calls(ast.parse((ROOT / path).read_text()), "is_valid")), path
