"""Writes and workflows for patients: records, conditions, consent, enrollment transitions.

Every service is keyword-only, transactional, validates before saving, checks that linked
objects share the practice, and audits in the same transaction (names of fields, never values).
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from ccm import audit
from ccm.api_auth import StateConflict
from ccm.models import Membership, Practice
from ccm.roles import Capability, can, require
from ccm.tenancy import lock_for_practice_or_404
from patients import eligibility, engine_inputs
from patients.models import (
    Condition,
    ConditionStatus,
    Consent,
    EnrollmentEvent,
    Patient,
    Status,
)
from patients.validators import icd10_description, normalize_icd10, normalize_mbi

FUTURE_DOB_MESSAGE = "The date of birth cannot be in the future."
NOT_A_PHYSICIAN_MESSAGE = "Choose an active physician of this practice."
NOT_A_CLINICIAN_MESSAGE = "Choose an active member of this practice."
CONSENT_ITEMS_MESSAGE = "Each item must be explained to the patient and checked off (R6)."
CONSENT_FUTURE_MESSAGE = "The consent date cannot be in the future."
CONSENT_BEFORE_BIRTH_MESSAGE = "The consent date is before the patient's date of birth."
CONSENT_FORM_TYPE_MESSAGE = "The signed form must be a PDF, PNG or JPEG file."
CONSENT_FORM_SIZE_MESSAGE = "The signed form is larger than the 5 MB limit."
REVOKED_ALREADY_MESSAGE = "This consent is already revoked."
REVOKE_BEFORE_CONSENT_MESSAGE = "The revocation date is before the consent date."
ENROLL_STATUS_MESSAGE = "Only a candidate, declined or disenrolled patient can be enrolled."
ENROLL_NO_CONSENT_MESSAGE = "Record the patient's consent before enrolling (R5)."
ENROLL_DATE_MESSAGE = "The enrollment date must be on or after consent and not in the future."
ENROLL_NO_PRACTITIONER_MESSAGE = "Choose the billing practitioner before enrolling."
ENROLL_NOT_ELIGIBLE_MESSAGE = "The patient is not eligible for CCM: {reasons}"
DECLINE_STATUS_MESSAGE = "Only a candidate can decline."
DISENROLL_STATUS_MESSAGE = "Only an enrolled patient can be disenrolled."
DISENROLL_REASON_MESSAGE = (
    "Give the reason for disenrolling the patient (it is kept in the enrollment history)."
)
DUPLICATE_CONDITION_MESSAGE = "This condition is already on the problem list."
DUPLICATE_MRN_MESSAGE = "Another patient of this practice has this MRN."

# Fields a biller may change (demographics); the rest is clinical (contract §3).
DEMOGRAPHIC_FIELDS = (
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "phone",
    "phone_alt",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "preferred_language",
    "mbi",
)
CLINICAL_FIELDS = (
    "billing_practitioner",
    "coordinator",
    "initiating_visit_on",
    "initiating_visit_code",
    "notes",
)
PATIENT_FIELDS = DEMOGRAPHIC_FIELDS + CLINICAL_FIELDS
BILLER_EDIT_MESSAGE = "Billers may change demographics only, not clinical fields."


def _check_member(
    practice: Practice, membership: Membership | None, *, field: str, physician: bool
) -> None:
    """Linked memberships must be active members of the same practice (and physicians)."""
    if membership is None:
        return
    wrong_practice = membership.practice_id != practice.pk or not membership.is_active
    if wrong_practice or (physician and not can(membership, Capability.BILL_AS_PRACTITIONER)):
        message = NOT_A_PHYSICIAN_MESSAGE if physician else NOT_A_CLINICIAN_MESSAGE
        raise ValidationError({field: message})


def _validate_patient(practice: Practice, patient: Patient) -> None:
    patient.mbi = normalize_mbi(patient.mbi)
    patient.state = (patient.state or "").upper()
    _check_member(
        practice, patient.billing_practitioner, field="billing_practitioner", physician=True
    )
    _check_member(practice, patient.coordinator, field="coordinator", physician=False)
    duplicate = Patient.objects.filter(mrn=patient.mrn).exclude(pk=patient.pk)
    if patient.mrn and duplicate.exists():
        raise ValidationError({"mrn": DUPLICATE_MRN_MESSAGE})
    patient.full_clean()
    if patient.date_of_birth and patient.date_of_birth > practice.today():
        raise ValidationError({"date_of_birth": FUTURE_DOB_MESSAGE})


@transaction.atomic
def patient_create(
    *,
    practice: Practice,
    actor: Membership,
    data: dict[str, Any],
    condition_codes: list[str] | None = None,
) -> Patient:
    """Create a patient (a CCM candidate) with optional chronic conditions; audited."""
    patient = Patient(practice=practice, status=Status.CANDIDATE)
    for field in PATIENT_FIELDS:
        if field in data:
            setattr(patient, field, data[field])
    _validate_patient(practice, patient)
    patient.save()
    audit.write(actor, patient, "create", patient_id=patient.pk, changed_fields=list(data))
    for code in condition_codes or []:
        condition_add(practice=practice, actor=actor, patient=patient, icd10_code=code)
    return patient


@transaction.atomic
def patient_update(
    *, practice: Practice, actor: Membership, patient: Patient, data: dict[str, Any]
) -> Patient:
    """Change a patient's fields; billers may change demographics only. Audited."""
    clinical = [f for f in data if f in CLINICAL_FIELDS]
    if clinical:
        require(actor, Capability.EDIT_CLINICAL, BILLER_EDIT_MESSAGE)
    with _changing(practice, patient.pk) as change:
        fresh = change.locked_patient()
        before = {f: getattr(fresh, f) for f in PATIENT_FIELDS}
        for field in PATIENT_FIELDS:
            if field in data:
                setattr(fresh, field, data[field])
        _validate_patient(practice, fresh)
        changed = audit.changed(before, {f: getattr(fresh, f) for f in PATIENT_FIELDS})
        if not PROGRESS_FIELDS.intersection(changed):
            change.nothing_changed()
        if changed:
            fresh.save()
            audit.write(actor, fresh, "update", patient_id=fresh.pk, changed_fields=changed)
    return fresh


