"""Totals of logged time by month, for the time list ("My time") and its member filter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, Sum

from ccm.models import Practice
from ccm.months import previous_month
from timelog.models import Activity, TimeEntry
from timelog.selectors import adjusted

MONTHS_SHOWN = 6

# What the time list flags as not counted toward CCM (TimeEntry.counts_toward_billing).
NOT_COUNTED = Q(face_to_face=True) | Q(activity=Activity.ENROLLMENT_OUTREACH)


@dataclass(frozen=True)
class MonthTotal:
    month: dt.date
    entries: int
    minutes: int  # after adjustments
    not_counted: int  # face-to-face and enrollment outreach minutes

    @property
    def counted(self) -> int:
        return self.minutes - self.not_counted


def time_totals_by_month(
    *, practice: Practice, month: dt.date, performer_id: Any = None
) -> list[MonthTotal]:
    """The `month` and the months before it (MONTHS_SHOWN in all), newest first, with their
    entries and minutes (one member's when `performer_id` is given); one query, no writes."""
    months = [month]
    while len(months) < MONTHS_SHOWN:
        months.append(previous_month(months[-1]))
    entries = TimeEntry.objects.for_practice(practice).filter(billing_month__in=months)
    if performer_id is not None:
        entries = entries.filter(performer_id=performer_id)
    rows = (
        adjusted(entries, practice)
        .order_by()
        .values("billing_month")
        .annotate(
            n=Count("pk"),
            total=Sum("effective_minutes"),
            not_counted=Sum("effective_minutes", filter=NOT_COUNTED),
        )
    )
    by_month: dict[dt.date, dict[str, Any]] = {row["billing_month"]: dict(row) for row in rows}
    totals = []
    for m in months:
        row: dict[str, Any] = by_month.get(m, {})
        totals.append(
            MonthTotal(
                month=m,
                entries=row.get("n") or 0,
                minutes=row.get("total") or 0,
                not_counted=row.get("not_counted") or 0,
            )
        )
    return totals
