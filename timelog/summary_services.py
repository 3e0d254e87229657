"""Writes of after-contact summaries (issue 17, item 7): after a contact that reached
someone, the coordinator writes a one-page plain-language summary — what we talked about,
what to do now, what to watch for, whom to call — printed in the patient's language
(patients.language) and recorded on the chart as shared with the patient, or with a
caregiver only while the patient permits sharing summaries with them
(patients.careteam_selectors.may_share). Nothing is saved on any error; every write is
audited with field names only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ccm import audit
from ccm.models import Membership, Practice
from ccm.roles import Capability, require
from patients.careteam_selectors import may_share
from patients.language import patient_locale
from patients.models import CareContact, ShareScope
from timelog.models import ContactAttempt, ContactSummary, ShareMethod

# One printed page: the four parts together fit a letter page at the PDF's large print.
MAX_LENGTHS = {"talked_about": 450, "do_now": 450, "watch_for": 450, "whom_to_call": 250}
MAX_LINES = {"talked_about": 8, "do_now": 8, "watch_for": 8, "whom_to_call": 4}
TEXT_FIELDS = tuple(MAX_LENGTHS)

ROLE_MESSAGE = "Only clinical staff, physicians and admins write after-contact summaries."
ATTEMPT_PRACTICE_MESSAGE = "The contact must belong to this practice."
NOT_REACHED_MESSAGE = (
    "A summary follows a contact that reached someone; this contact was not reached."
)
REQUIRED_MESSAGE = "Write this part of the summary."
TOO_LONG_MESSAGE = "Keep this under {limit} characters so the summary fits on one page."
TOO_MANY_LINES_MESSAGE = "Use at most {limit} lines here so the summary fits on one page."
METHOD_MESSAGE = "Choose how the summary was shared."
CONTACT_MESSAGE = "Choose one of this patient's caregivers or family members."
NOT_PERMITTED_MESSAGE = (
    "The patient has not given permission to share after-contact summaries with this person "
    "(or it has expired). Give the summary to the patient, or record their permission first."
)
FUTURE_MESSAGE = "The date it was shared cannot be in the future."
BEFORE_CONTACT_MESSAGE = "The date it was shared cannot be before the contact ({day})."


def _text_errors(texts: dict[str, str]) -> dict[str, str]:
    errors = {}
    for field in ("talked_about", "do_now"):
        if not texts[field]:
            errors[field] = REQUIRED_MESSAGE
    for field, limit in MAX_LENGTHS.items():
        if len(texts[field]) > limit:
            errors[field] = TOO_LONG_MESSAGE.format(limit=limit)
        elif len(texts[field].splitlines()) > MAX_LINES[field]:
            errors[field] = TOO_MANY_LINES_MESSAGE.format(limit=MAX_LINES[field])
    return errors


def _recipient_error(
    *, practice: Practice, attempt: ContactAttempt, contact: CareContact | None, on: dt.date
) -> str | None:
    if contact is None:  # the patient themself
        return None
    if (
        contact.practice_id != practice.pk
        or contact.patient_id != attempt.patient_id
        or not contact.is_active
        or not contact.is_caregiver
    ):
        return CONTACT_MESSAGE
    if not may_share(practice=practice, contact=contact, scope=ShareScope.SUMMARIES, on=on):
        return NOT_PERMITTED_MESSAGE
    return None


def _date_error(practice: Practice, attempt: ContactAttempt, shared_on: dt.date) -> str | None:
    if shared_on > practice.today():
        return FUTURE_MESSAGE
    contacted_on = attempt.occurred_at.astimezone(practice.zone).date()
    if shared_on < contacted_on:
        return BEFORE_CONTACT_MESSAGE.format(day=f"{contacted_on:%Y-%m-%d}")
    return None


@transaction.atomic
def summary_create(
    *,
    practice: Practice,
    actor: Membership,
    attempt: ContactAttempt,
    talked_about: str,
    do_now: str,
    watch_for: str = "",
    whom_to_call: str = "",
    shared_method: str,
    shared_with: CareContact | None = None,
    shared_on: dt.date | None = None,
) -> ContactSummary:
    """Record the summary of a reached contact as shared with the patient or a permitted
    caregiver, in the patient's language; audits the creation. Raises ValidationError
    (nothing saved) or PermissionDenied."""
    require(actor, Capability.LOG_TIME, ROLE_MESSAGE)
    if attempt.practice_id != practice.pk:
        raise ValidationError(ATTEMPT_PRACTICE_MESSAGE)
    if not attempt.reached:
        raise ValidationError(NOT_REACHED_MESSAGE)
    texts = {
        "talked_about": talked_about,
        "do_now": do_now,
        "watch_for": watch_for,
        "whom_to_call": whom_to_call,
    }
    texts = {field: (value or "").strip() for field, value in texts.items()}
    shared_on = shared_on or practice.today()
    errors: dict[str, Any] = _text_errors(texts)
    if shared_method not in ShareMethod.values:
        errors["shared_method"] = METHOD_MESSAGE
    # The permission must be in force on the day the summary is handed over.
    recipient = _recipient_error(
        practice=practice, attempt=attempt, contact=shared_with, on=shared_on
    )
    if recipient:
        errors["shared_with"] = recipient
    date = _date_error(practice, attempt, shared_on)
    if date:
        errors["shared_on"] = date
    if errors:
        raise ValidationError(errors)
    summary = ContactSummary(
        practice=practice,
        patient_id=attempt.patient_id,
        contact_attempt=attempt,
        language=patient_locale(attempt.patient),
        shared_with=shared_with,
        shared_method=shared_method,
        shared_on=shared_on,
        created_by=actor,
        **texts,
    )
    summary.full_clean()
    summary.save()
    audit.write(actor, summary, "create", patient_id=attempt.patient_id)
    return summary
