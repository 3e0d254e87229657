"""The billing facts the engine needs beyond time and the chart: other services billed for a
patient (R3, R28-R31) and, per patient-month, CCM billed by another practice (R3) and the
billing practitioner's MDM level (R23).

Writes are keyword-only and transactional: they check the role, validate (nothing is saved
on an error), refuse a closed month (`MonthLocked`, 409 in the API), audit, and refresh the
worklist's stored progress in the same transaction. The reads behind the pages and the API
live here too (the facts have no selectors module of their own). Messages are constants and
never carry PHI.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing.facts.selectors import member_by_npi, month_facts_get, month_locked
from billing.models import MdmLevel, OtherService, PatientMonthFacts
from billing.rules.codes import APCM_CODES, CCM_CODES, OVERSIGHT_CODES, PCM_CODES, TABLE_ORDER
from ccm import audit
from ccm.api_auth import StateConflict
from ccm.models import Membership, Practice
from ccm.months import month_label
from ccm.roles import Capability, can, require
from ccm.validators import validate_npi
from patients import engine_inputs
from patients.models import Patient
from timelog.services import MonthLocked

# R31: codes that never block CCM but are billed beside it and worth recording: TCM, general
# BHI, psychiatric CoCM, remote physiologic monitoring (99455/99456 are not RPM codes).
R31_CODES = (
    "99495",
    "99496",
    "99484",
    "99492",
    "99493",
    "99494",
    "99453",
    "99454",
    "99457",
    "99458",
    "99091",
)
_ESRD = tuple(sorted(OVERSIGHT_CODES - {"G0181", "G0182"}))
_CCM = tuple(sorted(CCM_CODES, key=TABLE_ORDER.__getitem__))
CODE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Advanced primary care management (R30)", tuple(sorted(APCM_CODES))),
    ("Principal care management (R29)", tuple(sorted(PCM_CODES))),
    ("Care plan oversight: home health, hospice (R28)", ("G0181", "G0182")),
    ("ESRD monthly services (R28)", _ESRD),
    ("CCM billed by another practitioner (R3)", _CCM),
    ("TCM, BHI, CoCM, remote monitoring: do not block CCM (R31)", R31_CODES),
)
KNOWN_CODES = frozenset(code for _label, codes in CODE_GROUPS for code in codes)
CODE_LABELS = {
    "G0556": "APCM, 1 condition or fewer",
    "G0557": "APCM, 2 or more chronic conditions",
    "G0558": "APCM, QMB with 2 or more chronic conditions",
    "99424": "PCM, first 30 min by the practitioner",
    "99425": "PCM add-on, by the practitioner",
    "99426": "PCM, first 30 min staff time",
    "99427": "PCM add-on, staff time",
    "G0181": "Home health care plan oversight",
    "G0182": "Hospice care plan oversight",
    "99495": "TCM, moderate complexity",
    "99496": "TCM, high complexity",
    "99484": "General behavioral health integration",
    "99492": "Psychiatric CoCM, first month",
    "99493": "Psychiatric CoCM, later month",
    "99494": "Psychiatric CoCM add-on",
    "99453": "RPM device set-up",
    "99454": "RPM device supply",
    "99457": "RPM management, first 20 min",
    "99458": "RPM management add-on",
    "99091": "Physiologic data review by the practitioner",
}

CODE_MESSAGE = (
    "This code does not interact with CCM, so it is not recorded here. Use an APCM, PCM, "
    "care plan oversight, ESRD, CCM, TCM, BHI, CoCM or remote monitoring code (R3, R28-R31)."
)
FUTURE_SERVICE_MESSAGE = "The date of service cannot be in the future."
PRACTITIONER_MISSING_MESSAGE = (
    "Choose the practitioner who billed the service, or enter an outside practitioner's NPI."
)
PRACTITIONER_BOTH_MESSAGE = "Choose a practitioner of this practice or enter an NPI, not both."
NOT_A_PHYSICIAN_MESSAGE = "Choose a physician of this practice."
DUPLICATE_SERVICE_MESSAGE = "This service is already recorded for this patient on that date."
LOCKED_MESSAGE = "{month} is closed for billing: its other services and month facts are read-only."
WRITE_ROLE_MESSAGE = "Only admins, billers and physicians record billing facts."
MDM_ROLE_MESSAGE = (
    "Only a physician or an admin may set the MDM level: it is a clinical judgement (R23)."
)
MDM_MESSAGE = "Choose low, moderate or high, or leave the MDM level empty."
FUTURE_MONTH_MESSAGE = "Month facts can be set for this month or an earlier one only."
PATIENT_PRACTICE_MESSAGE = "The patient must belong to this practice."


def normalize_code(text: str) -> str:
    return (text or "").strip().upper()


def code_label(code: str) -> str:
    if code in CODE_LABELS:
        return CODE_LABELS[code]
    if code in _ESRD:
        return "ESRD monthly service"
    return "CCM" if code in CCM_CODES else ""


def npi_errors(npi: str) -> list[str]:
    """The NPI's format and check-digit problems (ccm.validators), empty when valid."""
    try:
        validate_npi(npi)
    except ValidationError as exc:
        return list(exc.messages)
    return []