# The billing engine's input about the patient (with conditions and consents): the
# worklist's stored progress is recomputed in the same transaction when one changes.
PROGRESS_FIELDS = frozenset(
    {"billing_practitioner", "initiating_visit_on", "initiating_visit_code"}
)


def _changing(
    practice: Practice, patient_id: Any, months: list[dt.date] | None = None
) -> AbstractContextManager[engine_inputs.Change]:
    """Lock the patient for a write of engine inputs; its progress (every month it has, or
    `months`) is refreshed when the write is done."""
    return engine_inputs.changing(practice=practice, patient_ids=[patient_id], months=months)


_NewInput = TypeVar("_NewInput", Condition, Consent)


def _save_new(practice: Practice, actor: Membership, row: _NewInput) -> _NewInput:
    """Save a new engine input of one patient under the patient's lock (its progress follows)
    and audit its creation."""
    with _changing(practice, row.patient_id):
        row.save()
        audit.write(actor, row, "create", patient_id=row.patient_id)
    return row


@transaction.atomic
def condition_add(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    icd10_code: str,
    is_chronic: bool = True,
    onset_date: dt.date | None = None,
) -> Condition:
    """Add an ICD-10-CM condition to the problem list (billable codes only). Audited."""
    require(actor, Capability.EDIT_CLINICAL, BILLER_EDIT_MESSAGE)
    code = normalize_icd10(icd10_code)
    condition = Condition(
        practice=practice,
        patient=patient,
        icd10_code=code,
        is_chronic=is_chronic,
        onset_date=onset_date,
        position=patient.conditions.count(),
    )
    if Condition.objects.filter(patient=patient, icd10_code=code).exists():
        raise ValidationError({"icd10_code": DUPLICATE_CONDITION_MESSAGE})
    condition.full_clean(exclude=["description"])
    condition.description = icd10_description(code)[:300]
    return _save_new(practice, actor, condition)


