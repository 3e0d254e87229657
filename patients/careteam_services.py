"""Writes of the patient's care team and contacts, their permissions to share, and the
patient's contact preferences and call windows (issue 17).

Chart data: members holding EDIT_CLINICAL write. Keyword-only, transactional, validated
before saving (every field's problem at once, nothing saved on an error), audited with field
names only (no values: contacts' names and phones are PHI).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ccm import audit
from ccm.models import Membership, Practice
from ccm.roles import Capability, require
from ccm.tenancy import lock_for_practice_or_404
from patients import engine_inputs
from patients.models import (
    CallWindow,
    CallWindowKind,
    CareContact,
    Channel,
    ContactCategory,
    Patient,
    PermissionMethod,
    ShareScope,
    SharingPermission,
    Weekday,
)

ROLE_MESSAGE = "Only admins, physicians and coordinators change the care team and contacts."
PATIENT_PRACTICE_MESSAGE = "The patient must belong to this practice."
CONTACT_PRACTICE_MESSAGE = "The contact must be one of this patient's, in this practice."
CATEGORY_MESSAGE = "Choose what kind of contact this is."
NAME_MESSAGE = "Enter the contact's name."
RELATIONSHIP_MESSAGE = "Enter how the caregiver relates to the patient (e.g. Daughter)."
REPRESENTATIVE_MESSAGE = "Only a caregiver or family member can be the patient's representative."
INACTIVE_MESSAGE = "This contact is no longer active; reactivate it first."
SCOPES_MESSAGE = "Choose at least one kind of information the patient allows us to share."
SCOPE_CHOICE_MESSAGE = "Choose kinds of information from the list."
METHOD_MESSAGE = "Choose how the patient gave the permission."
GIVEN_FUTURE_MESSAGE = "The permission cannot be given after today."
UNTIL_MESSAGE = "The end date is before the date the permission was given."
ALREADY_REVOKED_MESSAGE = "This permission is already revoked."
REVOKED_BEFORE_MESSAGE = "A permission cannot be revoked before it was given."
CHANNEL_MESSAGE = "Choose one of the channels."
LANGUAGE_MAX = 50
LANGUAGE_MESSAGE = f"A language name has at most {LANGUAGE_MAX} characters."
KIND_MESSAGE = "Choose a best time to call or a do-not-call window."
WEEKDAYS_MESSAGE = "Choose at least one day of the week."
WEEKDAY_CHOICE_MESSAGE = "Choose days of the week from the list."
TIMES_MESSAGE = "The end time must be after the start time."
TIME_REQUIRED_MESSAGE = "Enter the start and end times."

# What a caller may set on a contact.
CONTACT_FIELDS = (
    "category",
    "name",
    "role",
    "organisation",
    "relationship",
    "phone",
    "fax",
    "secure_email",
    "language",
    "is_representative",
    "note",
)
_TEXT_FIELDS = frozenset(CONTACT_FIELDS) - {"category", "is_representative"}
# Languages offered as suggestions (the field stays free text).
LANGUAGE_SUGGESTIONS = (
    "English",
    "Spanish",
    "Chinese",
    "Vietnamese",
    "Tagalog",
    "Arabic",
    "French",
    "Korean",
    "Russian",
    "Portuguese",
    "Haitian Creole",
)


def _require(actor: Membership) -> None:
    require(actor, Capability.EDIT_CLINICAL, ROLE_MESSAGE)


def _check_patient(practice: Practice, patient: Patient) -> None:
    if patient.practice_id != practice.pk:
        raise ValidationError(PATIENT_PRACTICE_MESSAGE)


def _contact_problems(contact: CareContact) -> dict[str, str]:
    errors: dict[str, str] = {}
    if contact.category not in ContactCategory.values:
        return {"category": CATEGORY_MESSAGE}
    if not contact.name:
        errors["name"] = NAME_MESSAGE
    if contact.is_caregiver and not contact.relationship:
        errors["relationship"] = RELATIONSHIP_MESSAGE
    if contact.is_representative and not contact.is_caregiver:
        errors["is_representative"] = REPRESENTATIVE_MESSAGE
    return errors


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError({field: [message] for field, message in errors.items()})


def _validate(obj: Any, errors: dict[str, str], exclude: Iterable[str]) -> None:
    """Every problem at once: ours first, then the model's (by field)."""
    try:
        obj.full_clean(exclude=[*exclude, *errors])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, str(messages[0]))
    _raise(errors)


def _clean_text(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: ("" if v is None else str(v).strip()) if k in _TEXT_FIELDS else v
        for k, v in data.items()
    }


