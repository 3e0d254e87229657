"""Writes of patients' insurance coverage: add, change, end (issue 16).

Coverage decides where a month's claim goes and whether the month bills at all (the month
close reads `selectors.coverage_in_force`), so every write goes through the engine-input
helper (`patients.engine_inputs.changing`): the patient's row is locked (two writers of one
patient's coverage take turns, so the overlap check sees the other's row) and the worklist's
stored progress is refreshed before commit. Writes are keyword-only and transactional, check
the role, validate everything before saving (nothing is saved on an error; every field's
problem is reported at once) and are audited with field names only.

`coverage_problems` is the one statement of the rules; the CSV import checks its rows with it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ccm import audit
from ccm.models import Membership, Practice
from ccm.roles import Capability, require
from ccm.tenancy import lock_for_practice_or_404
from patients import engine_inputs
from patients.models import (
    PRIMARY_KINDS,
    Coverage,
    CoverageKind,
    CoveragePriority,
    MspType,
    Patient,
    Payer,
    PayerKind,
)
from patients.validators import normalize_mbi, validate_mbi

ROLE_MESSAGE = "Only admins, coordinators and billers record insurance coverage."
PATIENT_PRACTICE_MESSAGE = "The patient must belong to this practice."
PRIORITY_MESSAGE = "{kind} is {priority} coverage."
KIND_MESSAGE = "Choose one of the coverage kinds."
PAYER_REQUIRED_MESSAGE = "Choose the payer of this coverage."
PAYER_KIND_MESSAGE = "Choose a payer of kind: {kinds}."
PAYER_PRACTICE_MESSAGE = "Choose a payer of this practice."
PAYER_INACTIVE_MESSAGE = "This payer is no longer active; choose an active one."
MEMBER_ID_REQUIRED_MESSAGE = "Enter the member id on the patient's insurance card."
MEMBER_ID_MAX = 80
MEMBER_ID_LENGTH_MESSAGE = f"A member id has at most {MEMBER_ID_MAX} characters."
# What an X12 identifier carries unchanged (837P NM109): the payer gets the id as recorded.
MEMBER_ID_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]*$")
MEMBER_ID_TEXT_MESSAGE = (
    "A member id holds only letters A-Z, digits, spaces and hyphens, as on the card."
)
MBI_REQUIRED_MESSAGE = (
    "Enter the patient's Medicare Beneficiary Identifier (MBI): the patient has none on file."
)
MSP_REQUIRED_MESSAGE = (
    "Choose the Medicare secondary payer type: why the other insurance pays before Medicare."
)
MSP_CHOICE_MESSAGE = "Use one of the Medicare secondary payer type codes: {codes}.".format(
    codes=", ".join(MspType.values)
)
MSP_ONLY_MESSAGE = "A Medicare secondary payer type applies only to other insurance primary."
DATES_MESSAGE = "The end date is before the start date."
END_REQUIRED_MESSAGE = "Enter the last day of the coverage."
OVERLAP_MESSAGE = (
    "These dates overlap the patient's {priority} {kind} coverage {dates}; a patient has one "
    "{priority} coverage at a time. End that coverage first or change these dates."
)

# The payer kinds each coverage kind may name; `PAYER_OPTIONAL`: the payer may be left blank
# (Part B claims go to the practice's Medicare contractor; QMB pays through Medicaid, if known).
PAYER_KINDS: dict[str, frozenset[str]] = {
    CoverageKind.MEDICARE_PART_B: frozenset({PayerKind.MEDICARE}),
    CoverageKind.MEDICARE_ADVANTAGE: frozenset({PayerKind.MEDICARE_ADVANTAGE}),
    CoverageKind.OTHER_PRIMARY: frozenset({PayerKind.COMMERCIAL, PayerKind.OTHER}),
    CoverageKind.MEDICAID: frozenset({PayerKind.MEDICAID}),
    CoverageKind.QMB: frozenset({PayerKind.MEDICAID}),
    CoverageKind.MEDIGAP: frozenset({PayerKind.MEDIGAP}),
    CoverageKind.OTHER_SECONDARY: frozenset({PayerKind.COMMERCIAL, PayerKind.OTHER}),
}
PAYER_OPTIONAL = frozenset({CoverageKind.MEDICARE_PART_B, CoverageKind.QMB})
# The member id is the subscriber id of the claim (837P 2010BA / 2330A NM109): needed for every
# payer billed; Part B's is the MBI (defaulted from the patient's), QMB's may be unknown.
MEMBER_ID_OPTIONAL = frozenset({CoverageKind.MEDICARE_PART_B, CoverageKind.QMB})

_NULLABLE = frozenset({"payer", "ends_on"})
# What a caller may set (priority follows the kind).
COVERAGE_FIELDS = (
    "kind",
    "payer",
    "member_id",
    "group_number",
    "plan_name",
    "msp_type",
    "benefits_assigned",
    "starts_on",
    "ends_on",
)


def priority_of(kind: str) -> str:
    """Primary for Part B, Medicare Advantage and MSP; secondary for the rest."""
    return CoveragePriority.PRIMARY if kind in PRIMARY_KINDS else CoveragePriority.SECONDARY


def payer_kinds_label(kind: str) -> str:
    labels = dict(PayerKind.choices)
    return ", ".join(sorted(str(labels[k]) for k in PAYER_KINDS.get(kind, ())))


def dates_label(starts_on: dt.date, ends_on: dt.date | None) -> str:
    end = f"to {ends_on:%Y-%m-%d}" if ends_on else "with no end date"
    return f"from {starts_on:%Y-%m-%d} {end}"


def coverage_problems(
    coverage: Coverage, *, patient_mbi: str, practice: Practice, new_payer: bool = True
) -> dict[str, str]:
    """Field → the first problem of the coverage's values (kind, priority, payer, member id,
    MSP type, dates); empty when valid. Normalises the member id (Part B: the MBI, defaulted
    from the patient's). No query: the payer is the row already on the coverage. `new_payer`:
    the payer is being chosen now (an inactive one is refused; one kept stays valid)."""
    kind = coverage.kind
    if kind not in CoverageKind.values:
        return {"kind": KIND_MESSAGE}
    errors: dict[str, str] = {}
    expected = priority_of(kind)
    if coverage.priority and coverage.priority != expected:
        label = CoverageKind(kind).label
        errors["priority"] = PRIORITY_MESSAGE.format(kind=label, priority=expected)
    coverage.priority = expected
    payer_error = _payer_problem(coverage, practice, new_payer)
    if payer_error:
        errors["payer"] = payer_error
    member_error = _member_id_problem(coverage, patient_mbi)
    if member_error:
        errors["member_id"] = member_error
    if coverage.msp_type and coverage.msp_type not in MspType.values:
        errors["msp_type"] = MSP_CHOICE_MESSAGE
    elif kind == CoverageKind.OTHER_PRIMARY and not coverage.msp_type:
        errors["msp_type"] = MSP_REQUIRED_MESSAGE
    elif kind != CoverageKind.OTHER_PRIMARY and coverage.msp_type:
        errors["msp_type"] = MSP_ONLY_MESSAGE
    if (
        coverage.ends_on is not None
        and coverage.starts_on
        and coverage.ends_on < coverage.starts_on
    ):
        errors["ends_on"] = DATES_MESSAGE
    return errors


def _payer_problem(coverage: Coverage, practice: Practice, new_payer: bool) -> str | None:
    payer: Payer | None = coverage.payer
    if payer is None:
        return None if coverage.kind in PAYER_OPTIONAL else PAYER_REQUIRED_MESSAGE
    if payer.practice_id != practice.pk:
        return PAYER_PRACTICE_MESSAGE
    if payer.kind not in PAYER_KINDS[coverage.kind]:
        return PAYER_KIND_MESSAGE.format(kinds=payer_kinds_label(coverage.kind))
    if new_payer and not payer.is_active:
        return PAYER_INACTIVE_MESSAGE
    return None


def _member_id_problem(coverage: Coverage, patient_mbi: str) -> str | None:
    coverage.member_id = (coverage.member_id or "").strip()
    if len(coverage.member_id) > MEMBER_ID_MAX:
        return MEMBER_ID_LENGTH_MESSAGE
    if coverage.member_id and not MEMBER_ID_TEXT.match(coverage.member_id):
        return MEMBER_ID_TEXT_MESSAGE
    if coverage.kind != CoverageKind.MEDICARE_PART_B:
        if not coverage.member_id and coverage.kind not in MEMBER_ID_OPTIONAL:
            return MEMBER_ID_REQUIRED_MESSAGE
        return None
    coverage.member_id = normalize_mbi(coverage.member_id or patient_mbi)
    if not coverage.member_id:
        return MBI_REQUIRED_MESSAGE
    try:
        validate_mbi(coverage.member_id)
    except ValidationError as exc:
        return str(exc.messages[0])
    return None


def overlap_problem(coverage: Coverage, others: Iterable[Coverage]) -> str | None:
    """The clash of `coverage` with another coverage of the patient of the same priority
    whose dates overlap (named by its kind and dates), or None."""
    for other in others:
        if other.pk == coverage.pk or other.priority != coverage.priority:
            continue
        starts_before_end = coverage.ends_on is None or other.starts_on <= coverage.ends_on
        ends_after_start = other.ends_on is None or other.ends_on >= coverage.starts_on
        if starts_before_end and ends_after_start:
            return OVERLAP_MESSAGE.format(
                priority=other.get_priority_display().lower(),
                kind=other.get_kind_display(),
                dates=dates_label(other.starts_on, other.ends_on),
            )
    return None


def _validate(practice: Practice, patient: Patient, coverage: Coverage, new_payer: bool) -> None:
    """Every problem at once (ValidationError by field); the overlap check reads the patient's
    other coverage, so callers hold the patient's lock."""
    errors = coverage_problems(
        coverage, patient_mbi=patient.mbi, practice=practice, new_payer=new_payer
    )
    try:
        coverage.full_clean(exclude=["practice", "patient", "payer", "created_by", *errors])
    except ValidationError as exc:
        errors.update({f: str(m[0]) for f, m in exc.message_dict.items() if f not in errors})
    if not errors:
        others = Coverage.objects.for_practice(practice).filter(patient_id=patient.pk)
        clash = overlap_problem(coverage, others)
        if clash:
            errors["starts_on"] = clash
    if errors:
        raise ValidationError({field: [message] for field, message in errors.items()})


def _changing(practice: Practice, patient_id: Any) -> Any:
    # Every month with progress is refreshed: coverage decides whether a month bills, and an
    # open-ended coverage touches every month from its start.
    return engine_inputs.changing(practice=practice, patient_ids=[patient_id])


@transaction.atomic
def coverage_create(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    kind: str,
    starts_on: dt.date,
    priority: str = "",
    payer: Payer | None = None,
    member_id: str = "",
    group_number: str = "",
    plan_name: str = "",
    msp_type: str = "",
    benefits_assigned: bool = True,
    ends_on: dt.date | None = None,
) -> Coverage:
    """Add a coverage to the patient (priority follows the kind; a Part B member id defaults
    to the patient's MBI). Refuses a clash with coverage of the same priority. Audited;
    refreshes the patient's progress."""
    require(actor, Capability.EDIT_COVERAGE, ROLE_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError(PATIENT_PRACTICE_MESSAGE)
    with _changing(practice, patient.pk) as change:
        fresh = change.locked_patient()
        coverage = Coverage(
            practice=practice,
            patient=fresh,
            priority=priority,
            kind=kind,
            payer=payer,
            member_id=member_id,
            group_number=(group_number or "").strip(),
            plan_name=(plan_name or "").strip(),
            msp_type=msp_type or "",
            benefits_assigned=benefits_assigned,
            starts_on=starts_on,
            ends_on=ends_on,
            created_by=actor,
        )
        _validate(practice, fresh, coverage, new_payer=True)
        coverage.save()
        audit.write(actor, coverage, "create", patient_id=fresh.pk)
    return coverage


@transaction.atomic
def coverage_update(
    *, practice: Practice, actor: Membership, coverage: Coverage, data: dict[str, Any]
) -> Coverage:
    """Change a coverage's fields (those of COVERAGE_FIELDS in `data`; the priority follows
    the kind). Unchanged values write nothing. Audited with the changed field names;
    refreshes the patient's progress."""
    return _update(practice, actor, coverage, data, verb="update")


@transaction.atomic
def coverage_end(
    *, practice: Practice, actor: Membership, coverage: Coverage, ends_on: dt.date | None
) -> Coverage:
    """End a coverage on `ends_on` (its last day; may be in the future). Audited as an end;
    refreshes the patient's progress."""
    if ends_on is None:
        raise ValidationError({"ends_on": END_REQUIRED_MESSAGE})
    return _update(practice, actor, coverage, {"ends_on": ends_on}, verb="end")


def _update(
    practice: Practice, actor: Membership, coverage: Coverage, data: dict[str, Any], verb: str
) -> Coverage:
    require(actor, Capability.EDIT_COVERAGE, ROLE_MESSAGE)
    with _changing(practice, coverage.patient_id) as change:
        patient = change.locked_patient()
        fresh = lock_for_practice_or_404(Coverage, practice, coverage.pk)
        tracked = (*COVERAGE_FIELDS, "priority")
        before = {name: getattr(fresh, name) for name in tracked}
        for name in COVERAGE_FIELDS:
            if name in data:
                value = data[name]
                setattr(fresh, name, "" if value is None and name not in _NULLABLE else value)
        fresh.priority = ""  # follows the (possibly new) kind
        new_payer = fresh.payer_id != getattr(before["payer"], "pk", None)
        _validate(practice, patient, fresh, new_payer=new_payer)
        changed = audit.changed(before, {name: getattr(fresh, name) for name in tracked})
        if not changed:
            change.nothing_changed()
            return fresh
        fresh.updated_at = timezone.now()
        fresh.save()
        audit.write(actor, fresh, verb, patient_id=patient.pk, changed_fields=changed)
    return fresh
