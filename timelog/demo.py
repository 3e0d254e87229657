"""Demo time entries and tasks (seed_demo and benchmarks): deterministic, bulk-inserted.

Each performer's entries are packed one after another in working hours (08:00-18:00 in the
practice's zone), after that performer's latest existing entry, so they never overlap and a
re-run adds only what is missing. Minutes vary so the worklist shows every state: done,
close, behind pace, nothing yet.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Sequence

from django.db.models import Max
from django.db.models.functions import TruncDate
from django.utils import timezone

from ccm.demo import DemoSeed
from ccm.models import Membership, Practice
from ccm.months import month_bounds, previous_month
from ccm.roles import Capability, can
from patients.models import Patient, Status
from timelog import contact_demo, summary_demo, transition_demo
from timelog.models import Activity, PerformerKind, TimeEntry
from timelog.reminders import create_due_tasks

WORK_START, WORK_END = 8, 18  # local hours
ACTIVITIES = [a for a in Activity.values if a != Activity.ENROLLMENT_OUTREACH]
NOTES: dict[str, str] = {
    Activity.CALL_PATIENT: "Monthly check-in call; symptoms stable, reviewed goals.",
    Activity.COORDINATION: "Coordinated with specialist office about upcoming results.",
    Activity.MEDICATION: "Reconciled medication list after pharmacy refill.",
    Activity.CARE_PLAN: "Updated care plan goals with the patient.",
    Activity.CHART_REVIEW: "Reviewed recent labs and outside records.",
    Activity.REFERRAL: "Sent referral and confirmed the appointment.",
    Activity.EDUCATION: "Diet and medication education by phone.",
    Activity.OTHER: "Arranged transportation for the next visit.",
}


class _Packer:
    """Hands out non-overlapping start times per performer and day, inside working hours."""

    def __init__(self, zone: zoneinfo.ZoneInfo, start: dt.datetime, stop: dt.datetime) -> None:
        self.zone, self.start, self.stop = zone, start, stop
        self.cursor: dict[tuple[object, dt.date], dt.datetime] = {}
        self.days = (stop.astimezone(zone).date() - start.astimezone(zone).date()).days + 1

    def take(self, performer: Membership, minutes: int, day_index: int) -> dt.datetime | None:
        """The first free start on that day of the month (or a later day) for the performer."""
        first_day = self.start.astimezone(self.zone).date()
        for offset in range(day_index, self.days):
            day = first_day + dt.timedelta(days=offset)
            opening = dt.datetime(day.year, day.month, day.day, WORK_START, tzinfo=self.zone)
            closing = opening.replace(hour=WORK_END)
            at = max(self.cursor.get((performer.pk, day), opening), opening, self.start)
            if at + dt.timedelta(minutes=minutes) <= min(closing, self.stop):
                self.cursor[(performer.pk, day)] = at + dt.timedelta(minutes=minutes + 7)
                return at.astimezone(dt.UTC)
        return None


def _minutes_plan(rng: random.Random, fraction: float) -> list[int]:
    """A patient-month's entries: most reach 20 minutes, some 40+, some fall short."""
    goal = rng.choice((8, 14, 18, 22, 25, 28, 31, 35, 44, 47, 62))
    goal = max(3, int(goal * fraction))
    plan: list[int] = []
    while sum(plan) < goal:
        plan.append(min(rng.choice((3, 5, 6, 8, 10, 12, 15, 20)), goal - sum(plan) + 2))
    return plan


def seed_time(
    *,
    practice: Practice,
    performers: Sequence[Membership],
    months: int,
    now: dt.datetime | None = None,
) -> int:
    """Entries for every enrolled patient over the last `months` months (this one so far).
    Returns how many were added; patient-months that already have time are skipped."""
    now = now or timezone.now()
    zone = practice.zone
    return sum(
        _seed_month(practice, performers, month, now, zone)
        for month in recent_months(practice, months, now)
    )


def recent_months(practice: Practice, months: int, now: dt.datetime | None = None) -> list[dt.date]:
    """The last `months` billing months in the practice's zone, oldest first, this one last."""
    month = practice.this_month(now)
    wanted = [month]
    for _ in range(months - 1):
        wanted.insert(0, previous_month(wanted[0]))
    return wanted


