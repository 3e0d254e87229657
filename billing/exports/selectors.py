"""Reads of a closed month for its exports and its page: the close row an export needs,
and the totals by code and by billing practitioner (no side effects)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from billing.close.services import MonthState
from billing.models import (
    Claim,
    ClaimLine,
    ClaimStatus,
    CloseStatus,
    MonthClose,
    PreparedExport,
)
from ccm.models import Membership, Practice
from ccm.months import month_label
from ccm.tenancy import get_for_practice_or_404

NOT_CLOSED = "{month} is not closed: only a closed month's claims can be exported."


def practitioner_name(membership: Membership) -> str:
    user = membership.user
    return user.full_name or user.email


def closed_month(practice: Practice, month: dt.date) -> MonthClose:
    close = MonthClose.objects.for_practice(practice).filter(month=month).first()
    if close is None or close.status != CloseStatus.CLOSED:
        raise MonthState(NOT_CLOSED.format(month=month_label(month)))
    return close


def summary(practice: Practice, month: dt.date) -> dict[str, Any]:
    """Totals by code and by billing practitioner (SQL aggregates: three queries whatever
    the number of claims) for the month page and the PDF."""
    lines = (
        ClaimLine.objects.for_practice(practice)
        .filter(claim__month=month)
        .exclude(claim__status=ClaimStatus.WITHDRAWN)
    )
    by_code = (
        lines.values("code")
        .annotate(lines=Count("pk"), units=Sum("units"), amount=Sum("charge"))
        .order_by("code")
    )
    claims = (
        Claim.objects.for_practice(practice)
        .filter(month=month)
        .exclude(status=ClaimStatus.WITHDRAWN)
    )
    per_doctor = list(
        claims.values("billing_practitioner_id")
        .annotate(claims=Count("pk"), amount=Sum("amount"))
        .order_by()
    )
    doctors = {
        m.pk: m
        for m in Membership.objects.for_practice(practice)
        .filter(pk__in=[r["billing_practitioner_id"] for r in per_doctor])
        .select_related("user")
    }
    by_practitioner = sorted(
        (
            {
                "practitioner": doctors[r["billing_practitioner_id"]],
                "name": practitioner_name(doctors[r["billing_practitioner_id"]]),
                "claims": r["claims"],
                "amount": r["amount"],
            }
            for r in per_doctor
        ),
        key=lambda row: row["name"],
    )
    return {
        "by_code": list(by_code),
        "by_practitioner": by_practitioner,
        "claims": sum(r["claims"] for r in per_doctor),
        "amount": sum((r["amount"] for r in per_doctor), Decimal("0.00")),
    }


def prepared_list(*, practice: Practice, month: dt.date, limit: int) -> list[PreparedExport]:
    """The month's latest prepared exports, newest first (one query)."""
    rows = PreparedExport.objects.for_practice(practice).filter(month=month)
    return list(rows.select_related("requested_by__user").defer("patient_ids")[:limit])


def prepared_get(*, practice: Practice, export_id: Any) -> PreparedExport:
    """One of the practice's prepared exports, or 404 (another practice's or no such id)."""
    rows = PreparedExport.objects.for_practice(practice).select_related("practice")
    return get_for_practice_or_404(rows, practice, export_id)