@transaction.atomic
def condition_resolve(
    *, practice: Practice, actor: Membership, condition: Condition, resolved_on: dt.date
) -> Condition:
    """Mark a condition resolved (it stops counting toward R4). Audited."""
    require(actor, Capability.EDIT_CLINICAL, BILLER_EDIT_MESSAGE)
    with _changing(practice, condition.patient_id):
        condition.status = ConditionStatus.RESOLVED
        condition.resolved_on = resolved_on
        condition.save(update_fields=["status", "resolved_on"])
        audit.write(
            actor,
            condition,
            "resolve",
            patient_id=condition.patient_id,
            changed_fields=["status", "resolved_on"],
        )
    return condition


@transaction.atomic
def conditions_sync(
    *, practice: Practice, actor: Membership, patient: Patient, codes: list[str]
) -> None:
    """Make the active chronic problem list equal `codes`: add missing, reactivate resolved,
    resolve chronic ones not listed (non-chronic conditions are left alone). Audited."""
    require(actor, Capability.EDIT_CLINICAL, BILLER_EDIT_MESSAGE)
    wanted = [normalize_icd10(c) for c in codes]
    if len(set(wanted)) != len(wanted):
        raise ValidationError({"icd10_code": DUPLICATE_CONDITION_MESSAGE})
    existing = {c.icd10_code: c for c in Condition.objects.filter(patient=patient)}
    for code in wanted:
        current = existing.get(code)
        if current is None:
            condition_add(practice=practice, actor=actor, patient=patient, icd10_code=code)
        elif current.status == ConditionStatus.RESOLVED or not current.is_chronic:
            _reactivate(practice, actor, current)
    for code, condition in existing.items():
        listed = code in wanted
        if not listed and condition.is_chronic and condition.status == ConditionStatus.ACTIVE:
            condition_resolve(
                practice=practice, actor=actor, condition=condition, resolved_on=practice.today()
            )


def _reactivate(practice: Practice, actor: Membership, condition: Condition) -> None:
    with _changing(practice, condition.patient_id):
        condition.status, condition.resolved_on, condition.is_chronic = (
            ConditionStatus.ACTIVE,
            None,
            True,
        )
        condition.save(update_fields=["status", "resolved_on", "is_chronic"])
        audit.write(
            actor,
            condition,
            "reactivate",
            patient_id=condition.patient_id,
            changed_fields=["status"],
        )


def sniff_consent_form(upload: UploadedFile) -> str:
    """The file's real type from its bytes (never from its name); raises if not allowed."""
    if upload.size is not None and upload.size > settings.CONSENT_FORM_MAX_BYTES:
        raise ValidationError({"signed_form": CONSENT_FORM_SIZE_MESSAGE})
    head = upload.read(261)
    upload.seek(0)
    kind = filetype.guess(head)
    allowed = {"application/pdf", "image/png", "image/jpeg"}
    if kind is None or kind.mime not in allowed:
        raise ValidationError({"signed_form": CONSENT_FORM_TYPE_MESSAGE})
    return str(kind.mime)


@transaction.atomic
def consent_record(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    method: str,
    given_on: dt.date,
    explained_service: bool,
    explained_cost_sharing: bool,
    explained_one_practitioner: bool,
    explained_can_stop: bool,
    signed_form: UploadedFile | None = None,
) -> Consent:
    """Record the patient's CCM consent (R5) after the R6 items were explained. Audited."""
    require(actor, Capability.EDIT_CLINICAL, BILLER_EDIT_MESSAGE)
    items = {
        "explained_service": explained_service,
        "explained_cost_sharing": explained_cost_sharing,
        "explained_one_practitioner": explained_one_practitioner,
        "explained_can_stop": explained_can_stop,
    }
    missing = [name for name, done in items.items() if not done]
    if missing:
        raise ValidationError({name: CONSENT_ITEMS_MESSAGE for name in missing})
    if given_on > practice.today():
        raise ValidationError({"given_on": CONSENT_FUTURE_MESSAGE})
    if given_on < patient.date_of_birth:
        raise ValidationError({"given_on": CONSENT_BEFORE_BIRTH_MESSAGE})
    consent = Consent(
        practice=practice,
        patient=patient,
        method=method,
        given_on=given_on,
        obtained_by=actor,
        billing_practitioner=patient.billing_practitioner,
        explained_service=explained_service,
        explained_cost_sharing=explained_cost_sharing,
        explained_one_practitioner=explained_one_practitioner,
        explained_can_stop=explained_can_stop,
    )
    if signed_form is not None:
        consent.signed_form_type = sniff_consent_form(signed_form)
    consent.full_clean(exclude=["signed_form"])
    if signed_form is not None:
        consent.signed_form.save("form", signed_form, save=False)
    return _save_new(practice, actor, consent)


