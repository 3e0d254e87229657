"""Billing months in a practice's time zone (R1): parsing, bounds, the month of an instant.

A billing month is the calendar month in the practice's zone; instants are stored in UTC.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zoneinfo

from django.core.exceptions import ValidationError

MONTH_FORMAT_MESSAGE = "Give the month as YYYY-MM, e.g. 2026-10."
# The months the application knows: wide enough for any real billing history or plan, narrow
# enough that month arithmetic (the next month, a month's bounds in a zone) never leaves the
# calendar: 9999-12 has no next month. Fixed rather than relative to today, so a URL that
# works today works tomorrow and the schema can state the range as a pattern.
FIRST_MONTH = dt.date(2000, 1, 1)
LAST_MONTH = dt.date(2100, 12, 1)
MONTH_RANGE_MESSAGE = f"Give a month from {FIRST_MONTH:%Y-%m} to {LAST_MONTH:%Y-%m}."
# The same rule for OpenAPI (the `month` of every API path and filter), format and range.
MONTH_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$"
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only, matched whole


def parse_month(text: str) -> dt.date:
    """'2026-10' → date(2026, 10, 1); anything else, or a month out of range, raises
    ValidationError (a 400 in the API, a form error on pages)."""
    match = _MONTH.fullmatch(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValidationError({"month": MONTH_FORMAT_MESSAGE})
    year, number = int(match.group(1)), int(match.group(2))
    # Compared before making a date: year 0000 has none.
    if not FIRST_MONTH.year <= year <= LAST_MONTH.year:
        raise ValidationError({"month": MONTH_RANGE_MESSAGE})
    return dt.date(year, number, 1)


def month_label(month: dt.date) -> str:
    return f"{month:%Y-%m}"


def month_of(instant: dt.datetime, zone_name: str) -> dt.date:
    """First day of the billing month an instant falls in, in the practice's zone."""
    local = instant.astimezone(zoneinfo.ZoneInfo(zone_name))
    return dt.date(local.year, local.month, 1)


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: dt.date) -> dt.date:
    return dt.date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def last_day(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def month_bounds(month: dt.date, zone_name: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a billing month as aware UTC instants (DST-safe: local midnights)."""
    zone = zoneinfo.ZoneInfo(zone_name)
    start = dt.datetime(month.year, month.month, 1, tzinfo=zone)
    following = next_month(month)
    end = dt.datetime(following.year, following.month, 1, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
