"""Writes of the patient's medication list (issue 17): add, change, stop a medicine, and a
medication reconciliation that records what was confirmed, changed, stopped or added and
applies it to the list in one transaction.

Every write locks the patient's row first (then the medicines it changes), so two writers of
one patient's list take turns and a reconciliation sees the list it changes. Writes are
keyword-only and transactional, check the role and the practice of every object linked,
validate everything before saving (nothing is saved on an error) and are audited with field
names only (no medicine names in the audit log or in messages).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
    CareContact,
    ChangeAction,
    Medication,
    MedicationChange,
    MedicationReconciliation,
    MedicationSource,
    MedicationStatus,
    Patient,
    ReconciledWith,
)

ROLE_MESSAGE = "Only admins, physicians and coordinators change the medication list."
PATIENT_PRACTICE_MESSAGE = "The patient must belong to this practice."
MEDICATION_PATIENT_MESSAGE = "This medicine is not on this patient's list."
NAME_REQUIRED_MESSAGE = "Enter the medicine's name."
SOURCE_MESSAGE = "Choose where this medicine was found (patient, EHR, pharmacy, discharge…)."
STATUS_MESSAGE = "Choose active, on hold or stopped."
DATES_MESSAGE = "The stop date is before the start date."
STOPPED_MESSAGE = "This medicine is already stopped."
STOP_FUTURE_MESSAGE = "A medicine is stopped today or earlier, not in the future."
WITH_MESSAGE = "Choose with whom the medicines were reconciled."
CONTACT_MESSAGE = "Choose one of this patient's contacts."
ACTION_MESSAGE = "Choose confirm, change or stop for each medicine."
CHANGE_NOTHING_MESSAGE = "Enter the new dose, route, frequency or instructions of this medicine."
TWICE_MESSAGE = "Each medicine is reviewed once in a reconciliation."
EMPTY_MESSAGE = "Review at least one medicine or add one: nothing was reconciled."

# What a caller may set on a medicine.
MEDICATION_FIELDS = (
    "name",
    "rxnorm_code",
    "dose",
    "route",
    "frequency",
    "instructions",
    "prescriber",
    "source",
    "starts_on",
    "stops_on",
    "status",
)
# What a reconciliation may change on a medicine it reviews.
CHANGEABLE_FIELDS = ("dose", "route", "frequency", "instructions")
_NULLABLE = frozenset({"starts_on", "stops_on"})


def _lock_patient(practice: Practice, patient_id: Any) -> Patient:
    # Patient rows are locked by the engine-input helper only (one lock order).
    return engine_inputs.lock_patient_or_404(practice, patient_id)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _validate(medication: Medication) -> None:
    """Every problem at once, by field (ValidationError)."""
    errors: dict[str, str] = {}
    for name in MEDICATION_FIELDS:
        if name not in _NULLABLE and name not in ("source", "status"):
            setattr(medication, name, _text(getattr(medication, name)))
    if not medication.name:
        errors["name"] = NAME_REQUIRED_MESSAGE
    if medication.source not in MedicationSource.values:
        errors["source"] = SOURCE_MESSAGE
    if medication.status not in MedicationStatus.values:
        errors["status"] = STATUS_MESSAGE
    starts, stops = medication.starts_on, medication.stops_on
    if starts is not None and stops is not None and stops < starts:
        errors["stops_on"] = DATES_MESSAGE
    try:
        medication.full_clean(exclude=["practice", "patient", "created_by", *errors])
    except ValidationError as exc:
        errors.update({f: str(m[0]) for f, m in exc.message_dict.items() if f not in errors})
    if errors:
        raise ValidationError({name: [message] for name, message in errors.items()})


def _stop_day(practice: Practice, stops_on: dt.date | None) -> dt.date:
    today = practice.today()
    if stops_on is not None and stops_on > today:
        raise ValidationError({"stops_on": STOP_FUTURE_MESSAGE})
    return stops_on or today


def _new_medication(
    practice: Practice, actor: Membership, patient: Patient, data: dict[str, Any]
) -> Medication:
    values = {name: data[name] for name in MEDICATION_FIELDS if data.get(name) is not None}
    medication = Medication(practice=practice, patient=patient, created_by=actor, **values)
    if medication.status == MedicationStatus.STOPPED:
        medication.stops_on = _stop_day(practice, medication.stops_on)
    _validate(medication)
    return medication


@transaction.atomic
def medication_add(
    *, practice: Practice, actor: Membership, patient: Patient, **data: Any
) -> Medication:
    """Add a medicine to the patient's list (fields: MEDICATION_FIELDS; name and source
    required; active unless told). Audited."""
    require(actor, Capability.EDIT_CLINICAL, ROLE_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError(PATIENT_PRACTICE_MESSAGE)
    fresh = _lock_patient(practice, patient.pk)
    medication = _new_medication(practice, actor, fresh, data)
    medication.save()
    audit.write(actor, medication, "create", patient_id=fresh.pk)
    return medication


def _lock_medication(practice: Practice, medication: Medication) -> Medication:
    _lock_patient(practice, medication.patient_id)
    return lock_for_practice_or_404(Medication, practice, medication.pk)


def _apply(
    practice: Practice, medication: Medication, data: dict[str, Any], fields: Iterable[str]
) -> list[str]:
    """Set the fields of `data` on the (locked) medicine and validate; the changed names."""
    before = {name: getattr(medication, name) for name in MEDICATION_FIELDS}
    for name in fields:
        if name in data:
            value = data[name]
            setattr(medication, name, "" if value is None and name not in _NULLABLE else value)
    if (
        medication.status == MedicationStatus.STOPPED
        and before["status"] != MedicationStatus.STOPPED
    ):
        medication.stops_on = _stop_day(practice, medication.stops_on)
    _validate(medication)
    return audit.changed(before, {name: getattr(medication, name) for name in MEDICATION_FIELDS})


@transaction.atomic
def medication_update(
    *, practice: Practice, actor: Membership, medication: Medication, data: dict[str, Any]
) -> Medication:
    """Change a medicine's fields (those of MEDICATION_FIELDS in `data`). Unchanged values
    write nothing. Audited with the changed field names."""
    require(actor, Capability.EDIT_CLINICAL, ROLE_MESSAGE)
    fresh = _lock_medication(practice, medication)
    changed = _apply(practice, fresh, data, MEDICATION_FIELDS)
    if changed:
        fresh.updated_at = timezone.now()
        fresh.save()
        audit.write(actor, fresh, "update", patient_id=fresh.patient_id, changed_fields=changed)
    return fresh


@transaction.atomic
def medication_stop(
    *,
    practice: Practice,
    actor: Membership,
    medication: Medication,
    stops_on: dt.date | None = None,
) -> Medication:
    """Stop a medicine on `stops_on` (default today, never in the future). Audited as a stop."""
    require(actor, Capability.EDIT_CLINICAL, ROLE_MESSAGE)
    fresh = _lock_medication(practice, medication)
    if fresh.status == MedicationStatus.STOPPED:
        raise ValidationError(STOPPED_MESSAGE)
    data = {"status": MedicationStatus.STOPPED, "stops_on": _stop_day(practice, stops_on)}
    changed = _apply(practice, fresh, data, ("status", "stops_on"))
    fresh.updated_at = timezone.now()
    fresh.save()
    audit.write(actor, fresh, "stop", patient_id=fresh.patient_id, changed_fields=changed)
    return fresh


# --- Reconciliation ----------------------------------------------------------------------


@dataclass
class Review:
    """What a reconciliation decides about one medicine on the list: confirm it, change it
    (the new values of CHANGEABLE_FIELDS given) or stop it."""

    medication_id: Any
    action: str
    changes: dict[str, str] = field(default_factory=dict)


def _detail(before: Medication, after: dict[str, str]) -> str:
    """The change as the history shows it ("dose 10 mg → 20 mg")."""
    parts = []
    for name in CHANGEABLE_FIELDS:
        old, new = getattr(before, name), after.get(name, getattr(before, name))
        if old != new:
            parts.append(f"{name} {old or '—'} → {new or '—'}")
    return "; ".join(parts)[:500]


def _contact(practice: Practice, patient: Patient, contact: CareContact | None) -> None:
    if contact is not None and (
        contact.practice_id != practice.pk or contact.patient_id != patient.pk
    ):
        raise ValidationError({"contact": CONTACT_MESSAGE})


def _reviewed(
    practice: Practice, patient: Patient, reviews: list[Review]
) -> list[tuple[Medication, Review]]:
    """The reviewed medicines, locked, each with its review; refuses another patient's."""
    ids = [str(r.medication_id) for r in reviews]
    if len(set(ids)) != len(ids):
        raise ValidationError(TWICE_MESSAGE)
    found = {
        str(m.pk): m
        for m in Medication.objects.for_practice(practice)
        .filter(patient_id=patient.pk, pk__in=ids)
        .select_for_update()
    }
    if len(found) != len(ids):
        raise ValidationError({"medications": MEDICATION_PATIENT_MESSAGE})
    return [(found[str(r.medication_id)], r) for r in reviews]