@transaction.atomic
def consent_revoke(
    *,
    practice: Practice,
    actor: Membership,
    consent: Consent,
    revoked_on: dt.date,
    reason: str = "",
) -> Consent:
    """Revoke consent; R7: effective at the end of that month. An enrolled patient leaves CCM."""
    require(actor, Capability.EDIT_CLINICAL, BILLER_EDIT_MESSAGE)
    consent = lock_for_practice_or_404(Consent.objects.all(), practice, consent.pk)
    if consent.revoked_on is not None:
        raise StateConflict(REVOKED_ALREADY_MESSAGE)
    if revoked_on < consent.given_on:
        raise ValidationError({"revoked_on": REVOKE_BEFORE_CONSENT_MESSAGE})
    if revoked_on > practice.today():
        raise ValidationError({"revoked_on": CONSENT_FUTURE_MESSAGE})
    with _changing(practice, consent.patient_id):
        consent.revoked_on, consent.revoked_reason, consent.revoked_by = revoked_on, reason, actor
        consent.save(update_fields=["revoked_on", "revoked_reason", "revoked_by"])
        audit.write(
            actor,
            consent,
            "revoke",
            patient_id=consent.patient_id,
            changed_fields=["revoked_on", "revoked_reason"],
        )
        patient = consent.patient
        if patient.status == Status.ENROLLED:
            _transition(
                actor=actor,
                patient=patient,
                to=Status.DISENROLLED,
                on=consent.revocation_effective_on or revoked_on,
                reason=reason or "Consent revoked",
            )
    return consent


def current_consent(patient: Patient) -> Consent | None:
    """The newest consent that is not revoked (uses the chart's prefetched consents)."""
    live = [c for c in patient.consents.all() if c.revoked_on is None]
    return max(live, key=lambda c: (c.given_on, c.created_at), default=None)


def patient_eligibility(patient: Patient) -> eligibility.Verdict:
    """R4/R8/R9 verdict for the patient's active chronic conditions and current consent."""
    codes = [
        c.icd10_code
        for c in patient.conditions.all()
        if c.is_chronic and c.status == ConditionStatus.ACTIVE
    ]
    consent = current_consent(patient)
    return eligibility.evaluate(
        chronic_codes=codes,
        initiating_visit_on=patient.initiating_visit_on,
        initiating_visit_code=patient.initiating_visit_code,
        consent_given_on=consent.given_on if consent else None,
    )


def r4_after_resolving(patient: Patient, condition: Condition) -> eligibility.Check:
    """The R4 check of the patient's active chronic conditions once `condition` is resolved
    (what the resolve confirmation warns about); no writes."""
    codes = [
        c.icd10_code
        for c in patient.conditions.all()
        if c.is_chronic and c.status == ConditionStatus.ACTIVE and c.pk != condition.pk
    ]
    verdict = eligibility.evaluate(
        chronic_codes=codes,
        initiating_visit_on=None,
        initiating_visit_code="",
        consent_given_on=None,
    )
    return next(c for c in verdict.checks if c.rule == "R4")


def _transition(
    *, actor: Membership, patient: Patient, to: str, on: dt.date, reason: str
) -> EnrollmentEvent:
    event = EnrollmentEvent.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        from_status=patient.status,
        to_status=to,
        effective_on=on,
        reason=reason,
        actor=actor,
    )
    patient.status, patient.status_on, patient.status_reason = to, on, reason
    patient.save(update_fields=["status", "status_on", "status_reason", "updated_at"])
    audit.write(
        actor,
        patient,
        f"enrollment.{to}",
        patient_id=patient.pk,
        changed_fields=["status", "status_on", "status_reason"],
    )
    return event


