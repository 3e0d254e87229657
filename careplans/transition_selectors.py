"""Reads of care transitions (issue 17): the chart's timeline and one transition. Fixed query
counts; the practice is always explicit."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from careplans.models import CareTransition
from ccm.models import Practice
from ccm.tenancy import get_for_practice_or_404
from patients.careteam_selectors import care_contacts
from patients.models import CareContact, ContactCategory

# Who may be named as the transition's practitioner (a specialist, a discharging agency).
CONTACT_CATEGORIES = (ContactCategory.PRACTITIONER, ContactCategory.AGENCY)


def transition_list(*, practice: Practice, patient_id: Any) -> QuerySet[CareTransition]:
    """The patient's transitions, newest first, with the contact and who recorded them."""
    return (
        CareTransition.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("contact", "recorded_by__user")
        .order_by("-occurred_on", "-created_at")
    )


def transition_get(*, practice: Practice, transition_id: Any) -> CareTransition:
    """One transition (404 outside the practice) with its patient and contact."""
    found = get_for_practice_or_404(CareTransition, practice, transition_id)
    return (
        CareTransition.objects.for_practice(practice)
        .select_related("patient", "contact", "recorded_by__user")
        .get(pk=found.pk)
    )


def transition_contacts(*, practice: Practice, patient_id: Any) -> QuerySet[CareContact]:
    """The patient's practitioners and agencies a transition may name."""
    return care_contacts(practice=practice, patient_id=patient_id, categories=CONTACT_CATEGORIES)
