"""Small builders for engine facts: an eligible March 2026 patient-month in New York (as B01)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from billing.rules import (
    CarePlan,
    Consent,
    FeeSchedule,
    InitiatingVisit,
    Month,
    OtherService,
    Patient,
    PatientMonth,
    TimeEntry,
)

NEW_YORK = "America/New_York"


def entry(
    when: str,
    minutes: int,
    performer: str = "clinical_staff",
    *,
    practitioner: str = "P1",
    face_to_face: bool = False,
    in_billed_visit: bool = True,
) -> TimeEntry:
    """A time entry starting at a UTC instant written like "2026-03-04T15:00"."""
    return TimeEntry(
        started_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
        minutes=minutes,
        performer=performer,  # type: ignore[arg-type]
        practitioner=practitioner,
        face_to_face=face_to_face,
        in_billed_visit=in_billed_visit,
    )


def staff(day: int, minutes: int, **kwargs: Any) -> TimeEntry:
    """Clinical-staff minutes at 15:00 UTC (10:00 or 11:00 in New York) on a March 2026 day."""
    return entry(f"2026-03-{day:02d}T15:00", minutes, **kwargs)


def doctor(day: int, minutes: int, **kwargs: Any) -> TimeEntry:
    """The billing practitioner's own minutes at 20:00 UTC on a March 2026 day."""
    return entry(f"2026-03-{day:02d}T20:00", minutes, "physician", **kwargs)


def patient(**changes: Any) -> Patient:
    """An eligible patient; keyword arguments replace fields."""
    base = Patient(
        chronic_conditions=("E11.9", "I10"),
        consent=Consent(date(2026, 2, 10)),
        initiating_visit=InitiatingVisit(date(2025, 11, 2)),
        care_plan=CarePlan(date(2026, 2, 12)),
        mdm=None,
    )
    return dataclasses.replace(base, **changes)


def month_facts(*entries: TimeEntry, **changes: Any) -> PatientMonth:
    """Facts for March 2026 in New York, billing practitioner P1; keywords replace fields."""
    fees = changes.pop("fees", None)
    if fees is not None:
        changes["fee_schedule"] = FeeSchedule({code: Decimal(v) for code, v in fees.items()})
    if "services" in changes:
        changes["other_services"] = tuple(
            OtherService(code, who) for code, who in changes.pop("services")
        )
    base = PatientMonth(
        month=Month(2026, 3),
        timezone=NEW_YORK,
        billing_practitioner="P1",
        patient=patient(),
        time_entries=entries,
    )
    return dataclasses.replace(base, **changes)


def codes(result: Any) -> list[tuple[str, int]]:
    """The (code, units) pairs of a result's lines."""
    return [(line.code, line.units) for line in result.lines]
