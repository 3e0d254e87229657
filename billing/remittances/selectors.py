"""Reads of acknowledgments, remittances and the money behind claims (practice-bound, no
side effects): the files imported, their claims, the month's money and the receivables'
ageing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, cast

from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate

from billing.models import (
    Acknowledgment,
    Claim,
    ClaimAcknowledgment,
    ClaimStatus,
    MonthClose,
    Remittance,
    RemittanceAdjustment,
    RemittanceClaim,
    SubmissionBatch,
    claim_id_range,
)
from ccm.models import Practice

ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=12, decimal_places=2)
# What a claim was billed: the 837's charge once a batch set it, else the close's amount.
BILLED = Coalesce(F("billed_amount"), F("amount"), output_field=_MONEY)
# Sent and not yet paid or denied: what the payer still owes an answer on.
OUTSTANDING = (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, ClaimStatus.REJECTED)
SETTLED = (ClaimStatus.PAID, ClaimStatus.DENIED)
# Accounts-receivable ageing: days since the claim was submitted (label, first, last day).
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


# --- matching and locking (the services' reads) -------------------------------------------


def claims_by_control_number(
    *, practice: Practice, numbers: Iterable[str], lock: bool = False
) -> dict[str, Claim]:
    """The practice's claims named by patient control numbers (CLM01), in one query; a
    number that is not one of this practice's claims is simply absent. `lock`: FOR UPDATE,
    in id order (as billing.claims.services locks claims)."""
    ranges = Q()
    for number in set(numbers):
        bounds = claim_id_range(number)
        if bounds is not None:
            ranges |= Q(pk__range=bounds)
    if not ranges:
        return {}
    claims = Claim.objects.for_practice(practice).filter(ranges).order_by("pk")
    if lock:
        claims = claims.select_for_update()
    return {claim.control_number: claim for claim in claims}


def lock_months(*, practice: Practice, numbers: Iterable[str]) -> None:
    """Lock the month closes of the claims named (month order, before their claims, as a
    status change and a reopen do): no reopen runs while a file posts to its claims."""
    ranges = Q()
    for number in set(numbers):
        bounds = claim_id_range(number)
        if bounds is not None:
            ranges |= Q(pk__range=bounds)
    if not ranges:
        return
    months = Claim.objects.for_practice(practice).filter(ranges).values("month")
    closes = MonthClose.objects.for_practice(practice).filter(month__in=months)
    list(closes.select_for_update().order_by("month").values_list("pk", flat=True))


def batch_by_control_number(*, practice: Practice, number: int | None) -> SubmissionBatch | None:
    if number is None:
        return None
    batches = SubmissionBatch.objects.for_practice(practice).select_for_update()
    return batches.filter(control_number=number).first()


def acknowledgment_by_hash(*, practice: Practice, sha256: str) -> Acknowledgment | None:
    return Acknowledgment.objects.for_practice(practice).filter(sha256=sha256).first()


def remittance_existing(
    *, practice: Practice, sha256: str, payer_id: str, trace_number: str
) -> Remittance | None:
    """The remittance this file was imported as: the same file, or the same payment (one
    payer's trace number is one payment, whatever the file's bytes)."""
    same = Q(sha256=sha256) | Q(payer_id=payer_id, trace_number=trace_number)
    return Remittance.objects.for_practice(practice).filter(same).first()


# --- lists and details ------------------------------------------------------------------------


def acknowledgment_list(*, practice: Practice) -> QuerySet[Acknowledgment]:
    rows = (
        Acknowledgment.objects.for_practice(practice)
        .select_related("batch", "uploaded_by__user")
        .annotate(
            claims_total=Count("claim_statuses"),
            claims_accepted=Count("claim_statuses", filter=Q(claim_statuses__accepted=True)),
        )
        .order_by("-created_at", "pk")
    )
    return cast("QuerySet[Acknowledgment]", rows)


def acknowledgment_get(*, practice: Practice, acknowledgment_id: Any) -> Acknowledgment:
    """One acknowledgment with its batch and its claims' statuses (with claim and patient);
    DoesNotExist for another practice's."""
    statuses = (
        ClaimAcknowledgment.objects.for_practice(practice)
        .select_related("claim__patient")
        .order_by("position")
    )
    return (
        Acknowledgment.objects.for_practice(practice)
        .select_related("batch", "uploaded_by__user")
        .prefetch_related(Prefetch("claim_statuses", queryset=statuses))
        .get(pk=acknowledgment_id)
    )


def remittance_list(*, practice: Practice) -> QuerySet[Remittance]:
    return (
        Remittance.objects.for_practice(practice)
        .select_related("uploaded_by__user")
        .order_by("-created_at", "pk")
    )


def remittance_get(*, practice: Practice, remittance_id: Any) -> Remittance:
    """One remittance with its claims (matched claim and patient) and their adjustments."""
    adjustments = RemittanceAdjustment.objects.for_practice(practice).order_by(
        "line_code", "group_code", "reason_code", "pk"
    )
    claims = (
        RemittanceClaim.objects.for_practice(practice)
        .select_related("claim__patient")
        .prefetch_related(Prefetch("adjustments", queryset=adjustments))
        .order_by("position")
    )
    return (
        Remittance.objects.for_practice(practice)
        .select_related("uploaded_by__user")
        .prefetch_related(Prefetch("claims", queryset=claims))
        .get(pk=remittance_id)
    )


# --- money ------------------------------------------------------------------------------------


def _sum(expression: Any, **filters: Any) -> Any:
    condition = Q(**filters) if filters else None
    return Coalesce(Sum(expression, filter=condition), Value(ZERO), output_field=_MONEY)


