"""Reads of contact attempts (issue 17): a patient's attempts and last reached contact."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Max, QuerySet

from ccm.models import Practice
from timelog.models import ContactAttempt, Outcome


def contact_attempt_list(
    *, practice: Practice, patient_id: Any, month: dt.date | None = None
) -> QuerySet[ContactAttempt]:
    """The patient's attempts, latest first, with who recorded them and the care contact
    (fixed query count); one month's only when `month` is given."""
    found = (
        ContactAttempt.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("contact", "recorded_by__user")
        .order_by("-occurred_at", "-created_at")
    )
    if month is not None:
        found = found.filter(month=month)
    return found


def last_reached(*, practice: Practice, patient_id: Any) -> dt.datetime | None:
    """When the patient (or someone for them) was last reached (one query)."""
    found = ContactAttempt.objects.for_practice(practice).filter(
        patient_id=patient_id, outcome=Outcome.REACHED
    )
    last: dt.datetime | None = found.aggregate(last=Max("occurred_at"))["last"]
    return last
