"""Reads of after-contact summaries and of the contacts a summary can follow (issue 17,
item 7). Fixed query counts whatever the number of rows (pinned by tests)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from ccm.models import Practice
from ccm.tenancy import get_for_practice_or_404
from patients.careteam_selectors import caregivers
from patients.models import CareContact
from timelog.models import ContactAttempt, ContactSummary, Outcome

# How many recent reached contacts the chart offers to summarise.
RECENT_CONTACTS = 5


def summary_list(*, practice: Practice, patient_id: Any) -> QuerySet[ContactSummary]:
    """The summaries given for a patient, newest first, with their contact, recipient and
    author (one query)."""
    return (
        ContactSummary.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("contact_attempt", "shared_with", "created_by__user")
        .order_by("-created_at")
    )


def summary_get(*, practice: Practice, summary_id: Any) -> ContactSummary:
    """One summary of the practice with its patient, contact, recipient and author (404
    otherwise)."""
    found = ContactSummary.objects.for_practice(practice).select_related(
        "patient", "contact_attempt", "shared_with", "created_by__user"
    )
    return get_for_practice_or_404(found, practice, summary_id)


def attempt_get(*, practice: Practice, attempt_id: Any) -> ContactAttempt:
    """One contact attempt of the practice with its patient and contact (404 otherwise)."""
    found = ContactAttempt.objects.for_practice(practice).select_related("patient", "contact")
    return get_for_practice_or_404(found, practice, attempt_id)


def reached_contacts(*, practice: Practice, patient_id: Any) -> QuerySet[Any]:
    """The patient's most recent reached contacts, newest first, each marked `summarised`
    when a summary of it was given (one query)."""
    given = ContactSummary.objects.for_practice(practice).filter(contact_attempt=OuterRef("pk"))
    return (
        ContactAttempt.objects.for_practice(practice)
        .filter(patient_id=patient_id, outcome=Outcome.REACHED)
        .annotate(summarised=Exists(given))
        .select_related("contact")
        .order_by("-occurred_at")[:RECENT_CONTACTS]
    )


def summary_recipients(*, practice: Practice, patient_id: Any) -> QuerySet[CareContact]:
    """The caregivers a summary may be addressed to (the service checks the permission)."""
    return caregivers(practice=practice, patient_id=patient_id)
