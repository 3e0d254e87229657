"""Reads of patients' insurance coverage and the payers to choose from (issue 16). The month
close's read is `patients.selectors.coverage_in_force`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from ccm.models import Practice
from ccm.tenancy import parse_uuid
from patients.models import Coverage, Payer

MASK = "•"


def coverage_list(*, practice: Practice, patient_id: Any) -> QuerySet[Coverage]:
    """The patient's coverage, primary first, newest start first, payers joined (one query)."""
    return (
        Coverage.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("payer")
        .order_by("priority", "-starts_on", "-created_at")
    )


def coverage_get(*, practice: Practice, coverage_id: object) -> Coverage:
    """One coverage with its payer; 404 for a malformed id or another practice's coverage."""
    pk = parse_uuid(coverage_id)
    found = (
        Coverage.objects.for_practice(practice).filter(pk=pk).select_related("payer").first()
        if pk is not None
        else None
    )
    if found is None:
        raise Http404
    return found


def payer_choices(*, practice: Practice, keep: Any = None) -> QuerySet[Payer]:
    """The practice's active payers by name (and the payer `keep`, a coverage's current one,
    even when inactive: editing the coverage must not drop it)."""
    wanted = Q(is_active=True) | Q(pk=keep) if keep is not None else Q(is_active=True)
    return Payer.objects.for_practice(practice).filter(wanted).order_by("name", "payer_id")


def masked(member_id: str) -> str:
    """A member id as the chart shows it: the last four characters only."""
    if len(member_id) <= 4:
        return member_id
    return MASK * (len(member_id) - 4) + member_id[-4:]


@dataclass(frozen=True)
class CoverageRow:
    """One coverage as the chart lists it."""

    coverage: Coverage
    member_id: str  # masked
    state: str  # "in force", "ended", "future"

    @property
    def in_force(self) -> bool:
        return self.state == "in force"


def coverage_rows(*, practice: Practice, patient_id: Any, today: dt.date) -> list[CoverageRow]:
    """The chart's coverage section: every coverage of the patient with its state today."""
    rows = []
    for coverage in coverage_list(practice=practice, patient_id=patient_id):
        if coverage.starts_on > today:
            state = "future"
        elif coverage.ends_on is not None and coverage.ends_on < today:
            state = "ended"
        else:
            state = "in force"
        rows.append(CoverageRow(coverage, masked(coverage.member_id), state))
    return rows
