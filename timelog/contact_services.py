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
    RunningTimer,
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
    attempt = _new_attempt(
        practice=practice,
        actor=actor,
        patient=patient,
        data=data,
        occurred_at=occurred_at,
        time_entry=time_entry,
        task=task,
    )
    with engine_inputs.changing(
        practice=practice, patient_ids=[patient.pk], months=[attempt.month]
    ):
        attempt.save(force_insert=True)
        audit.write(actor, attempt, "create", patient_id=patient.pk)
    return attempt


def _new_attempt(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    data: ContactInput,
    occurred_at: dt.datetime | None,
    time_entry: TimeEntry | None,
    task: Task | None,
) -> ContactAttempt:
    """The attempt `contact_attempt_record` records, checked (no query, nothing saved)."""
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
    # Fields only: its id and (practice, id) key are a fresh UUID's (a query each to check).
    attempt.full_clean(
        exclude=["practice", "patient", "contact", "time_entry", "task", "recorded_by"],
        validate_unique=False,
        validate_constraints=False,
    )
    return attempt


def _recording(
    practice: Practice,
    actor: Membership,
    data: ContactInput | None,
    found: list[ContactAttempt],
    *,
    task: Task | None = None,
    occurred_at: dt.datetime | None = None,
) -> services.Then | None:
    """The `then` of a timer's stop or a task's completion: the contact, linked to the new
    entry (at its start) and the task, recorded in the same change (one patient lock, one
    progress refresh, one audit INSERT); the attempt is appended to `found`."""
    if data is None:
        return None

    def record(entry: TimeEntry | None, change: engine_inputs.Change) -> list[audit.RowEvent]:
        patient = entry.patient if entry is not None else task.patient  # type: ignore[union-attr]
        attempt = _new_attempt(
            practice=practice,
            actor=actor,
            patient=patient,
            data=data,
            occurred_at=entry.started_at if entry is not None else occurred_at,
            time_entry=entry,
            task=task,
        )
        attempt.save(force_insert=True)
        change.add_month(attempt.month)
        found.append(attempt)
        return [audit.RowEvent("contactattempt.create", attempt, patient.pk)]

    return record


def needs_outcome(activity: str) -> bool:
    """A call or education session is a contact: its outcome is asked for."""
    return activity in CONTACT_ACTIVITIES


def contact_timer_stop(
    *,
    practice: Practice,
    actor: Membership,
    activity: str,
    note: str = "",
    minutes: int | None = None,
    confirmed: bool = False,
    contact: ContactInput | None = None,
    timer: RunningTimer | None = None,
) -> tuple[TimeEntry, ContactAttempt | None]:
    """Stop the timer (services.timer_stop; `timer`: as the page read it) and record the
    contact it timed, linked to the new entry and at its start, in one transaction (the
    stop's) and one change of the patient's engine inputs. A call needs its outcome."""
    if contact is None and needs_outcome(activity):
        raise ValidationError({"outcome": OUTCOME_MESSAGE})
    found: list[ContactAttempt] = []
    entry = services.timer_stop(
        practice=practice,
        actor=actor,
        activity=activity,
        note=note,
        minutes=minutes,
        confirmed=confirmed,
        timer=timer,
        then=_recording(practice, actor, contact, found),
    )
    return entry, (found[0] if found else None)


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
    locked: bool = False,
) -> tuple[Task, ContactAttempt | None]:
    """Complete a task (services.task_complete, a call's minutes from its start) and record
    the contact, linked to the task and its entry, in one transaction and one change of the
    patient's engine inputs. Completing a call task needs the call's outcome; cancelling
    records nothing. `locked`: as for services.task_complete (the page locked the task)."""
    if outcome_required and not cancel and contact is None and task.kind in CALL_KINDS:
        raise ValidationError({"outcome": OUTCOME_MESSAGE})
    found: list[ContactAttempt] = []
    record = None if cancel else contact
    task = services.task_complete(
        practice=practice,
        actor=actor,
        task=task,
        note=note,
        cancel=cancel,
        log_minutes=log_minutes,
        log_started_at=log_started_at,
        locked=locked,
        then=_recording(practice, actor, record, found, task=task, occurred_at=log_started_at),
    )
    return task, (found[0] if found else None)