def _check_unlocked(practice: Practice, month: dt.date) -> None:
    if month_locked(practice=practice, month=month):
        raise MonthLocked(LOCKED_MESSAGE.format(month=month_label(month.replace(day=1))))


def _changing(
    practice: Practice, patient_id: Any, *days: dt.date
) -> AbstractContextManager[engine_inputs.Change]:
    # The patient's row lock: concurrent writers for one patient take turns, so the duplicate
    # check and the upsert of month facts see each other's rows. The months of `days` (or one
    # the caller adds) have their progress refreshed.
    return engine_inputs.changing(practice=practice, patient_ids=[patient_id], months=days)


# --- Other services (R3, R28-R31) ----------------------------------------------------------


def _service_errors(
    practice: Practice,
    code: str,
    service_on: dt.date | None,
    practitioner: Membership | None,
    outside_npi: str,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if code not in KNOWN_CODES:
        errors["code"] = [CODE_MESSAGE]
    if service_on is not None and service_on > practice.today():
        errors["service_on"] = [FUTURE_SERVICE_MESSAGE]
    if practitioner is not None and outside_npi:
        errors["outside_npi"] = [PRACTITIONER_BOTH_MESSAGE]
    elif practitioner is not None:
        same = practitioner.practice_id == practice.pk
        if not same or not can(practitioner, Capability.BILL_AS_PRACTITIONER):
            errors["practitioner"] = [NOT_A_PHYSICIAN_MESSAGE]
    elif outside_npi:
        if problems := npi_errors(outside_npi):
            errors["outside_npi"] = problems
    else:
        errors["practitioner"] = [PRACTITIONER_MISSING_MESSAGE]
    return errors


@transaction.atomic
def other_service_create(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    code: str,
    service_on: dt.date,
    practitioner: Membership | None = None,
    outside_npi: str = "",
    note: str = "",
) -> OtherService:
    """Record a service billed for the patient (a member's NPI entered as outside is stored
    as that member). Refuses unknown codes, future dates, duplicates (same code and day) and
    closed months (MonthLocked). Audited; refreshes the month's progress."""
    require(actor, Capability.EDIT_BILLING_FACTS, WRITE_ROLE_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError(PATIENT_PRACTICE_MESSAGE)
    code, outside_npi = normalize_code(code), (outside_npi or "").strip()
    errors = _service_errors(practice, code, service_on, practitioner, outside_npi)
    if errors:
        raise ValidationError(errors)
    if outside_npi:
        member = member_by_npi(practice=practice, npi=outside_npi)
        if member is not None:
            practitioner, outside_npi = member, ""
    service = OtherService(
        practice=practice,
        patient=patient,
        code=code,
        service_on=service_on,
        practitioner=practitioner,
        outside_npi=outside_npi,
        note=(note or "").strip(),
        created_by=actor,
    )
    service.full_clean(exclude=["practice", "patient", "practitioner", "created_by"])
    _check_unlocked(practice, service_on)
    with _changing(practice, patient.pk, service_on):
        duplicate = OtherService.objects.for_practice(practice).filter(
            patient_id=patient.pk, code=code, service_on=service_on
        )
        if duplicate.exists():
            raise StateConflict(DUPLICATE_SERVICE_MESSAGE)
        service.save()
        audit.write(actor, service, "create", patient_id=patient.pk)
    return service


@transaction.atomic
def other_service_delete(*, practice: Practice, actor: Membership, service: OtherService) -> None:
    """Delete a mis-entered service of an open month (a hard delete; the audit event keeps
    who and when). Refreshes the month's progress."""
    require(actor, Capability.EDIT_BILLING_FACTS, WRITE_ROLE_MESSAGE)
    with _changing(practice, service.patient_id) as change:
        locked = (
            OtherService.objects.for_practice(practice)
            .select_for_update()
            .filter(pk=service.pk)
            .first()
        )
        if locked is None:
            change.nothing_changed()
            return  # deleted meanwhile (a second click): nothing left to do
        change.add_month(locked.service_on)
        _check_unlocked(practice, locked.service_on)
        audit.write(actor, locked, "delete", patient_id=locked.patient_id)
        locked.delete()


# --- Month facts (R3, R23) -------------------------------------------------------------------


def month_facts_read(membership: Membership, facts: PatientMonthFacts) -> None:
    """Audit a read of month facts (saved or not: the patient's month was shown)."""
    audit.record_for(
        membership,
        "patientmonthfacts.read",
        object_type=PatientMonthFacts._meta.label_lower,
        object_id="" if facts._state.adding else facts.pk,
        patient_id=facts.patient_id,
    )


@transaction.atomic
def month_facts_set(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    month: dt.date,
    ccm_billed_elsewhere: bool,
    mdm: str | None,
) -> PatientMonthFacts:
    """Set a patient-month's R3 flag and R23 MDM level (admins and physicians change the
    MDM; billers the flag). Refuses future and closed months. Audited with the changed
    field names; refreshes the month's progress. Unchanged values write nothing."""
    require(actor, Capability.EDIT_BILLING_FACTS, WRITE_ROLE_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError(PATIENT_PRACTICE_MESSAGE)
    month, mdm = month.replace(day=1), mdm or ""
    if mdm and mdm not in MdmLevel.values:
        raise ValidationError({"mdm": MDM_MESSAGE})
    if month > practice.this_month():
        raise ValidationError({"month": FUTURE_MONTH_MESSAGE})
    with _changing(practice, patient.pk, month) as change:
        facts = month_facts_get(practice=practice, patient=patient, month=month)
        before = {"ccm_billed_elsewhere": facts.ccm_billed_elsewhere, "mdm": facts.mdm}
        after: dict[str, Any] = {"ccm_billed_elsewhere": bool(ccm_billed_elsewhere), "mdm": mdm}
        changed = audit.changed(before, after)
        if "mdm" in changed:
            require(actor, Capability.SET_MDM, MDM_ROLE_MESSAGE)
        _check_unlocked(practice, month)
        if not changed:
            change.nothing_changed()
            return facts
        verb = "create" if facts._state.adding else "update"
        facts.ccm_billed_elsewhere, facts.mdm = after["ccm_billed_elsewhere"], mdm
        facts.updated_at = timezone.now()
        facts.full_clean(exclude=["practice", "patient"], validate_constraints=False)
        facts.save()
        audit.write(actor, facts, verb, patient_id=patient.pk, changed_fields=changed)
    return facts
