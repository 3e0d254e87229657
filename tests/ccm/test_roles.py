"""The role policy has one home (ccm/roles.py): the table, the checker that keeps role
comparisons out of the rest of the code, and the generated matrix in the docs."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from ccm import roles
from ccm.roles import POLICY, Capability, Role, can, capabilities_of, require, roles_with

ROOT = Path(__file__).resolve().parents[2]
APPS = ("ccm", "patients", "careplans", "timelog", "billing")
A, P, C, B = "admin", "physician", "coordinator", "biller"

# The role sets as the code checked them before the policy had a home (issue 15): changing a
# row here is a change of who may do what, so it is deliberate.
EXPECTED = {
    "view_practice": {A, P, C, B},
    "edit_clinical": {A, P, C},
    "log_time": {A, P, C},
    "manage_others_time": {A},
    "coordinate_care": {C},
    "sign_care_plans": {P},
    "edit_care_plan_templates": {A},
    "bill_as_practitioner": {P},
    "view_billing": {A, P, B},
    "view_dashboard": {A, B},
    "edit_billing_facts": {A, P, B},
    "set_mdm": {A, P},
    "import_other_services": {A, B},
    "close_months": {A, B},
    "reopen_months": {A},
    "update_claims": {A, B},
    "export_claims": {A, B},
    "submit_claims": {A, B},
    "post_remittances": {A, B},
    "edit_coverage": {A, C, B},
    "edit_billing_settings": {A},
    "attest_apcm": {A},
    "manage_practice": {A},
    "manage_members": {A},
    "manage_api_tokens": {A},
    "view_audit": {A},
    "export_practice_data": {A},
    "requires_mfa": {A, B},
}


def test_the_table_is_the_expected_policy() -> None:
    assert {cap.value: set(roles_with(cap)) for cap in Capability} == EXPECTED
    assert set(POLICY) == set(Capability)


def test_roles_keep_their_stored_values() -> None:
    assert Role.values == [A, P, C, B]


@pytest.mark.parametrize("capability", list(Capability))
def test_can_answers_from_the_table_for_a_role_or_a_membership(capability: Capability) -> None:
    for role in Role:
        expected = role.value in EXPECTED[capability.value]
        assert can(role.value, capability) is expected
        assert can(SimpleNamespace(role=role.value), capability) is expected  # type: ignore[arg-type]
    assert can(None, capability) is False
    assert can("someone", capability) is False


def test_require_refuses_with_the_callers_message() -> None:
    from django.core.exceptions import PermissionDenied

    require(SimpleNamespace(role=A), Capability.VIEW_AUDIT, "no")  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied, match="Only physicians"):
        require(SimpleNamespace(role=B), Capability.SIGN_CARE_PLANS, "Only physicians")  # type: ignore[arg-type]


def test_templates_get_every_capability_by_name() -> None:
    perms = capabilities_of(SimpleNamespace(role=B))  # type: ignore[arg-type]
    assert perms["export_claims"] is True
    assert perms["edit_clinical"] is False
    assert set(perms) == set(EXPECTED)


# --- No role checks outside ccm/roles.py ------------------------------------------------------


def _is_role_member(node: ast.AST) -> bool:
    """`Role.ADMIN` and friends (not `Role.choices`/`values`/`labels`)."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Role"
        and node.attr.isupper()
    )


def _is_role_attr(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "role"


def _is_collection_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "id", "") in {"frozenset", "set", "tuple"}
        and bool(node.args)
        and isinstance(node.args[0], ast.Tuple | ast.List | ast.Set)
    )


def _is_role_collection(node: ast.AST) -> bool:
    """A tuple/list/set literal, or frozenset/set/tuple call, made of roles (and starred
    other collections, as in `(*CLINICAL, Role.BILLER)`)."""
    items: list[ast.expr] = []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        items = list(node.elts)
    elif _is_collection_call(node):
        items = list(node.args[0].elts)  # type: ignore[attr-defined]
    plain = [i for i in items if not isinstance(i, ast.Starred)]
    return bool(plain) and all(_is_role_member(i) for i in plain)


def role_checks(source: str) -> list[int]:
    """Lines comparing a role (`.role ==/!=/in/not in`, `== Role.X`) or listing roles."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_role_attr(o) or _is_role_member(o) for o in operands):
                lines.append(node.lineno)
        elif _is_role_collection(node):
            lines.append(getattr(node, "lineno", 0))
    return lines


def _python_files() -> list[Path]:
    files = [p for app in APPS for p in (ROOT / app).rglob("*.py")]
    return [p for p in files if "migrations" not in p.parts and p != ROOT / "ccm" / "roles.py"]


def test_the_checker_catches_each_kind_of_role_check() -> None:
    bad = [
        "ok = m.role == Role.ADMIN",
        "ok = request.membership.role in CLINICAL",
        "ok = actor.role not in roles",
        "ok = role != Role.PHYSICIAN",
        "CLINICAL = (Role.ADMIN, Role.PHYSICIAN)",
        "X = frozenset({Role.ADMIN, Role.BILLER})",
        "ANY = (*CLINICAL, Role.BILLER)",
    ]
    for source in bad:
        assert role_checks(source), source
    assert not role_checks("ok = can(m, Capability.EDIT_CLINICAL)\nx = Role.choices")
    assert not role_checks('ROW = ("a@b.test", Role.ADMIN, "")')


def test_no_role_checks_outside_the_policy() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _python_files()
        for line in role_checks(path.read_text(encoding="utf-8"))
    ]
    assert not found, (
        "Role checks outside ccm/roles.py; name a capability there and use "
        f"can()/require()/capability_required()/ApiView.capability instead: {found}"
    )


# A role compared with a role name (`current_membership.role != "biller"`); showing a role or
# preselecting it in a form is fine.
TEMPLATE_ROLE_CHECK = re.compile(
    r"""\.role\s*(==|!=|in\b|not in\b)\s*["'(]|["']\s*(==|!=)\s*[\w.]*\.role\b"""
)


def test_no_role_checks_in_templates() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / "templates").rglob("*.html")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if TEMPLATE_ROLE_CHECK.search(line)
    ]
    assert not found, f"Templates compare roles; use `perms_cm.<capability>`: {found}"


# --- The matrix in the docs ---------------------------------------------------------------------


def test_the_docs_role_matrix_is_generated_from_the_table() -> None:
    doc = roles.DOC.read_text(encoding="utf-8")
    assert roles.with_matrix(doc) == doc, (
        "docs/architecture.md's role matrix differs from ccm/roles.py: "
        "run `python -m ccm.roles --write` to regenerate it."
    )


def test_the_matrix_has_a_row_per_capability_and_a_column_per_role() -> None:
    rows = roles.role_matrix().splitlines()
    assert len(rows) == 2 + len(Capability)
    assert rows[0].count("|") == len(Role) + 3
    assert (
        "| `sign_care_plans` |  | ✓ |  |  |"
        in rows[2 + list(Capability).index(Capability.SIGN_CARE_PLANS)]
    )