def _decide(
    practice: Practice, medication: Medication, review: Review
) -> tuple[str, str, dict[str, str]]:
    """The review as (action, detail, field errors): a confirm whose values differ is a
    change; a change with nothing new is refused."""
    key = str(medication.pk)
    if review.action not in (ChangeAction.CONFIRMED, ChangeAction.CHANGED, ChangeAction.STOPPED):
        return "", "", {key: ACTION_MESSAGE}
    if medication.status == MedicationStatus.STOPPED:
        return "", "", {key: STOPPED_MESSAGE}
    if review.action == ChangeAction.STOPPED:
        return ChangeAction.STOPPED, "", {}
    new = {k: _text(v) for k, v in review.changes.items() if k in CHANGEABLE_FIELDS}
    detail = _detail(medication, new)
    if detail:
        return ChangeAction.CHANGED, detail, {}
    if review.action == ChangeAction.CHANGED:
        return "", "", {key: CHANGE_NOTHING_MESSAGE}
    return ChangeAction.CONFIRMED, "", {}


@transaction.atomic
def medication_reconcile(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    reconciled_with: str,
    contact: CareContact | None = None,
    sources: str = "",
    discrepancies: str = "",
    note: str = "",
    reviews: Sequence[Review] = (),
    additions: Sequence[dict[str, Any]] = (),
) -> MedicationReconciliation:
    """Record a medication reconciliation (who, when, with whom, sources, discrepancies) and
    apply it to the list: each review confirms, changes or stops a medicine, each addition
    adds one; one MedicationChange per line. All or nothing. Audited."""
    require(actor, Capability.EDIT_CLINICAL, ROLE_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError(PATIENT_PRACTICE_MESSAGE)
    fresh = _lock_patient(practice, patient.pk)
    if reconciled_with not in ReconciledWith.values:
        raise ValidationError({"reconciled_with": WITH_MESSAGE})
    _contact(practice, fresh, contact)
    if not reviews and not additions:
        raise ValidationError(EMPTY_MESSAGE)
    now = timezone.now()
    reconciliation = MedicationReconciliation(
        practice=practice,
        patient=fresh,
        reconciled_at=now,
        reconciled_on=practice.today(),
        performed_by=actor,
        reconciled_with=reconciled_with,
        contact=contact,
        sources=_text(sources),
        discrepancies=_text(discrepancies),
        note=_text(note),
    )
    reconciliation.full_clean(exclude=["practice", "patient", "performed_by", "contact"])
    lines = _review_lines(practice, actor, fresh, list(reviews), now)
    lines += _addition_lines(practice, actor, fresh, list(additions))
    reconciliation.save()
    for line in lines:
        line.practice, line.reconciliation = practice, reconciliation
    MedicationChange.objects.for_practice(practice).bulk_create(lines)
    audit.write(actor, reconciliation, "create", patient_id=fresh.pk)
    return reconciliation


def _review_lines(
    practice: Practice,
    actor: Membership,
    patient: Patient,
    reviews: list[Review],
    now: dt.datetime,
) -> list[MedicationChange]:
    """Apply the reviews to the locked medicines; their change lines (unsaved)."""
    errors: dict[str, str] = {}
    decided = []
    for medication, review in _reviewed(practice, patient, reviews):
        action, detail, problems = _decide(practice, medication, review)
        errors.update(problems)
        decided.append((medication, review, action, detail))
    if errors:
        raise ValidationError({k: [m] for k, m in errors.items()})
    lines = []
    for medication, review, action, detail in decided:
        if action == ChangeAction.STOPPED:
            data: dict[str, Any] = {"status": MedicationStatus.STOPPED, "stops_on": None}
            changed = _apply(practice, medication, data, ("status", "stops_on"))
        elif action == ChangeAction.CHANGED:
            changed = _apply(practice, medication, review.changes, CHANGEABLE_FIELDS)
        else:
            changed = []
        if changed:
            medication.updated_at = now
            medication.save()
            audit.write(actor, medication, "update", patient_id=patient.pk, changed_fields=changed)
        lines.append(MedicationChange(medication=medication, action=action, detail=detail))
    return lines


def _addition_lines(
    practice: Practice, actor: Membership, patient: Patient, additions: list[dict[str, Any]]
) -> list[MedicationChange]:
    """Add the new medicines (validated all first, by row: `new-N-field` errors)."""
    errors: dict[str, list[str]] = {}
    medicines = []
    for index, data in enumerate(additions):
        try:
            medicines.append(_new_medication(practice, actor, patient, data))
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors[f"new-{index}-{name}"] = messages
    if errors:
        raise ValidationError(errors)
    lines = []
    for medication in medicines:
        medication.save()
        audit.write(actor, medication, "create", patient_id=patient.pk)
        lines.append(MedicationChange(medication=medication, action=ChangeAction.ADDED))
    return lines
