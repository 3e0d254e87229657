"""Reads of a month's claims and not-billable outcomes (practice-bound, no side effects)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet, Sum

from billing.models import Claim, ClaimLine, ClaimStatus, Outcome
from ccm.models import Membership, Practice

BY_NAME = ("patient__last_name", "patient__first_name", "patient_id")
BY_CREATION = ("created_at", "id")  # the API's pages: stable whatever names change


def month_claims(practice: Practice, month: dt.date, *, withdrawn: bool = False) -> QuerySet[Claim]:
    """The month's claims with patient, practitioner and lines (four queries); withdrawn
    claims only when asked (the review page shows them, exports and totals do not)."""
    lines = ClaimLine.objects.for_practice(practice).order_by("position")
    claims = (
        Claim.objects.for_practice(practice)
        .filter(month=month)
        .select_related("patient", "billing_practitioner__user")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .order_by(*BY_NAME)
    )
    return claims if withdrawn else claims.exclude(status=ClaimStatus.WITHDRAWN)


def claim_review_list(
    *,
    practice: Practice,
    month: dt.date,
    practitioner_id: uuid.UUID | None = None,
    code: str = "",
    status: str = "",
) -> QuerySet[Claim]:
    """The review page's claims (withdrawn included), filtered by practitioner, line code
    and status when given."""
    rows = month_claims(practice, month, withdrawn=True)
    if practitioner_id:
        rows = rows.filter(billing_practitioner_id=practitioner_id)
    if code:
        lines = ClaimLine.objects.for_practice(practice).filter(claim=OuterRef("pk"), code=code)
        rows = rows.filter(Exists(lines))
    if status in ClaimStatus.values:
        rows = rows.filter(status=status)
    return rows


def claim_api_list(*, practice: Practice, month: dt.date) -> QuerySet[Claim]:
    """The API's claims of a month with patient and lines, in creation order."""
    return (
        Claim.objects.for_practice(practice)
        .filter(month=month)
        .select_related("patient")
        .prefetch_related(Prefetch("lines", queryset=ClaimLine.objects.for_practice(practice)))
        .order_by(*BY_CREATION)
    )


def claim_pages(*, practice: Practice) -> QuerySet[Claim]:
    """The practice's claims as the claim page reads one: with its patient in the same query
    (a lazy load would read the patient by id alone, a query every shard answers on Citus)."""
    return Claim.objects.for_practice(practice).select_related("patient")


def claim_lines(*, claim: Claim) -> list[ClaimLine]:
    return list(ClaimLine.objects.for_practice(claim.practice_id).filter(claim=claim))


def claim_outcome(*, claim: Claim) -> Outcome | None:
    """The engine's outcome of the claim's patient-month (its explanation)."""
    outcomes = Outcome.objects.for_practice(claim.practice_id)
    return outcomes.filter(patient_id=claim.patient_id, month=claim.month).first()


def claims_in_month(*, practice: Practice, month: dt.date, claim_ids: list[Any]) -> bool:
    """Whether every id names a claim of this month (a bulk change refuses otherwise)."""
    found = Claim.objects.for_practice(practice).filter(pk__in=claim_ids, month=month).count()
    return found == len(set(claim_ids))


def claim_status_counts(*, practice: Practice, month: dt.date) -> dict[str, int]:
    return dict(
        Claim.objects.for_practice(practice)
        .filter(month=month)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )


def claim_totals(*, practice: Practice, month: dt.date) -> dict[str, Any]:
    """Count and amount of the month's claims but the withdrawn ones."""
    return (
        Claim.objects.for_practice(practice)
        .filter(month=month)
        .exclude(status=ClaimStatus.WITHDRAWN)
        .aggregate(n=Count("pk"), amount=Sum("amount"))
    )


def claim_practitioners(*, practice: Practice, month: dt.date) -> list[Membership]:
    """The month's billing practitioners (the claims filter's choices)."""
    claims = Claim.objects.for_practice(practice).filter(month=month)
    ids = claims.values_list("billing_practitioner_id", flat=True)
    members = Membership.objects.for_practice(practice).filter(pk__in=ids)
    return list(members.select_related("user"))


def not_billable_list(
    *,
    practice: Practice,
    month: dt.date,
    practitioner_id: uuid.UUID | None = None,
    order: tuple[str, ...] = BY_NAME,
) -> QuerySet[Outcome]:
    """The month's patient-months that do not bill, with the patient; by name unless asked."""
    rows = (
        Outcome.objects.for_practice(practice)
        .filter(month=month, billable=False)
        .select_related("patient")
        .order_by(*order)
    )
    if practitioner_id:
        rows = rows.filter(patient__billing_practitioner_id=practitioner_id)
    return rows


def not_billable_count(*, practice: Practice, month: dt.date) -> int:
    return Outcome.objects.for_practice(practice).filter(month=month, billable=False).count()
