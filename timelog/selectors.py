"""Reads for time and outreach: entries, the worklist (progress by the billing engine), tasks.

Every selector takes the practice explicitly and has a fixed query count whatever the number
of rows (pinned by tests).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing import facts
from billing.months import last_day, month_bounds
from billing.rules import DEFAULT_POLICY
from billing.rules.codes import STAFF_TRACK
from billing.rules.progress import progress
from ccm.models import Membership, Practice
from patients.models import Condition, Consent, Patient, Status
from timelog.models import CONTACT_ACTIVITIES, Task, TaskStatus, TimeAdjustment, TimeEntry

NO_CONTACT_DAYS = 30
FIRST_THRESHOLD = STAFF_TRACK.threshold  # R19: 20 staff-pool minutes for 99490


def _adjusted(queryset: QuerySet[TimeEntry]) -> QuerySet[TimeEntry]:
    """Annotate `effective_minutes`: minutes after audited adjustments (closed months)."""
    deltas = (
        TimeAdjustment.objects.unscoped()
        .filter(entry=OuterRef("pk"))
        .order_by()
        .values("entry")
        .annotate(total=Sum("minutes_delta"))
        .values("total")
    )
    return queryset.annotate(
        effective_minutes=F("minutes")
        + Coalesce(Subquery(deltas, output_field=IntegerField()), Value(0))
    )


def time_entry_list(
    *,
    practice: Practice,
    patient_id: Any = None,
    month: dt.date | None = None,
    performer_id: Any = None,
) -> QuerySet[TimeEntry]:
    """Entries newest first, with patient, performer and adjustments (fixed query count)."""
    queryset = (
        TimeEntry.objects.unscoped()
        .filter(practice=practice)
        .select_related("patient", "performer__user")
        .prefetch_related(
            Prefetch(
                "adjustments",
                queryset=TimeAdjustment.objects.unscoped().select_related("actor__user"),
            )
        )
        .order_by("-started_at")
    )
    if patient_id is not None:
        queryset = queryset.filter(patient_id=patient_id)
    if month is not None:
        queryset = queryset.filter(billing_month=month)
    if performer_id is not None:
        queryset = queryset.filter(performer_id=performer_id)
    return _adjusted(queryset)


def time_entry_get(*, practice: Practice, entry_id: Any) -> TimeEntry:
    from ccm.tenancy import get_for_practice_or_404

    entry = get_for_practice_or_404(TimeEntry, practice, entry_id)
    return time_entry_list(practice=practice).get(pk=entry.pk)


# --- Worklist --------------------------------------------------------------------------------


@dataclass
class WorklistRow:
    """One enrolled patient's month: minutes, the engine's next threshold, contact, tasks."""

    patient: Patient
    clinical_staff_minutes: int
    physician_minutes: int
    next_code: str | None
    minutes_needed: int | None
    days_left: int
    behind_pace: bool
    last_contact: dt.datetime | None
    open_tasks: int
    next_task: Task | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def staff_pool(self) -> int:
        return self.clinical_staff_minutes + self.physician_minutes

    @property
    def target(self) -> int | None:
        """Minutes at the next threshold (for the progress bar)."""
        if self.minutes_needed is None:
            return None
        return self.staff_pool + self.minutes_needed

    @property
    def percent(self) -> int:
        target = self.target
        if not target:
            return 100
        return min(100, round(100 * self.staff_pool / target))


@dataclass(frozen=True)
class Pace:
    """Where today sits in the month (R1: the practice's zone)."""

    days_in_month: int
    days_elapsed: int

    @property
    def days_left(self) -> int:
        return self.days_in_month - self.days_elapsed

    def expected_minutes(self) -> int:
        """Staff-pool minutes a patient should have by now to reach 20 by month end."""
        return math.ceil(FIRST_THRESHOLD * self.days_elapsed / self.days_in_month)


def month_pace(month: dt.date, today: dt.date) -> Pace:
    days = last_day(month).day
    if today < month:
        return Pace(days, 0)
    if today > last_day(month):
        return Pace(days, days)
    return Pace(days, today.day)


WORKLIST_FILTERS = {
    "": "All patients",
    "below": f"Below {FIRST_THRESHOLD} minutes",
    "behind": "Behind pace",
    "no_contact": f"No contact in {NO_CONTACT_DAYS} days",
}
WORKLIST_SORTS = {
    "name": "Name",
    "minutes": "Fewest minutes first",
    "needed": "Closest to the next threshold",
    "contact": "Longest without contact",
    "due": "Next task due",
}


def _worklist_base(
    practice: Practice, month: dt.date, coordinator: Membership | None
) -> QuerySet[Patient]:
    """Enrolled now, or left CCM during or after this month (still billable for it, R7)."""
    queryset: QuerySet[Patient] = (
        Patient.objects.unscoped()
        .filter(practice=practice)
        .filter(Q(status=Status.ENROLLED) | Q(status=Status.DISENROLLED, status_on__gte=month))
    )
    if coordinator is not None:
        queryset = queryset.filter(coordinator=coordinator)
    return queryset


def _worklist_patients(
    practice: Practice, month: dt.date, coordinator: Membership | None
) -> QuerySet[Patient]:
    month_end = month_bounds(month, practice.time_zone)[1]
    contacts = (
        TimeEntry.objects.unscoped()
        .filter(patient=OuterRef("pk"), activity__in=CONTACT_ACTIVITIES, started_at__lt=month_end)
        .order_by()
        .values("patient")
        .annotate(last=Max("started_at"))
        .values("last")
    )
    open_tasks = Task.objects.unscoped().filter(patient=OuterRef("pk"), status=TaskStatus.OPEN)
    return (
        _worklist_base(practice, month, coordinator)
        .select_related("coordinator__user")
        .annotate(
            last_contact=Subquery(contacts),
            next_task_id=Subquery(open_tasks.order_by("due_on", "created_at").values("id")[:1]),
            next_task_due=Subquery(open_tasks.order_by("due_on").values("due_on")[:1]),
            open_task_count=Coalesce(
                Subquery(
                    open_tasks.order_by().values("patient").annotate(n=Count("pk")).values("n"),
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
        )
        .order_by("last_name", "first_name", "mrn")
    )


def worklist(
    *,
    practice: Practice,
    month: dt.date,
    coordinator: Membership | None = None,
    show: str = "",
    sort: str = "name",
    today: dt.date | None = None,
) -> list[WorklistRow]:
    """Every enrolled patient's month (five queries whatever the count): the engine's
    minutes and next threshold (R16-R27), pace, last contact, open tasks, flags."""
    today = today or timezone.localdate()
    now = timezone.now()
    contact_cutoff = now - dt.timedelta(days=NO_CONTACT_DAYS)
    patients = list(_worklist_patients(practice, month, coordinator))
    # Light named rows (no model instances): a large practice has tens of thousands.
    ids = [p.pk for p in patients]  # an IN list plans far better here than a subquery
    month_entries: QuerySet[Any] = _adjusted(
        TimeEntry.objects.unscoped().filter(
            practice=practice, billing_month=month, patient_id__in=ids
        )
    )
    entries = _by_patient(
        month_entries.order_by().values_list(
            "patient_id",
            "started_at",
            "minutes",
            "effective_minutes",
            "performer_kind",
            "practitioner_id",
            "face_to_face",
            "activity",
            named=True,
        )
    )
    conditions = _by_patient(
        Condition.objects.unscoped()
        .filter(practice=practice, patient_id__in=ids)
        .order_by("position", "created_at")
        .values_list("patient_id", "icd10_code", "is_chronic", "status", named=True)
    )
    consents = _by_patient(
        Consent.objects.unscoped()
        .filter(practice=practice, patient_id__in=ids)
        .order_by()
        .values_list("patient_id", "given_on", "revoked_on", "created_at", named=True)
    )
    pace = month_pace(month, today)
    rows = [
        _row(practice, month, patient, entries, conditions, consents, pace, contact_cutoff)
        for patient in patients
    ]
    return _sorted(_filtered(rows, show), sort)


def _by_patient(queryset: QuerySet[Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for obj in queryset:
        grouped[obj.patient_id].append(obj)
    return grouped


def _row(
    practice: Practice,
    month: dt.date,
    patient: Patient,
    entries: dict[Any, list[Any]],
    conditions: dict[Any, list[Any]],
    consents: dict[Any, list[Any]],
    pace: Pace,
    contact_cutoff: dt.datetime,
) -> WorklistRow:
    patient_consents = consents.get(patient.pk, [])
    month_facts = facts.patient_month(
        zone_name=practice.time_zone,
        month=month,
        patient=patient,
        conditions=conditions.get(patient.pk, []),
        consents=patient_consents,
        entries=entries.get(patient.pk, []),
    )
    minutes, next_threshold = progress(month_facts, DEFAULT_POLICY)
    pool = minutes.staff_pool
    behind = pool < FIRST_THRESHOLD and pool < (
        FIRST_THRESHOLD if pace.days_left == 0 else pace.expected_minutes()
    )
    last_contact = patient.last_contact  # type: ignore[attr-defined]
    row = WorklistRow(
        patient=patient,
        clinical_staff_minutes=minutes.clinical_staff,
        physician_minutes=minutes.physician,
        next_code=next_threshold.code if next_threshold else None,
        minutes_needed=next_threshold.minutes_needed if next_threshold else None,
        days_left=pace.days_left,
        behind_pace=behind,
        last_contact=last_contact,
        open_tasks=patient.open_task_count,  # type: ignore[attr-defined]
    )
    if month_facts.patient.consent.given_on is None:
        row.flags.append("No consent on file")
    if patient.billing_practitioner_id is None:
        row.flags.append("No billing practitioner")
    if last_contact is None or last_contact < contact_cutoff:
        row.flags.append(f"No contact in {NO_CONTACT_DAYS} days")
    return row


def _filtered(rows: list[WorklistRow], show: str) -> list[WorklistRow]:
    if show == "below":
        return [r for r in rows if r.staff_pool < FIRST_THRESHOLD]
    if show == "behind":
        return [r for r in rows if r.behind_pace]
    if show == "no_contact":
        return [r for r in rows if f"No contact in {NO_CONTACT_DAYS} days" in r.flags]
    return rows


_FAR_PAST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


def _sorted(rows: list[WorklistRow], sort: str) -> list[WorklistRow]:
    # Python's sort is stable, so ties keep the name order of the query.
    if sort == "minutes":
        rows.sort(key=lambda r: r.staff_pool)
    elif sort == "needed":
        rows.sort(key=lambda r: (r.minutes_needed is None, r.minutes_needed or 0))
    elif sort == "contact":
        rows.sort(key=lambda r: r.last_contact or _FAR_PAST)
    elif sort == "due":
        rows.sort(key=lambda r: r.patient.next_task_due or dt.date.max)  # type: ignore[attr-defined]
    return rows


def attach_next_tasks(rows: list[WorklistRow]) -> None:
    """Load the next open task of the rows shown (one query), e.g. after pagination."""
    wanted = [r.patient.next_task_id for r in rows if r.patient.next_task_id]  # type: ignore[attr-defined]
    # The scoped manager: runs only inside the request's (or job's) practice scope.
    tasks = {t.pk: t for t in Task.objects.filter(pk__in=wanted)}
    for row in rows:
        row.next_task = tasks.get(row.patient.next_task_id)  # type: ignore[attr-defined]


# --- Tasks -----------------------------------------------------------------------------------

TASK_VIEWS = {
    "mine": "My open tasks",
    "today": "Due today",
    "overdue": "Overdue",
    "open": "All open tasks",
    "closed": "Closed",
}


def task_list(
    *,
    practice: Practice,
    view: str = "mine",
    membership: Membership | None = None,
    patient_id: Any = None,
    today: dt.date | None = None,
) -> QuerySet[Task]:
    """Tasks by view (mine/today/overdue/open/closed), soonest due first; fixed query count."""
    today = today or timezone.localdate()
    queryset = (
        Task.objects.unscoped()
        .filter(practice=practice)
        .select_related("patient", "assignee__user", "completed_by__user")
    )
    if patient_id is not None:
        queryset = queryset.filter(patient_id=patient_id)
    if view == "all":
        return queryset.order_by("due_on", "created_at")
    if view == "closed":
        return queryset.exclude(status=TaskStatus.OPEN).order_by("-completed_at")
    queryset = queryset.filter(status=TaskStatus.OPEN)
    if view == "mine" and membership is not None:
        queryset = queryset.filter(assignee=membership)
    elif view == "today":
        queryset = queryset.filter(due_on=today)
    elif view == "overdue":
        queryset = queryset.filter(due_on__lt=today)
    return queryset.order_by("due_on", "created_at")


# --- Chart -----------------------------------------------------------------------------------

CHART_MONTHS = 3


@dataclass
class ChartMonth:
    month: dt.date
    locked: bool
    entries: list[TimeEntry]

    @property
    def total(self) -> int:
        return sum(e.effective_minutes for e in self.entries)  # type: ignore[attr-defined]


@dataclass
class ChartTime:
    """The chart's time panel: this month's progress, recent months' entries, open tasks."""

    month: dt.date
    clinical_staff_minutes: int
    physician_minutes: int
    next_code: str | None
    minutes_needed: int | None
    months: list[ChartMonth]
    open_tasks: list[Task]

    @property
    def staff_pool(self) -> int:
        return self.clinical_staff_minutes + self.physician_minutes

    @property
    def percent(self) -> int:
        if self.minutes_needed is None:
            return 100
        return min(100, round(100 * self.staff_pool / (self.staff_pool + self.minutes_needed)))


def chart_time(*, practice: Practice, patient: Patient, month: dt.date) -> ChartTime:
    """Time and tasks for a patient's chart (conditions and consents come prefetched)."""
    from billing.months import previous_month
    from timelog.models import MonthLock

    first = month
    for _ in range(CHART_MONTHS - 1):
        first = previous_month(first)
    entries = list(
        time_entry_list(practice=practice, patient_id=patient.pk).filter(
            billing_month__gte=first, billing_month__lte=month
        )
    )
    locked = set(
        MonthLock.objects.unscoped()
        .filter(practice=practice, month__gte=first, month__lte=month)
        .values_list("month", flat=True)
    )
    month_facts = facts.patient_month(
        zone_name=practice.time_zone,
        month=month,
        patient=patient,
        conditions=patient.conditions.all(),
        consents=patient.consents.all(),
        entries=[e for e in entries if e.billing_month == month],
    )
    minutes, next_threshold = progress(month_facts, DEFAULT_POLICY)
    months = []
    cursor = month
    for _ in range(CHART_MONTHS):
        months.append(
            ChartMonth(cursor, cursor in locked, [e for e in entries if e.billing_month == cursor])
        )
        cursor = previous_month(cursor)
    return ChartTime(
        month=month,
        clinical_staff_minutes=minutes.clinical_staff,
        physician_minutes=minutes.physician,
        next_code=next_threshold.code if next_threshold else None,
        minutes_needed=next_threshold.minutes_needed if next_threshold else None,
        months=months,
        open_tasks=list(task_list(practice=practice, view="open", patient_id=patient.pk)),
    )