def month_money(*, practice: Practice, month: dt.date) -> dict[str, Any]:
    """The month's claims in money (withdrawn ones aside), in one query: billed, paid,
    adjusted (written off, denials aside), patient responsibility, denied, outstanding,
    with counts. Once every claim is sent, billed is the sum of the other five."""
    claims = Claim.objects.for_practice(practice).filter(month=month)
    claims = claims.exclude(status=ClaimStatus.WITHDRAWN)
    # Prefixed names: an aggregate may not share a name with a field (patient_responsibility).
    totals = claims.aggregate(
        m_billed=_sum(BILLED),
        m_billed_count=Count("pk"),
        m_paid=_sum("paid_amount"),
        m_paid_count=Count("pk", filter=Q(paid_amount__gt=0)),
        # A denial's write-off (CO-97…) is the denied figure: counted once, so billed is
        # paid + adjusted + patient responsibility + denied + outstanding (+ not yet sent).
        m_adjusted=Coalesce(
            Sum("adjustment_amount", filter=~Q(status=ClaimStatus.DENIED)),
            Value(ZERO),
            output_field=_MONEY,
        ),
        m_adjusted_count=Count(
            "pk", filter=~Q(adjustment_amount=0) & ~Q(status=ClaimStatus.DENIED)
        ),
        m_patient_responsibility=_sum("patient_responsibility"),
        m_patient_responsibility_count=Count("pk", filter=~Q(patient_responsibility=0)),
        m_denied=_sum(BILLED, status=ClaimStatus.DENIED),
        m_denied_count=Count("pk", filter=Q(status=ClaimStatus.DENIED)),
        m_outstanding=_sum(BILLED, status__in=OUTSTANDING),
        m_outstanding_count=Count("pk", filter=Q(status__in=OUTSTANDING)),
    )
    return {name.removeprefix("m_"): value for name, value in totals.items()}


def _age_bucket(today: dt.date) -> Case:
    """The ageing bucket of a claim from its submission date (the practice's day)."""
    whens = []
    for label, first, _last in reversed(BUCKETS):
        # Submitted on or before today - first days: at least `first` days old.
        cutoff = today - dt.timedelta(days=first)
        whens.append(When(submitted_on__lte=cutoff, then=Value(label)))
    return Case(*whens, default=Value(BUCKETS[0][0]))


def receivables(*, practice: Practice) -> QuerySet[Claim]:
    """Outstanding claims (submitted, accepted or rejected; not yet paid or denied) with
    the date they were submitted in the practice's time zone."""
    zone = practice.zone
    rows = (
        Claim.objects.for_practice(practice)
        .filter(status__in=OUTSTANDING)
        .annotate(
            # A claim marked submitted by hand before batches existed has no submitted_at:
            # its status change is when it was sent.
            submitted_on=Coalesce(
                TruncDate("submitted_at", tzinfo=zone),
                TruncDate("status_changed_at", tzinfo=zone),
                TruncDate("created_at", tzinfo=zone),
            ),
            billed=BILLED,
        )
    )
    return cast("QuerySet[Claim]", rows)


def _empty_cells(labels: list[str]) -> dict[str, dict[str, Any]]:
    return {label: {"bucket": label, "count": 0, "amount": ZERO} for label in labels}


def ageing(*, practice: Practice) -> dict[str, Any]:
    """Accounts receivable by service month and age bucket (0-30, 31-60, 61-90, 90+ days
    since submission), with totals: one query."""
    today = practice.today()
    rows = (
        receivables(practice=practice)
        .annotate(bucket=_age_bucket(today))
        .values("month", "bucket")
        .annotate(n=Count("pk"), amount=Sum("billed"))
        .order_by("-month", "bucket")
    )
    labels = [label for label, _first, _last in BUCKETS]
    months: dict[dt.date, dict[str, dict[str, Any]]] = {}
    totals = _empty_cells(labels)
    for row in rows:
        cells = months.setdefault(row["month"], _empty_cells(labels))
        cells[row["bucket"]].update(count=row["n"], amount=row["amount"])
        totals[row["bucket"]]["count"] += row["n"]
        totals[row["bucket"]]["amount"] += row["amount"]
    return {
        "buckets": labels,
        "months": [
            {
                "month": month,
                "cells": [cells[b] for b in labels],
                "count": sum(c["count"] for c in cells.values()),
                "amount": sum((c["amount"] for c in cells.values()), ZERO),
            }
            for month, cells in months.items()
        ],
        "totals": [totals[b] for b in labels],
        "count": sum(t["count"] for t in totals.values()),
        "amount": sum((t["amount"] for t in totals.values()), ZERO),
        "today": today,
    }


def money_claims(
    *,
    practice: Practice,
    month: dt.date | None = None,
    statuses: Iterable[str] = (),
    bucket: str = "",
) -> QuerySet[Claim]:
    """The claims behind a money figure or an ageing cell: filtered by service month,
    statuses and age bucket when given; with patient; oldest submission first."""
    rows: QuerySet[Claim]
    if bucket:
        rows = receivables(practice=practice).annotate(bucket=_age_bucket(practice.today()))
        rows = rows.filter(bucket=bucket)
    else:
        claims = Claim.objects.for_practice(practice).exclude(status=ClaimStatus.WITHDRAWN)
        rows = cast("QuerySet[Claim]", claims.annotate(billed=BILLED))
    if month is not None:
        rows = rows.filter(month=month)
    wanted = [s for s in statuses if s in ClaimStatus.values]
    if wanted:
        rows = rows.filter(status__in=wanted)
    return rows.select_related("patient").order_by("month", "submitted_at", "pk")
