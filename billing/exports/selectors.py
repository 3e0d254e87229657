"""Reads of a closed month for its exports and its page: the close row an export needs,
and the totals by code and by billing practitioner (no side effects)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import Count, Sum

from billing.claims.selectors import BY_NAME
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


class PdfClaim(NamedTuple):
    """One claim of the month PDF's list, as plain values (no model instances: the PDF of a
    large month reads 10,000+ claims)."""

    patient_id: Any
    last_name: str
    first_name: str
    mrn: str
    date_of_birth: dt.date
    practitioner: str  # practitioner_name()
    date_of_service: dt.date
    place_of_service: str
    lines: str  # "99490x1, 99439x2", in line order
    diagnosis_codes: list[str]
    amount: Decimal
    status: str  # the status's label


def pdf_claims(practice: Practice, month: dt.date) -> list[PdfClaim]:
    """The month's claims (withdrawn left out) for the PDF, in month_claims' order (by
    patient name): two queries of plain tuples whatever the number of claims."""
    claims = (
        Claim.objects.for_practice(practice)
        .filter(month=month)
        .exclude(status=ClaimStatus.WITHDRAWN)
        .order_by(*BY_NAME)
        .values_list(
            "pk", "patient_id", "patient__last_name", "patient__first_name", "patient__mrn",
            "patient__date_of_birth", "billing_practitioner__user__full_name",
            "billing_practitioner__user__email", "date_of_service", "place_of_service",
            "diagnosis_codes", "amount", "status",
        )
    )  # fmt: skip
    lines = (
        ClaimLine.objects.for_practice(practice)
        .filter(claim__month=month)
        .exclude(claim__status=ClaimStatus.WITHDRAWN)
        .order_by("claim_id", "position")
        .values_list("claim_id", "code", "units")
    )
    codes: defaultdict[Any, list[str]] = defaultdict(list)
    for claim_id, code, units in lines:
        codes[claim_id].append(f"{code}x{units}")
    labels = dict(ClaimStatus.choices)
    return [
        PdfClaim(
            patient_id,
            last_name,
            first_name,
            mrn,
            dob,
            full_name or email,
            dos,
            pos,
            ", ".join(codes[pk]),
            diagnosis_codes,
            amount,
            labels.get(status, status),
        )
        for (
            pk,
            patient_id,
            last_name,
            first_name,
            mrn,
            dob,
            full_name,
            email,
            dos,
            pos,
            diagnosis_codes,
            amount,
            status,
        ) in claims
    ]


def pdf_claim_of(claim: Claim) -> PdfClaim:
    """The same values from a Claim read with its patient, practitioner and lines
    (billing.claims.selectors.month_claims)."""
    patient = claim.patient
    return PdfClaim(
        claim.patient_id, patient.last_name, patient.first_name, patient.mrn,
        patient.date_of_birth, practitioner_name(claim.billing_practitioner),
        claim.date_of_service, claim.place_of_service,
        ", ".join(f"{line.code}x{line.units}" for line in claim.lines.all()),
        claim.diagnosis_codes, claim.amount, claim.get_status_display(),
    )  # fmt: skip


def prepared_list(*, practice: Practice, month: dt.date, limit: int) -> list[PreparedExport]:
    """The month's latest prepared exports, newest first (one query)."""
    rows = PreparedExport.objects.for_practice(practice).filter(month=month)
    return list(rows.select_related("requested_by__user").defer("patient_ids")[:limit])


def prepared_get(*, practice: Practice, export_id: Any) -> PreparedExport:
    """One of the practice's prepared exports, or 404 (another practice's or no such id)."""
    rows = PreparedExport.objects.for_practice(practice).select_related("practice")
    return get_for_practice_or_404(rows, practice, export_id)
