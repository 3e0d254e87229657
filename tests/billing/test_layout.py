"""billing/ shows its parts: named sub-packages with selectors for reads, no ORM query in a
page or API module, and one writer of `Claim.exported_at` (the submission service: a claim
is sent in a batch)."""

import ast
from pathlib import Path

import pytest

BILLING = Path(__file__).resolve().parents[2] / "billing"
PARTS = (
    "close", "claims", "exports", "facts", "fees", "inputs", "progress", "remittances", "setup",
    "submissions",
)  # fmt: skip
TOP_MODULES = {
    "__init__.py",
    "apps.py",
    "models.py",
    "urls.py",
    "http.py",
    "dashboard.py",
    "demo.py",
    "panels.py",
}
TOP_PACKAGES = {*PARTS, "rules", "management", "migrations"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def test_billing_top_level_holds_parts_not_prefixed_modules():
    modules = {p.name for p in BILLING.glob("*.py")}
    packages = {p.name for p in BILLING.iterdir() if (p / "__init__.py").exists()}
    assert modules == TOP_MODULES, "a new billing module belongs in one of its parts"
    assert packages == TOP_PACKAGES


@pytest.mark.parametrize("part", [p for p in PARTS if p != "inputs"])
def test_each_part_has_selectors(part):
    assert (BILLING / part / "selectors.py").exists()


def _orm_uses(path: Path) -> list[str]:
    """`X.objects` and the query methods a view would chain on a queryset or related manager."""
    query_methods = {"filter", "exclude", "aggregate", "annotate", "select_related"}
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            found.append(f"{path.name}:{node.lineno} .objects")
        if isinstance(node, ast.Attribute) and node.attr in query_methods:
            found.append(f"{path.name}:{node.lineno} .{node.attr}(")
    return found


PAGE_AND_API_MODULES = sorted(
    [*BILLING.glob("*/views.py"), *BILLING.glob("*/apis.py"), BILLING / "http.py"]
)


@pytest.mark.parametrize("path", PAGE_AND_API_MODULES, ids=lambda p: str(p.relative_to(BILLING)))
def test_views_and_apis_run_no_query_of_their_own(path):
    assert _orm_uses(path) == [], "move the query to the part's selectors.py or services.py"


def test_the_checks_see_a_query_and_a_write(tmp_path):
    probe = tmp_path / "views.py"
    probe.write_text(
        "def v(claims, c):\n    c.exported_at = 1\n    return Claim.objects.filter()\n"
    )
    assert len(_orm_uses(probe)) == 2
    assert _writes_exported_at(probe)


def _writes_exported_at(path: Path) -> bool:
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.keyword) and node.arg == "exported_at":
            return True
        stored = isinstance(getattr(node, "ctx", None), ast.Store)
        if isinstance(node, ast.Attribute) and node.attr == "exported_at" and stored:
            return True
    return False


def test_only_the_submission_service_marks_claims_exported():
    writers = sorted(
        str(p.relative_to(BILLING))
        for p in BILLING.rglob("*.py")
        if "migrations" not in p.parts and p.name != "models.py" and _writes_exported_at(p)
    )
    assert writers == ["submissions/services.py"]


def test_celery_task_names_survive_the_move():
    from ccm.celery import app

    app.loader.import_default_modules()
    assert {"billing.tasks.month_close", "billing.tasks.month_close_resume_stalled"} <= set(
        app.tasks
    )
