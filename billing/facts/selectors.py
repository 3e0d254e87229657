"""Reads of the billing facts (other services, month facts) and what the engine makes of a
patient-month so far; practice-bound, no side effects."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import QuerySet

from billing import rules
from billing.inputs.loading import load_patient_months
from billing.inputs.loading import policy as billing_policy
from billing.models import OtherService, PatientMonthFacts
from ccm.models import Membership, Practice
from ccm.tenancy import get_for_practice_or_404
from patients import engine_inputs
from patients import selectors as patient_selectors
from patients.models import Patient
from timelog.services import month_is_locked


def member_by_npi(*, practice: Practice, npi: str) -> Membership | None:
    """The practice's member with this NPI (an active one first), else None."""
    return (
        Membership.objects.for_practice(practice)
        .filter(npi=npi)
        .order_by("-is_active", "created_at")
        .first()
    )


def month_locked(*, practice: Practice, month: dt.date) -> bool:
    return month_is_locked(practice=practice, month=month.replace(day=1))


def physician_get(*, practice: Practice, member_id: uuid.UUID | str) -> Membership | None:
    """The practice's physician with this id (an other service's practitioner), else None."""
    return patient_selectors.physician_choices(practice=practice).filter(pk=member_id).first()


def other_service_list(*, practice: Practice, patient: Patient) -> QuerySet[OtherService]:
    """A patient's other services, newest first, with their practitioners (no writes)."""
    return (
        OtherService.objects.for_practice(practice)
        .filter(patient_id=patient.pk)
        .select_related("practitioner__user", "created_by__user")
        .order_by("-service_on", "-created_at")
    )


def other_services_in_month(
    *, practice: Practice, patient: Patient, month: dt.date
) -> QuerySet[OtherService]:
    """A patient's other services of one calendar month, newest first."""
    rows = other_service_list(practice=practice, patient=patient)
    return rows.filter(service_on__year=month.year, service_on__month=month.month)


def other_service_get(*, practice: Practice, service_id: object) -> OtherService:
    """One other service of the practice (404 for a malformed or another practice's id)."""
    service = get_for_practice_or_404(OtherService, practice, service_id)
    return (
        OtherService.objects.for_practice(practice)
        .select_related("practitioner__user", "created_by__user", "patient")
        .get(pk=service.pk)
    )


def month_facts_get(*, practice: Practice, patient: Patient, month: dt.date) -> PatientMonthFacts:
    """The patient-month's facts, or unsaved defaults when none were set (never writes)."""
    month = month.replace(day=1)
    found = (
        PatientMonthFacts.objects.for_practice(practice)
        .filter(patient_id=patient.pk, month=month)
        .first()
    )
    return found or PatientMonthFacts(practice=practice, patient=patient, month=month)


def month_facts_get_locked(
    *, practice: Practice, patient: Patient, month: dt.date
) -> PatientMonthFacts:
    """The patient-month's facts, read after locking the row month_facts_set locks first
    (the patient) until the transaction ends: a version check then sees what the write will
    see. 404 when the patient is gone."""
    engine_inputs.lock_patient_or_404(practice, patient.pk)
    return month_facts_get(practice=practice, patient=patient, month=month)


def month_verdict(*, practice: Practice, patient: Patient, month: dt.date) -> rules.Result:
    """What the engine decides for the patient-month with everything recorded so far
    (pure read: nothing is stored; the month close stores the real outcome)."""
    month = month.replace(day=1)
    _patients, facts = load_patient_months(
        practice=practice, patient_ids=[patient.pk], months=[month]
    )
    return rules.evaluate(facts[(patient.pk, month)], billing_policy(practice))
