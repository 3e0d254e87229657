"""Reads of a practice's month closes (practice-bound, no side effects)."""

from __future__ import annotations

import datetime as dt

from billing.models import MonthClose, MonthReopening
from ccm.models import Practice


def month_close_get(*, practice: Practice, month: dt.date) -> MonthClose | None:
    """The month's close row; None while the month was never closed (it is open)."""
    return MonthClose.objects.for_practice(practice).filter(month=month).first()


def month_close_by_month(*, practice: Practice) -> dict[dt.date, MonthClose]:
    return {c.month: c for c in MonthClose.objects.for_practice(practice)}


def month_reopenings(*, close: MonthClose) -> list[MonthReopening]:
    """Every reopening of the month, the latest first, with who reopened it."""
    rows = MonthReopening.objects.for_practice(close.practice_id).filter(close=close)
    return list(rows.select_related("reopened_by__user"))
