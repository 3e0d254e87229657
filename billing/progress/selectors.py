"""Reads of the worklist's progress that need the billing engine: the chart's time panel
(countable minutes, the next threshold, R37's simultaneous minutes, whether Medicare coverage
is in force for the month) on today's facts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from billing.close.coverage import billable_primary
from billing.inputs import facts
from billing.inputs.loading import policy as billing_policy
from billing.rules.engine import simultaneous_entries
from billing.rules.progress import progress
from ccm.models import Practice
from ccm.months import previous_month
from patients.models import Patient
from patients.selectors import coverage_in_force
from timelog.models import MonthLock, Task, TimeEntry
from timelog.selectors import task_list, time_entry_list

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
    simultaneous_minutes: int  # R37: staff-pool minutes counted once this month
    overlapping_entry_ids: set[Any]  # R37: this month's entries sharing minutes with another
    months: list[ChartMonth]
    open_tasks: list[Task]
    # No Medicare coverage in force this month: the close will not bill it (coverage gate).
    no_coverage: bool = False

    @property
    def staff_pool(self) -> int:
        return self.clinical_staff_minutes + self.physician_minutes

    @property
    def percent(self) -> int:
        if self.minutes_needed is None:
            return 100
        return min(100, round(100 * self.staff_pool / (self.staff_pool + self.minutes_needed)))


def chart_time(
    *, practice: Practice, patient: Patient, month: dt.date, today: dt.date
) -> ChartTime:
    """Time and tasks for a patient's chart (conditions and consents come prefetched)."""
    first = month
    for _ in range(CHART_MONTHS - 1):
        first = previous_month(first)
    entries = list(
        time_entry_list(practice=practice, patient_id=patient.pk).filter(
            billing_month__gte=first, billing_month__lte=month
        )
    )
    locked = set(
        MonthLock.objects.for_practice(practice)
        .filter(month__gte=first, month__lte=month)
        .values_list("month", flat=True)
    )
    this_month = facts.engine_entries(e for e in entries if e.billing_month == month)
    month_facts = facts.patient_month(
        zone_name=practice.time_zone,
        month=month,
        patient=patient,
        conditions=patient.conditions.all(),
        consents=patient.consents.all(),
        entries=this_month,
    )
    rules_policy = billing_policy(practice)
    minutes, next_threshold, simultaneous = progress(month_facts, rules_policy)
    # R37: the entries that share clock minutes with another, flagged on the chart.
    overlapping = {this_month[i].pk for i in simultaneous_entries(month_facts, rules_policy)}
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
        simultaneous_minutes=simultaneous,
        overlapping_entry_ids=overlapping,
        months=months,
        open_tasks=list(
            task_list(practice=practice, view="open", patient_id=patient.pk, today=today)
        ),
        no_coverage=not billable_primary(
            coverage_in_force(practice=practice, patient_ids=[patient.pk], month=month)[patient.pk]
        ),
    )