def demo_entry(
    rng: random.Random,
    practice: Practice,
    patient: Patient,
    performer: Membership,
    *,
    physician: bool,
    started: dt.datetime,
    minutes: int,
    month: dt.date,
    created_at: dt.datetime,
    face_to_face_share: float = 0.0,
) -> TimeEntry:
    """An unsaved seeded entry (demo data and benchmarks): a random activity with its stock
    note, face to face in `face_to_face_share` of entries, billed under the patient's billing
    practitioner. Draws from `rng` in one fixed order, so a seed gives the same entries."""
    activity = rng.choice(ACTIVITIES)
    face_to_face = rng.random() < face_to_face_share if face_to_face_share else False
    return TimeEntry(
        practice=practice,
        patient=patient,
        performer=performer,
        performer_kind=PerformerKind.PHYSICIAN if physician else PerformerKind.CLINICAL_STAFF,
        practitioner_id=patient.billing_practitioner_id,
        started_at=started,
        minutes=minutes,
        ended_at=started + dt.timedelta(minutes=minutes),
        activity=activity,
        note=NOTES[activity],
        face_to_face=face_to_face,
        billing_month=month,
        created_at=created_at,
    )


def _seed_month(
    practice: Practice,
    performers: Sequence[Membership],
    month: dt.date,
    now: dt.datetime,
    zone: zoneinfo.ZoneInfo,
) -> int:
    start, end = month_bounds(month, practice.time_zone)
    # The last hour stays free: a user who times a call right after seeding (a browser test,
    # a demo) must not collide with a made-up entry of their own (the overlap refusal).
    stop = min(end, now - dt.timedelta(hours=1))
    fraction = min(1.0, (stop - start) / (end - start))
    rng = random.Random(f"{practice.slug}-time-{month}")  # noqa: S311 (demo data)
    patients = list(
        Patient.objects.for_practice(practice)
        .filter(status=Status.ENROLLED, status_on__lt=month + dt.timedelta(days=27))
        .exclude(time_entries__billing_month=month)
        .order_by("mrn")
    )
    packer = _Packer(zone, start, stop)
    latest = (
        TimeEntry.objects.for_practice(practice)
        .filter(billing_month=month)
        .annotate(day=TruncDate("started_at", tzinfo=zone))
        .values("performer_id", "day")
        .annotate(last=Max("ended_at"))
    )
    for row in latest:
        # A re-run adds after what is there (same performer, same local day).
        packer.cursor[(row["performer_id"], row["day"])] = row["last"] + dt.timedelta(minutes=7)
    entries = []
    for patient in patients:
        for minutes in _minutes_plan(rng, fraction):
            performer = rng.choice(performers)
            started = packer.take(performer, minutes, rng.randrange(packer.days))
            if started is None:
                continue
            entries.append(
                demo_entry(
                    rng,
                    practice,
                    patient,
                    performer,
                    physician=can(performer, Capability.BILL_AS_PRACTITIONER),
                    started=started,
                    minutes=minutes,
                    month=month,
                    created_at=started + dt.timedelta(minutes=minutes),
                )
            )
    # ON CONFLICT DO NOTHING: the no-overlap constraint is the backstop for a concurrent run.
    TimeEntry.objects.for_practice(practice).bulk_create(
        entries, batch_size=2000, ignore_conflicts=True
    )
    return len(entries)


def seed_demo(demo: DemoSeed) -> None:
    """`manage.py seed_demo`'s time entries, by the coordinators and the physician (and the
    extra staff of big demos) (ccm/demo.py)."""
    m = demo.memberships
    performers = {
        "demo": [
            *(m[e] for e in ("coordinator@demo.test", "nurse@demo.test", "physician@demo.test")),
            *demo.extra_staff,
        ],
        "other": [m["coordinator@other.test"], m["physician@other.test"]],
    }
    for slug, staff in performers.items():
        demo.added["time entries"] += seed_time(
            practice=demo.practices[slug], performers=staff, months=demo.months
        )
    contact_demo.seed(demo)
    summary_demo.seed(demo)


def finish_demo(demo: DemoSeed) -> None:
    """Once every app has seeded (billing's seed computed the worklist's progress rows): the
    daily job's outreach tasks."""
    demo.added["tasks"] += sum(create_due_tasks(practice=p) for p in demo.practices.values())
    transition_demo.finish(demo)