@transaction.atomic
def contact_create(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    category: str,
    name: str,
    **fields: Any,
) -> CareContact:
    """Add a contact to the patient's care team (practitioner, agency, pharmacy) or a
    caregiver. Audited."""
    _require(actor)
    _check_patient(practice, patient)
    data = _clean_text({k: v for k, v in fields.items() if k in CONTACT_FIELDS})
    contact = CareContact(
        practice=practice,
        patient=patient,
        category=category,
        name=(name or "").strip(),
        created_by=actor,
        **data,
    )
    _validate(contact, _contact_problems(contact), ["practice", "patient", "created_by"])
    contact.save()
    audit.write(actor, contact, "create", patient_id=patient.pk)
    return contact


@transaction.atomic
def contact_update(
    *, practice: Practice, actor: Membership, contact: CareContact, data: dict[str, Any]
) -> CareContact:
    """Change a contact's fields (those of CONTACT_FIELDS in `data`); unchanged values write
    nothing. Audited with the changed field names."""
    _require(actor)
    fresh = lock_for_practice_or_404(CareContact, practice, contact.pk)
    before = {name: getattr(fresh, name) for name in CONTACT_FIELDS}
    for name, value in _clean_text({k: v for k, v in data.items() if k in CONTACT_FIELDS}).items():
        setattr(fresh, name, value)
    _validate(fresh, _contact_problems(fresh), ["practice", "patient", "created_by"])
    changed = audit.changed(before, {name: getattr(fresh, name) for name in CONTACT_FIELDS})
    if changed:
        fresh.updated_at = timezone.now()
        fresh.save()
        audit.write(actor, fresh, "update", patient_id=fresh.patient_id, changed_fields=changed)
    return fresh


@transaction.atomic
def contact_set_active(
    *, practice: Practice, actor: Membership, contact: CareContact, active: bool
) -> CareContact:
    """Deactivate a contact (kept with its permissions, for the record) or reactivate it.
    Audited."""
    _require(actor)
    fresh = lock_for_practice_or_404(CareContact, practice, contact.pk)
    if fresh.is_active != active:
        fresh.is_active = active
        fresh.updated_at = timezone.now()
        fresh.save(update_fields=["is_active", "updated_at"])
        verb = "reactivate" if active else "deactivate"
        audit.write(actor, fresh, verb, patient_id=fresh.patient_id, changed_fields=["is_active"])
    return fresh