@transaction.atomic
def patient_enroll(
    *, practice: Practice, actor: Membership, patient: Patient, on: dt.date | None = None
) -> Patient:
    """Enroll in CCM: needs live consent (a decline or disenrollment ended the old one) and
    eligibility (R4, R8, R9)."""
    require(actor, Capability.EDIT_CLINICAL, BILLER_EDIT_MESSAGE)
    today = practice.today()
    # This month's worklist row at once (zero minutes, last contact), not at the hourly fill.
    with _changing(practice, patient.pk, months=[today.replace(day=1)]) as change:
        return _enroll(actor, change.locked_patient(), on or today, today)


def _enroll(actor: Membership, patient: Patient, on: dt.date, today: dt.date) -> Patient:
    if patient.status == Status.ENROLLED:
        raise StateConflict(ENROLL_STATUS_MESSAGE)
    consent = current_consent(patient)
    if consent is None:
        raise StateConflict(ENROLL_NO_CONSENT_MESSAGE)
    if on > today or on < consent.given_on:
        raise ValidationError({"on": ENROLL_DATE_MESSAGE})
    if patient.billing_practitioner_id is None:
        raise StateConflict(ENROLL_NO_PRACTITIONER_MESSAGE)
    verdict = patient_eligibility(patient)
    if not verdict.eligible:
        reasons = " ".join(c.sentence for c in verdict.failures)
        raise StateConflict(ENROLL_NOT_ELIGIBLE_MESSAGE.format(reasons=reasons))
    _transition(actor=actor, patient=patient, to=Status.ENROLLED, on=on, reason="")
    return patient


@transaction.atomic
def patient_decline(
    *, practice: Practice, actor: Membership, patient: Patient, reason: str
) -> Patient:
    """A candidate declines CCM (a later enrollment needs new consent). Audited."""
    return _leave(
        practice=practice,
        actor=actor,
        patient=patient,
        reason=reason,
        when=(Status.CANDIDATE, DECLINE_STATUS_MESSAGE),
        to=(Status.DECLINED, "Declined CCM"),
    )


@transaction.atomic
def patient_disenroll(
    *, practice: Practice, actor: Membership, patient: Patient, reason: str
) -> Patient:
    """Take an enrolled patient out of CCM (effective today); the reason is required and
    kept in the enrollment history. Audited."""
    reason = reason.strip()
    if not reason:  # ending a patient's care is never recorded without saying why
        raise ValidationError({"reason": DISENROLL_REASON_MESSAGE})
    return _leave(
        practice=practice,
        actor=actor,
        patient=patient,
        reason=reason,
        when=(Status.ENROLLED, DISENROLL_STATUS_MESSAGE),
        to=(Status.DISENROLLED, "Disenrolled"),
    )


def _leave(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    reason: str,
    when: tuple[str, str],
    to: tuple[str, str],
) -> Patient:
    """Decline or disenroll: end live consent (re-enrolling needs a new one, R5), record it."""
    require(actor, Capability.EDIT_CLINICAL, BILLER_EDIT_MESSAGE)
    with _changing(practice, patient.pk) as change:  # the consents it ends
        patient = change.locked_patient()
        required, message = when
        if patient.status != required:
            raise StateConflict(message)
        status, default_reason = to
        today = practice.today()
        _end_consents(actor=actor, patient=patient, on=today, reason=reason or default_reason)
        _transition(actor=actor, patient=patient, to=status, on=today, reason=reason)
    return patient


def _end_consents(*, actor: Membership, patient: Patient, on: dt.date, reason: str) -> None:
    """Every live consent of the patient ends on `on` (audited as revocations)."""
    for consent in Consent.objects.filter(patient=patient, revoked_on__isnull=True):
        consent.revoked_on = max(on, consent.given_on)
        consent.revoked_reason, consent.revoked_by = reason[:300], actor
        consent.save(update_fields=["revoked_on", "revoked_reason", "revoked_by"])
        audit.write(actor, consent, "revoke", patient_id=patient.pk, changed_fields=["revoked_on"])
