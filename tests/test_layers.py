"""Layering (style.md §10): apps depend downward only, ccm <- patients <- careplans <- timelog
<- billing; `lint-imports` (make lint) checks the contracts in pyproject.toml. These tests show
the consequence (no cycle between apps once the contract's ignores are set aside) and what
import-linter cannot see: an import inside a function that reaches into another app."""

from __future__ import annotations

import ast
import itertools
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("ccm", "patients", "careplans", "timelog", "billing")  # lowest first

# Cross-app imports inside functions that are still allowed, each with the work that removes it.
# (Heavy optional libraries such as weasyprint and pyx12 may stay lazy, with a why-comment;
# they are not project apps, so this test does not count them.)
TEMPORARY_IN_FUNCTIONS: set[str] = set()


def _layers_contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == "layers")


def _app_edges(graph: grimp.ImportGraph) -> set[tuple[str, str]]:
    edges = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            importer_app, imported_app = module.split(".")[0], imported.split(".")[0]
            if importer_app != imported_app and imported_app in APPS:
                edges.add((importer_app, imported_app))
    return edges


def _cyclic_pairs(edges: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """App pairs that reach each other, directly or through other apps."""
    reach = {app: {b for a, b in edges if a == app} for app in APPS}
    for middle, start in itertools.product(APPS, APPS):  # Warshall's transitive closure
        if middle in reach[start]:
            reach[start] |= reach[middle]
    return [(a, b) for a, b in itertools.combinations(APPS, 2) if b in reach[a] and a in reach[b]]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*APPS, cache_dir=None)


def test_the_layers_contract_lists_the_apps_highest_first() -> None:
    assert _layers_contract()["layers"] == list(reversed(APPS))


def test_no_cycle_between_apps_under_the_contract(graph: grimp.ImportGraph) -> None:
    for expression in _layers_contract()["ignore_imports"]:
        for imp in graph.find_matching_direct_imports(import_expression=expression):
            graph.remove_import(**imp)
    edges = _app_edges(graph)
    assert _cyclic_pairs(edges) == []
    rank = {app: i for i, app in enumerate(APPS)}
    assert sorted((a, b) for a, b in edges if rank[a] < rank[b]) == []


def test_cycles_are_counted_over_pairs() -> None:
    assert _cyclic_pairs({("ccm", "timelog"), ("timelog", "billing"), ("billing", "ccm")}) == [
        ("ccm", "timelog"),
        ("ccm", "billing"),
        ("timelog", "billing"),
    ]
    assert _cyclic_pairs({("billing", "ccm"), ("timelog", "ccm")}) == []


def cross_app_imports_in_functions(path: Path, source: str) -> list[str]:
    """`line: module` for each import of another project app inside a function body."""
    others = set(APPS) - {path.relative_to(ROOT).parts[0]}
    functions = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        # AppConfig.ready() is Django's place for imports that need the models loaded.
        and not (path.name == "apps.py" and node.name == "ready")
    ]
    nested = {
        id(node): node
        for function in functions
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0)
    }
    found = []
    for node in sorted(nested.values(), key=lambda node: node.lineno):
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            modules = [alias.name for alias in node.names]
        found += [f"{node.lineno}: {m}" for m in modules if m.split(".")[0] in others]
    return found


def _sources() -> list[Path]:
    paths = itertools.chain.from_iterable((ROOT / app).rglob("*.py") for app in APPS)
    return sorted(p for p in paths if "migrations" not in p.parts)


def test_no_import_of_another_app_inside_a_function() -> None:
    found = {}
    for path in _sources():
        name = path.relative_to(ROOT).as_posix()
        if any(name.startswith(prefix) for prefix in TEMPORARY_IN_FUNCTIONS):
            continue
        if hits := cross_app_imports_in_functions(path, path.read_text()):
            found[name] = hits
    assert found == {}, "import at module level; if that makes a cycle, the layering is wrong"


def test_the_scan_finds_a_nested_import_of_another_app() -> None:
    source = (
        "from ccm import audit\n"
        "def f():\n"
        "    from billing.months import current_month\n"
        "    from patients import selectors\n"
        "    import weasyprint\n"
        "    def g():\n"
        "        import timelog.models\n"
    )
    path = ROOT / "patients" / "example.py"
    assert cross_app_imports_in_functions(path, source) == [
        "3: billing.months",
        "7: timelog.models",
    ]
