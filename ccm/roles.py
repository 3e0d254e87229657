"""The role policy: the roles, the capabilities they hold, and the one question `can`.

Every permission check in the code names a capability from this table; no other module
compares roles. Pages use `ccm.pages.page(capability, *methods)` (which wraps
`ccm.tenancy.capability_required`), the API sets `capability` (and
`write_capability`) on its `ApiView`, services call `require`, templates read `perms_cm.<name>`.

The role matrix in docs/architecture.md is generated from `POLICY`:
`python -m ccm.roles --write` rewrites it (a test fails when it drifts).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from django.core.exceptions import PermissionDenied
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    PHYSICIAN = "physician", "Physician"
    COORDINATOR = "coordinator", "Care coordinator"
    BILLER = "biller", "Biller"


class Capability(StrEnum):
    """What a member may do (or is, where the role itself carries meaning, e.g. NPI)."""

    VIEW_PRACTICE = "view_practice"
    EDIT_CLINICAL = "edit_clinical"
    LOG_TIME = "log_time"
    MANAGE_OTHERS_TIME = "manage_others_time"
    COORDINATE_CARE = "coordinate_care"
    SIGN_CARE_PLANS = "sign_care_plans"
    EDIT_CARE_PLAN_TEMPLATES = "edit_care_plan_templates"
    BILL_AS_PRACTITIONER = "bill_as_practitioner"
    VIEW_BILLING = "view_billing"
    VIEW_DASHBOARD = "view_dashboard"
    EDIT_BILLING_FACTS = "edit_billing_facts"
    SET_MDM = "set_mdm"
    IMPORT_OTHER_SERVICES = "import_other_services"
    CLOSE_MONTHS = "close_months"
    REOPEN_MONTHS = "reopen_months"
    UPDATE_CLAIMS = "update_claims"
    EXPORT_CLAIMS = "export_claims"
    SUBMIT_CLAIMS = "submit_claims"
    POST_REMITTANCES = "post_remittances"
    EDIT_COVERAGE = "edit_coverage"
    EDIT_BILLING_SETTINGS = "edit_billing_settings"
    ATTEST_APCM = "attest_apcm"
    MANAGE_PRACTICE = "manage_practice"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_API_TOKENS = "manage_api_tokens"
    VIEW_AUDIT = "view_audit"
    EXPORT_PRACTICE_DATA = "export_practice_data"
    REQUIRES_MFA = "requires_mfa"


# Short names keep the table one line a row.
A, P, C, B = Role.ADMIN, Role.PHYSICIAN, Role.COORDINATOR, Role.BILLER
_CLINICAL = frozenset({A, P, C})
_BILLING = frozenset({A, P, B})
_OFFICE = frozenset({A, B})

# capability -> roles, with what it covers (the "why" shown in the docs' matrix).
POLICY: Mapping[Capability, tuple[frozenset[Role], str]] = {
    Capability.VIEW_PRACTICE: (frozenset(Role), "See patients, worklist, tasks, time"),
    Capability.EDIT_CLINICAL: (_CLINICAL, "Change patients, conditions, consent, care plans"),
    Capability.LOG_TIME: (_CLINICAL, "Log time, run timers, work tasks"),
    Capability.MANAGE_OTHERS_TIME: (frozenset({A}), "Log or change another member's time"),
    Capability.COORDINATE_CARE: (
        frozenset({C}),
        "Worklist first, own items by default, task reminders",
    ),
    Capability.SIGN_CARE_PLANS: (frozenset({P}), "Sign care plans"),
    Capability.EDIT_CARE_PLAN_TEMPLATES: (frozenset({A}), "Change care plan templates"),
    Capability.BILL_AS_PRACTITIONER: (frozenset({P}), "Carry an NPI, bill as practitioner"),
    Capability.VIEW_BILLING: (_BILLING, "See billing months, claims, fees, policy"),
    Capability.VIEW_DASHBOARD: (_OFFICE, "See the practice dashboard"),
    # Billers, and the physicians and admins whose claims they are.
    Capability.EDIT_BILLING_FACTS: (_BILLING, "Record other services and month facts"),
    # R23: the MDM level is the billing practitioner's clinical judgement.
    Capability.SET_MDM: (frozenset({A, P}), "Set a month's medical decision making"),
    Capability.IMPORT_OTHER_SERVICES: (_OFFICE, "Import other services from CSV"),
    Capability.CLOSE_MONTHS: (_OFFICE, "Check and close billing months"),
    Capability.REOPEN_MONTHS: (frozenset({A}), "Reopen a closed month"),
    Capability.UPDATE_CLAIMS: (_OFFICE, "Change claim status"),
    Capability.EXPORT_CLAIMS: (_OFFICE, "Export claims (CSV, 837, PDF)"),
    Capability.SUBMIT_CLAIMS: (_OFFICE, "Create 837 batches; resubmit, correct or void claims"),
    Capability.POST_REMITTANCES: (_OFFICE, "Upload 999, 277CA and 835 files"),
    # Insurance is demographics: the front office and coordinators record it, not clinical.
    Capability.EDIT_COVERAGE: (frozenset({A, C, B}), "Record patients' insurance coverage"),
    Capability.EDIT_BILLING_SETTINGS: (
        frozenset({A}),
        "Change fee schedule, usual charges, policy and billing setup (EDI ids, payers)",
    ),
    # R39: the practice's and its practitioners' APCM attestations gate APCM billing.
    Capability.ATTEST_APCM: (
        frozenset({A}),
        "Record and withdraw the APCM practice and practitioner attestations",
    ),
    Capability.MANAGE_PRACTICE: (frozenset({A}), "Change practice settings"),
    Capability.MANAGE_MEMBERS: (frozenset({A}), "Invite members, change roles"),
    Capability.MANAGE_API_TOKENS: (frozenset({A}), "Issue and revoke API tokens"),
    Capability.VIEW_AUDIT: (frozenset({A}), "Read and export the audit log"),
    # The whole record, clinical notes and audit log included: more than any other role sees.
    Capability.EXPORT_PRACTICE_DATA: (
        frozenset({A}),
        "Download an archive of all the practice's data (issue 19)",
    ),
    Capability.REQUIRES_MFA: (_OFFICE, "Must use MFA when the practice requires it"),
}


class HasRole(Protocol):
    role: str


def roles_with(capability: Capability) -> frozenset[Role]:
    """The roles holding `capability` (for queries such as `role__in=`)."""
    return POLICY[capability][0]


def can(who: HasRole | str | None, capability: Capability) -> bool:
    """Whether a membership (or a bare role value) holds `capability`."""
    if who is None:
        return False
    role = who if isinstance(who, str) else who.role
    return role in roles_with(capability)


def require(actor: HasRole, capability: Capability, message: str) -> None:
    """Services: refuse (PermissionDenied, a 403) unless `actor` holds `capability`."""
    if not can(actor, capability):
        raise PermissionDenied(message)


def capabilities_of(who: HasRole | str | None) -> dict[str, bool]:
    """Every capability by name, for templates (`perms_cm.export_claims`)."""
    return {cap.value: can(who, cap) for cap in Capability}


# --- The role matrix in the docs ------------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
MATRIX_START = "<!-- role-matrix:start -->"
MATRIX_END = "<!-- role-matrix:end -->"


def role_matrix() -> str:
    """The markdown table, capabilities by roles, generated from `POLICY`."""
    head = ["Capability", *(label for _value, label in Role.choices), "What it covers"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cap, (roles, what) in POLICY.items():
        marks = ["✓" if role in roles else "" for role in Role]
        lines.append("| " + " | ".join([f"`{cap.value}`", *marks, what]) + " |")
    return "\n".join(lines) + "\n"


def with_matrix(doc: str) -> str:
    """`doc` with the text between the role-matrix markers replaced by `role_matrix()`."""
    before, rest = doc.split(MATRIX_START, 1)
    _old, after = rest.split(MATRIX_END, 1)
    return f"{before}{MATRIX_START}\n{role_matrix()}{MATRIX_END}{after}"


def main(argv: list[str]) -> None:
    """`python -m ccm.roles` prints the matrix; `--write` puts it into docs/architecture.md."""
    if "--write" in argv:
        DOC.write_text(with_matrix(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(role_matrix())


if __name__ == "__main__":
    main(sys.argv[1:])
