"""Demo contact attempts (issue 17; called from timelog/demo.py): deterministic, bulk-inserted.

Each seeded call or education entry is a contact: mostly reached (some with the caregiver,
a few inbound), often after a voicemail or an unanswered call a day or two before, now and
then a wrong number. The first enrolled patient (by MRN) of each practice has only unanswered
attempts this month, three or more, so the worklist and the reminder job show that case. A
re-run adds nothing to a patient-month that has attempts already. The worklist's progress
rows are computed afterwards by billing's seed (progress_reconcile over the demo months).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from ccm.demo import DemoSeed
from ccm.models import Membership, Practice
from ccm.months import month_bounds, previous_month
from ccm.roles import Capability, roles_with
from patients.models import CareContact, ContactCategory, Patient, Status
from timelog.models import (
    CONTACT_ACTIVITIES,
    ContactAttempt,
    Direction,
    Outcome,
    Party,
    TimeEntry,
)

UNANSWERED_NOTES = {
    Outcome.VOICEMAIL: "Left a voicemail asking for a call back.",
    Outcome.NO_ANSWER: "No answer; will try again.",
    Outcome.BUSY: "Line busy.",
    Outcome.WRONG_NUMBER: "Number on file reached someone else; asked the front desk to check.",
}
REACHED_NOTES = {
    Party.PATIENT: "Spoke with the patient.",
    Party.CAREGIVER: "Spoke with the caregiver, who helps with medicines.",
}


def seed(demo: DemoSeed) -> None:
    """`seed_demo`'s contact attempts for every practice over the demo months."""
    for practice in demo.practices.values():
        months = [practice.this_month()]
        while len(months) < demo.months:
            months.append(previous_month(months[-1]))
        demo.added["contact attempts"] += seed_attempts(practice=practice, months=months)


def seed_attempts(
    *, practice: Practice, months: Sequence[dt.date], now: dt.datetime | None = None
) -> int:
    """Attempts for the contact entries of `months` (see the module docstring); the count."""
    now = now or timezone.now()
    this_month = practice.this_month(now)
    rng = random.Random(f"{practice.slug}-contacts")  # noqa: S311 (demo data)
    done = set(
        ContactAttempt.objects.for_practice(practice)
        .filter(month__in=months)
        .values_list("patient_id", "month")
    )
    caregivers: dict[Any, CareContact] = {}
    for contact in CareContact.objects.for_practice(practice).filter(
        category=ContactCategory.CAREGIVER, is_active=True
    ):
        caregivers.setdefault(contact.patient_id, contact)
    struggling = (
        Patient.objects.for_practice(practice)
        .filter(status=Status.ENROLLED)
        .order_by("mrn")
        .values_list("pk", flat=True)
        .first()
    )
    entries = (
        TimeEntry.objects.for_practice(practice)
        .filter(activity__in=CONTACT_ACTIVITIES, billing_month__in=months)
        .order_by("patient_id", "started_at")
        .only("pk", "patient_id", "performer_id", "started_at", "billing_month")
    )
    attempts: list[ContactAttempt] = []
    for entry in entries:
        if (entry.patient_id, entry.billing_month) in done:
            continue
        hard = entry.patient_id == struggling and entry.billing_month == this_month
        attempts += _for_entry(rng, practice, entry, caregivers.get(entry.patient_id), hard)
    if struggling is not None and (struggling, this_month) not in done:
        attempts += _struggling_extra(practice, struggling, this_month, now, attempts)
    ContactAttempt.objects.for_practice(practice).bulk_create(attempts, batch_size=2000)
    return len(attempts)


def _attempt(
    practice: Practice, entry: TimeEntry, at: dt.datetime, outcome: str, **kw: Any
) -> ContactAttempt:
    note = kw.pop("note", None) or UNANSWERED_NOTES.get(outcome, "")  # type: ignore[call-overload]
    return ContactAttempt(
        practice=practice,
        patient_id=entry.patient_id,
        occurred_at=at,
        month=entry.billing_month,
        outcome=outcome,
        note=note,
        recorded_by_id=entry.performer_id,
        created_at=at,
        **kw,
    )


def _for_entry(
    rng: random.Random,
    practice: Practice,
    entry: TimeEntry,
    caregiver: CareContact | None,
    hard: bool,
) -> list[ContactAttempt]:
    """The call the entry timed, and the tries before it (same draws in the same order)."""
    found = []
    month_start = month_bounds(entry.billing_month, practice.time_zone)[0]
    tries = rng.choices((0, 1, 2), weights=(60, 30, 10))[0]
    for n in range(tries, 0, -1):
        at = entry.started_at - dt.timedelta(days=n, minutes=rng.randrange(0, 90))
        outcome = rng.choices(
            (Outcome.VOICEMAIL, Outcome.NO_ANSWER, Outcome.BUSY, Outcome.WRONG_NUMBER),
            weights=(50, 38, 6, 6),
        )[0]
        if at >= month_start:
            found.append(_attempt(practice, entry, at, outcome))
    # The caregiver: the patient's caregiver contact when the demo has one (patients' seed).
    with_caregiver = rng.random() < 0.2
    inbound = rng.random() < 0.1
    if hard:  # the struggling patient's month: the entry's call went unanswered too
        outcome = rng.choice((Outcome.VOICEMAIL, Outcome.NO_ANSWER))
        found.append(_attempt(practice, entry, entry.started_at, outcome, time_entry=entry))
        return found
    party = Party.CAREGIVER if with_caregiver else Party.PATIENT
    found.append(
        _attempt(
            practice,
            entry,
            entry.started_at,
            Outcome.REACHED,
            note=REACHED_NOTES[party],
            party=party,
            contact=caregiver if with_caregiver else None,
            direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
            time_entry=entry,
        )
    )
    return found


def _struggling_extra(
    practice: Practice,
    patient_id: Any,
    month: dt.date,
    now: dt.datetime,
    seeded: list[ContactAttempt],
) -> list[ContactAttempt]:
    """Unanswered calls spread over the month so far, up to three this month in all."""
    have = sum(1 for a in seeded if a.patient_id == patient_id and a.month == month)
    start = month_bounds(month, practice.time_zone)[0]
    span = max(now - start, dt.timedelta(minutes=10))
    extra = []
    for k in range(max(0, 3 - have)):
        at = (start + span * (k + 1) / 5).replace(second=0, microsecond=0)
        outcome = (Outcome.NO_ANSWER, Outcome.VOICEMAIL)[k % 2]
        extra.append(
            ContactAttempt(
                practice=practice,
                patient_id=patient_id,
                occurred_at=at,
                month=month,
                outcome=outcome,
                note=UNANSWERED_NOTES[outcome],
                recorded_by_id=_coordinator(practice, patient_id),
                created_at=at,
            )
        )
    return extra


def _coordinator(practice: Practice, patient_id: Any) -> Any:
    coordinator = (
        Patient.objects.for_practice(practice)
        .filter(pk=patient_id)
        .values_list("coordinator_id", flat=True)
        .first()
    )
    if coordinator is not None:
        return coordinator
    return (
        Membership.objects.for_practice(practice)
        .filter(role__in=roles_with(Capability.LOG_TIME))
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
