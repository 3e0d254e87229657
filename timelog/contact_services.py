"""Writes of contact attempts (issue 17): every outreach or inbound contact with its outcome,
recorded on its own (the chart), or in one step with the timer's stop or a task's completion.

Recording an attempt refreshes the patient's worklist progress through the one mechanism that
keeps it (`patients.engine_inputs.changing`): `last_contact_at` is the last *reached* attempt,
`unanswered_attempts` the month's unanswered ones since the last reached.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ccm import audit
from ccm.models import Membership, Practice
from ccm.months import month_of
from ccm.roles import Capability, require
from patients import engine_inputs
from patients.models import CareContact, Channel, ContactCategory, Patient
from timelog import services
from timelog.models import (
    CALL_KINDS,
    CONTACT_ACTIVITIES,
    ContactAttempt,
    Direction,
    Outcome,
    Party,
    Task,
    TimeEntry,
)

FUTURE_MESSAGE = "A contact cannot be in the future."
OUTCOME_MESSAGE = "Choose the contact's outcome (reached, voicemail, no answer…)."
CONTACT_PATIENT_MESSAGE = "Choose one of this patient's contacts."
LINK_PATIENT_MESSAGE = "The time entry and task must be this patient's."
CHOICE_MESSAGE = "Choose a {field} from the list."

# The party a care contact of each category is, when the form leaves it at "patient".
_PARTY_OF = {
    ContactCategory.CAREGIVER: Party.CAREGIVER,
    ContactCategory.PHARMACY: Party.PHARMACY,
    ContactCategory.PRACTITIONER: Party.SPECIALIST,
    ContactCategory.AGENCY: Party.AGENCY,
}


@dataclass(frozen=True)
class ContactInput:
    """The contact fields of the timer's stop and a task's completion."""

    outcome: str
    direction: str = Direction.OUTBOUND
    channel: str = Channel.PHONE
    party: str = Party.PATIENT
    contact: CareContact | None = None
    note: str = ""


def _check_choices(data: ContactInput) -> None:
    for field, choices in (
        ("outcome", Outcome),
        ("direction", Direction),
        ("channel", Channel),
        ("party", Party),
    ):
        if getattr(data, field) not in choices.values:
            message = OUTCOME_MESSAGE if field == "outcome" else CHOICE_MESSAGE.format(field=field)
            raise ValidationError({field: message})


def _party(data: ContactInput) -> str:
    if data.contact is not None and data.party == Party.PATIENT:
        return _PARTY_OF.get(data.contact.category, Party.OTHER)  # type: ignore[call-overload]
    return data.party


@transaction.atomic
def contact_attempt_record(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    data: ContactInput,
    occurred_at: dt.datetime | None = None,
    time_entry: TimeEntry | None = None,
    task: Task | None = None,
) -> ContactAttempt:
    """Record one contact attempt (default: now) and refresh the patient's worklist progress
    (last reached contact, unanswered attempts this month). Audited."""
    require(actor, Capability.LOG_TIME, services.CLINICAL_ONLY_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError("The patient must belong to this practice.")
    _check_choices(data)
    contact = data.contact
    if contact is not None and (
        contact.practice_id != practice.pk or contact.patient_id != patient.pk
    ):
        raise ValidationError({"contact": CONTACT_PATIENT_MESSAGE})
    for linked in (time_entry, task):
        if linked is not None and (
            linked.practice_id != practice.pk or linked.patient_id != patient.pk
        ):
            raise ValidationError(LINK_PATIENT_MESSAGE)
    occurred_at = occurred_at or timezone.now().replace(microsecond=0)
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at, practice.zone)
    if occurred_at > timezone.now():
        raise ValidationError({"occurred_at": FUTURE_MESSAGE})
    attempt = ContactAttempt(
        practice=practice,
        patient=patient,
        occurred_at=occurred_at,
        month=month_of(occurred_at, practice.time_zone),  # R1: the practice's zone
        direction=data.direction,
        channel=data.channel,
        party=_party(data),
        contact=contact,
        outcome=data.outcome,
        note=data.note.strip(),
        time_entry=time_entry,
        task=task,
        recorded_by=actor,
    )
    attempt.full_clean(
        exclude=["practice", "patient", "contact", "time_entry", "task", "recorded_by"]
    )
    with engine_inputs.changing(
        practice=practice, patient_ids=[patient.pk], months=[attempt.month]
    ):
        attempt.save()
        audit.write(actor, attempt, "create", patient_id=patient.pk)
    return attempt


def needs_outcome(activity: str) -> bool:
    """A call or education session is a contact: its outcome is asked for."""
    return activity in CONTACT_ACTIVITIES


@transaction.atomic
def contact_timer_stop(
    *,
    practice: Practice,
    actor: Membership,
    activity: str,
    note: str = "",
    minutes: int | None = None,
    confirmed: bool = False,
    contact: ContactInput | None = None,
) -> tuple[TimeEntry, ContactAttempt | None]:
    """Stop the timer (services.timer_stop) and record the contact it timed, linked to the
    new entry and at its start, in one transaction. A call needs its outcome."""
    if contact is None and needs_outcome(activity):
        raise ValidationError({"outcome": OUTCOME_MESSAGE})
    entry = services.timer_stop(
        practice=practice,
        actor=actor,
        activity=activity,
        note=note,
        minutes=minutes,
        confirmed=confirmed,
    )
    attempt = None
    if contact is not None:
        attempt = contact_attempt_record(
            practice=practice,
            actor=actor,
            patient=entry.patient,
            data=contact,
            occurred_at=entry.started_at,
            time_entry=entry,
        )
    return entry, attempt


@transaction.atomic
def contact_task_complete(
    *,
    practice: Practice,
    actor: Membership,
    task: Task,
    note: str = "",
    cancel: bool = False,
    log_minutes: int | None = None,
    log_started_at: dt.datetime | None = None,
    contact: ContactInput | None = None,
    outcome_required: bool = True,
) -> tuple[Task, ContactAttempt | None]:
    """Complete a task (services.task_complete, a call's minutes from its start) and record
    the contact, linked to the task and its entry, in one transaction. Completing a call task
    needs the call's outcome; cancelling records nothing."""
    if outcome_required and not cancel and contact is None and task.kind in CALL_KINDS:
        raise ValidationError({"outcome": OUTCOME_MESSAGE})
    task = services.task_complete(
        practice=practice,
        actor=actor,
        task=task,
        note=note,
        cancel=cancel,
        log_minutes=log_minutes,
        log_started_at=log_started_at,
    )
    attempt = None
    if contact is not None and not cancel:
        entry = task.time_entry
        attempt = contact_attempt_record(
            practice=practice,
            actor=actor,
            patient=task.patient,
            data=contact,
            occurred_at=entry.started_at if entry is not None else log_started_at,
            time_entry=entry,
            task=task,
        )
    return task, attempt