def _permission_problems(
    scopes: list[str],
    method: str,
    given_on: dt.date | None,
    expires_on: dt.date | None,
    today: dt.date,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not scopes:
        errors["scopes"] = SCOPES_MESSAGE
    elif any(s not in ShareScope.values for s in scopes):
        errors["scopes"] = SCOPE_CHOICE_MESSAGE
    if method not in PermissionMethod.values:
        errors["method"] = METHOD_MESSAGE
    if given_on is not None and given_on > today:
        errors["given_on"] = GIVEN_FUTURE_MESSAGE
    if given_on is not None and expires_on is not None and expires_on < given_on:
        errors["expires_on"] = UNTIL_MESSAGE
    return errors


@transaction.atomic
def permission_create(
    *,
    practice: Practice,
    actor: Membership,
    contact: CareContact,
    scopes: list[str],
    method: str,
    given_on: dt.date | None = None,
    expires_on: dt.date | None = None,
) -> SharingPermission:
    """Record the patient's permission to share `scopes` with an active contact (given on
    `given_on`, default today; until `expires_on`). Audited."""
    _require(actor)
    fresh = lock_for_practice_or_404(CareContact, practice, contact.pk)
    if not fresh.is_active:
        raise ValidationError(INACTIVE_MESSAGE)
    today = practice.today()
    scopes = list(dict.fromkeys(scopes or []))
    given_on = given_on or today
    errors = _permission_problems(scopes, method, given_on, expires_on, today)
    permission = SharingPermission(
        practice=practice,
        patient_id=fresh.patient_id,
        contact=fresh,
        scopes=scopes,
        method=method,
        given_on=given_on,
        expires_on=expires_on,
        recorded_by=actor,
    )
    _validate(permission, errors, ["practice", "patient", "contact", "recorded_by"])
    permission.save()
    audit.write(actor, permission, "create", patient_id=fresh.patient_id)
    return permission


@transaction.atomic
def permission_revoke(
    *,
    practice: Practice,
    actor: Membership,
    permission: SharingPermission,
    revoked_on: dt.date | None = None,
) -> SharingPermission:
    """Revoke a permission from `revoked_on` (default today); the row stays. Audited."""
    _require(actor)
    fresh = lock_for_practice_or_404(SharingPermission, practice, permission.pk)
    if fresh.revoked_on is not None:
        raise ValidationError(ALREADY_REVOKED_MESSAGE)
    revoked_on = revoked_on or practice.today()
    if revoked_on < fresh.given_on:
        raise ValidationError({"revoked_on": [REVOKED_BEFORE_MESSAGE]})
    fresh.revoked_on = revoked_on
    fresh.save(update_fields=["revoked_on"])
    audit.write(actor, fresh, "revoke", patient_id=fresh.patient_id, changed_fields=["revoked_on"])
    return fresh


# --- Contact preferences ---------------------------------------------------------------------

PREFERENCE_FIELDS = ("preferred_channel", "preferred_language", "interpreter_needed")


@transaction.atomic
def preferences_update(
    *, practice: Practice, actor: Membership, patient: Patient, data: dict[str, Any]
) -> Patient:
    """Change the patient's preferred channel, language (free text) and interpreter need
    (those in `data`). Audited with the changed field names."""
    _require(actor)
    _check_patient(practice, patient)
    fresh = engine_inputs.lock_patient_or_404(practice, patient.pk)
    before = {name: getattr(fresh, name) for name in PREFERENCE_FIELDS}
    errors: dict[str, str] = {}
    if "preferred_channel" in data:
        if data["preferred_channel"] not in Channel.values:
            errors["preferred_channel"] = CHANNEL_MESSAGE
        fresh.preferred_channel = data["preferred_channel"]
    if "preferred_language" in data:
        fresh.preferred_language = " ".join(str(data["preferred_language"] or "").split())
        if len(fresh.preferred_language) > LANGUAGE_MAX:
            errors["preferred_language"] = LANGUAGE_MESSAGE
    if "interpreter_needed" in data:
        fresh.interpreter_needed = bool(data["interpreter_needed"])
    _raise(errors)
    changed = audit.changed(before, {name: getattr(fresh, name) for name in PREFERENCE_FIELDS})
    if changed:
        fresh.save(update_fields=changed)
        audit.write(actor, fresh, "update", patient_id=fresh.pk, changed_fields=changed)
    return fresh


def _window_problems(
    kind: str, weekdays: list[int], starts_at: dt.time | None, ends_at: dt.time | None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if kind not in CallWindowKind.values:
        errors["kind"] = KIND_MESSAGE
    if not weekdays:
        errors["weekdays"] = WEEKDAYS_MESSAGE
    elif any(d not in Weekday.values for d in weekdays):
        errors["weekdays"] = WEEKDAY_CHOICE_MESSAGE
    if starts_at is None or ends_at is None:
        errors["starts_at"] = TIME_REQUIRED_MESSAGE
    elif ends_at <= starts_at:
        errors["ends_at"] = TIMES_MESSAGE
    return errors


@transaction.atomic
def call_window_create(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    kind: str,
    weekdays: Iterable[int],
    starts_at: dt.time | None,
    ends_at: dt.time | None,
    note: str = "",
) -> CallWindow:
    """Add a weekly best-time or do-not-call window (times in the practice's zone). Audited."""
    _require(actor)
    _check_patient(practice, patient)
    days = sorted({int(d) for d in weekdays or []})
    errors = _window_problems(kind, days, starts_at, ends_at)
    _raise(errors)
    window = CallWindow(
        practice=practice,
        patient=patient,
        kind=kind,
        weekdays=days,
        starts_at=cast(dt.time, starts_at),  # checked above
        ends_at=cast(dt.time, ends_at),
        note=(note or "").strip(),
    )
    _validate(window, {}, ["practice", "patient"])
    window.save()
    audit.write(actor, window, "create", patient_id=patient.pk)
    return window


@transaction.atomic
def call_window_delete(*, practice: Practice, actor: Membership, window: CallWindow) -> None:
    """Remove a call window. Audited."""
    _require(actor)
    fresh = lock_for_practice_or_404(CallWindow, practice, window.pk)
    audit.write(actor, fresh, "delete", patient_id=fresh.patient_id)
    fresh.delete()


WINDOWS_FIELD = "call_windows"


@transaction.atomic
def preferences_set(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    data: dict[str, Any],
    windows: list[dict[str, Any]] | None = None,
) -> Patient:
    """Change the patient's preferences and, when `windows` is given, replace the call
    windows with them (all or nothing; errors under `call_windows` name the window's
    position). Audited."""
    fresh = preferences_update(practice=practice, actor=actor, patient=patient, data=data)
    if windows is None:
        return fresh
    problems = [
        _window_problems(
            w.get("kind", ""),
            sorted(set(w.get("weekdays") or [])),
            w.get("starts_at"),
            w.get("ends_at"),
        )
        for w in windows
    ]
    found = [
        f"Window {n}: {' '.join(errors.values())}" for n, errors in enumerate(problems, 1) if errors
    ]
    if found:
        raise ValidationError({WINDOWS_FIELD: found})
    for old in CallWindow.objects.for_practice(practice).filter(patient_id=fresh.pk):
        call_window_delete(practice=practice, actor=actor, window=old)
    for window in windows:
        call_window_create(practice=practice, actor=actor, patient=fresh, **window)
    return fresh
