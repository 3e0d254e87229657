"""Reads for patients. Each takes the practice explicitly; list reads have a fixed query count."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from ccm.models import Membership, Practice
from ccm.roles import Capability, roles_with
from ccm.selectors import per_row
from ccm.tenancy import parse_uuid
from patients.models import (
    Condition,
    ConditionStatus,
    Consent,
    Coverage,
    CoveragePriority,
    Patient,
    Status,
)

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y")


def _parse_date(text: str) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()  # noqa: DTZ007 (a calendar date)
        except ValueError:
            continue
    return None


def search_filter(q: str) -> Q:
    """Name (any order, prefix), MRN (prefix) or date of birth (several formats)."""
    q = q.strip()
    if not q:
        return Q()
    born = _parse_date(q)
    if born is not None:
        return Q(date_of_birth=born)
    match = Q(mrn__istartswith=q)
    words = q.replace(",", " ").split()
    names = Q()
    for word in words:
        names &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    return match | names


def patient_list(
    *,
    practice: Practice,
    q: str = "",
    status: str = "",
    coordinator_id: uuid.UUID | None = None,
) -> QuerySet[Patient]:
    """The practice's patients, filtered, sorted by name; coordinator and condition count
    are joined/annotated so a page costs the same number of queries at any size."""
    # A correlated subquery, not a JOIN + GROUP BY: PostgreSQL sorts and limits first and
    # counts conditions only for the page's rows (the GROUP BY counted all 10,000).
    chronic = per_row(
        Condition.objects.for_practice(practice).filter(
            patient=OuterRef("pk"), is_chronic=True, status=ConditionStatus.ACTIVE
        ),
        "patient",
        Count("pk"),
        IntegerField(),
    )
    qs: QuerySet[Patient] = (
        Patient.objects.for_practice(practice)  # type: ignore[assignment]
        .filter(search_filter(q))
        .select_related("coordinator__user")
        .annotate(chronic_count=chronic)
        .order_by("last_name", "first_name", "mrn")
    )
    if status:
        qs = qs.filter(status=status)
    if coordinator_id:
        qs = qs.filter(coordinator_id=coordinator_id)
    return qs


def patient_get(*, practice: Practice, patient_id: object) -> Patient:
    """One patient with conditions, consents and history prefetched; 404 for a malformed id
    or another practice's patient (the same answer as a missing one)."""
    pk = parse_uuid(patient_id)
    patient = (
        Patient.objects.for_practice(practice)
        .filter(pk=pk)
        .select_related("coordinator__user", "billing_practitioner__user")
        .prefetch_related(
            Prefetch(
                "conditions",
                queryset=Condition.objects.for_practice(practice).order_by("position"),
            ),
            Prefetch(
                "consents",
                queryset=Consent.objects.for_practice(practice).select_related(
                    "obtained_by__user", "revoked_by__user"
                ),
            ),
            "enrollment_events__actor__user",
        )
        .first()
        if pk is not None
        else None
    )
    if patient is None:
        raise Http404
    return patient


def clinician_choices(*, practice: Practice) -> QuerySet[Membership]:
    """Active members who can be assigned as coordinator (any clinical role)."""
    return (
        Membership.objects.for_practice(practice)
        .filter(is_active=True)
        .filter(role__in=roles_with(Capability.EDIT_CLINICAL))
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def physician_choices(*, practice: Practice) -> QuerySet[Membership]:
    """Active physicians (billing practitioners)."""
    return clinician_choices(practice=practice).filter(
        role__in=roles_with(Capability.BILL_AS_PRACTITIONER)
    )


def status_counts(*, practice: Practice) -> list[tuple[str, str, int]]:
    """(status, label, count) for every enrollment status, one query (home page census)."""
    counts = dict(
        Patient.objects.for_practice(practice)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return [(value, label, counts.get(value, 0)) for value, label in Status.choices]


@dataclass(frozen=True)
class CoverageInForce:
    """A patient's coverage for a month: the primary and secondary rows in force (latest
    start wins when two of a priority overlap the month), None when there is none."""

    primary: Coverage | None
    secondary: Coverage | None


def coverage_in_force(
    *, practice: Practice, patient_ids: Iterable[Any], month: dt.date
) -> dict[Any, CoverageInForce]:
    """Coverage in force in `month` for each patient (one query whatever their number);
    every requested patient has an entry."""
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    ids = list(patient_ids)
    rows = (
        Coverage.objects.for_practice(practice)
        .filter(patient_id__in=ids, starts_on__lte=last)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=first))
        .select_related("payer")
        .order_by("patient_id", "starts_on", "created_at")
    )
    found: dict[Any, dict[str, Coverage]] = {pk: {} for pk in ids}
    for row in rows:
        found[row.patient_id][row.priority] = row  # later starts overwrite earlier ones
    return {
        pk: CoverageInForce(
            primary=by.get(CoveragePriority.PRIMARY), secondary=by.get(CoveragePriority.SECONDARY)
        )
        for pk, by in found.items()
    }
