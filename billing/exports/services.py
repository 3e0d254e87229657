"""Exports of a closed month: CSV (one row per claim line), X12 837P (billing.exports.x12) and the
PDF month summary (WeasyPrint). Every download is an `Export` row (the 837's interchange
control number comes from it) and audited once per patient on the file."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Prefetch, QuerySet, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from billing.close.services import MonthState
from billing.models import (
    Claim,
    ClaimLine,
    ClaimStatus,
    CloseStatus,
    Export,
    ExportKind,
    MonthClose,
)
from ccm import audit
from ccm.models import Membership, Practice
from ccm.months import month_label
from ccm.views import csv_safe

CSV_HEADER = [
    "claim_id", "mrn", "mbi", "last_name", "first_name", "date_of_birth", "practitioner_npi",
    "practitioner_name", "date_of_service", "place_of_service", "line", "code", "units",
    "minutes", "charge", "diagnosis_codes", "status",
]  # fmt: skip
NOT_CLOSED = "{month} is not closed: only a closed month's claims can be exported."


def closed_month(practice: Practice, month: dt.date) -> MonthClose:
    close = MonthClose.objects.unscoped().filter(practice=practice, month=month).first()
    if close is None or close.status != CloseStatus.CLOSED:
        raise MonthState(NOT_CLOSED.format(month=month_label(month)))
    return close


def month_claims(practice: Practice, month: dt.date, *, withdrawn: bool = False) -> QuerySet[Claim]:
    """The month's claims with patient, practitioner and lines (four queries); withdrawn
    claims only when asked (the review page shows them, exports and totals do not)."""
    lines = ClaimLine.objects.unscoped().filter(practice=practice).order_by("position")
    claims = (
        Claim.objects.unscoped()
        .filter(practice=practice, month=month)
        .select_related("patient", "billing_practitioner__user")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .order_by("patient__last_name", "patient__first_name", "patient_id")
    )
    return claims if withdrawn else claims.exclude(status=ClaimStatus.WITHDRAWN)


@transaction.atomic
def record(membership: Membership, month: dt.date, kind: str, claims: list[Claim]) -> Export:
    """One download: its row (837: the next control number, under the practice row lock) and
    its audit events (the export, and one read per patient on the file)."""
    control = None
    if kind == ExportKind.X12:
        Practice.objects.select_for_update().filter(pk=membership.practice_id).first()
        last = (
            Export.objects.unscoped()
            .filter(practice=membership.practice)
            .aggregate(n=Max("control_number"))["n"]
        )
        control = (last or 0) + 1
    export = Export.objects.unscoped().create(
        practice=membership.practice,
        month=month,
        kind=kind,
        control_number=control,
        claims=len(claims),
        created_by=membership,
    )
    audit.record_for(membership, f"month.export_{kind}", obj=export)
    audit.record_many(membership, [(export, c.patient_id) for c in claims], action="claim.export")
    return export


def practitioner_name(membership: Membership) -> str:
    user = membership.user
    return user.full_name or user.email


def csv_lines(claims: list[Claim]) -> Iterator[str]:
    """The CSV export, one row per claim line (formula-neutralised cells)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    for claim in claims:
        patient, doctor = claim.patient, claim.billing_practitioner
        for line in claim.lines.all():
            writer.writerow([csv_safe(v) for v in (
                claim.pk, patient.mrn, patient.mbi, patient.last_name, patient.first_name,
                patient.date_of_birth.isoformat(), doctor.npi, practitioner_name(doctor),
                claim.date_of_service.isoformat(), claim.place_of_service, line.position + 1,
                line.code, line.units, line.minutes, f"{line.charge:.2f}",
                " ".join(claim.diagnosis_codes), claim.status,
            )])  # fmt: skip
        yield flush()


def summary(practice: Practice, month: dt.date) -> dict[str, Any]:
    """Totals by code and by billing practitioner (SQL aggregates: three queries whatever
    the number of claims) for the month page and the PDF."""
    lines = (
        ClaimLine.objects.unscoped()
        .filter(practice=practice, claim__month=month)
        .exclude(claim__status=ClaimStatus.WITHDRAWN)
    )
    by_code = (
        lines.values("code")
        .annotate(lines=Count("pk"), units=Sum("units"), amount=Sum("charge"))
        .order_by("code")
    )
    claims = (
        Claim.objects.unscoped()
        .filter(practice=practice, month=month)
        .exclude(status=ClaimStatus.WITHDRAWN)
    )
    per_doctor = list(
        claims.values("billing_practitioner_id")
        .annotate(claims=Count("pk"), amount=Sum("amount"))
        .order_by()
    )
    doctors = {
        m.pk: m
        for m in Membership.objects.unscoped()
        .filter(practice=practice, pk__in=[r["billing_practitioner_id"] for r in per_doctor])
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


# The PDF's claim list: fixed-width columns in a monospace font, one line per claim. A
# WeasyPrint table lays out ~10x slower (25 s for 4,000 claims against 2 s), too slow for a
# download of a large practice's month.
PDF_COLUMNS = (
    ("Patient", 26), ("MRN", 12), ("DOB", 10), ("Practitioner", 20), ("DOS", 10),
    ("POS", 3), ("Lines", 22), ("Diagnoses", 24), ("Amount", 10), ("Status", 9),
)  # fmt: skip


def _fixed(values: list[str]) -> str:
    out = []
    for (_name, width), value in zip(PDF_COLUMNS, values, strict=True):
        text = value if len(value) <= width else value[: width - 1] + "…"
        out.append(text.ljust(width))
    return " ".join(out).rstrip()


def pdf_claim_rows(claims: list[Claim]) -> tuple[str, list[str]]:
    """The claim list's header and one fixed-width line per claim."""
    header = _fixed([name for name, _width in PDF_COLUMNS])
    rows = []
    for c in claims:
        patient = c.patient
        lines = ", ".join(f"{line.code}x{line.units}" for line in c.lines.all())
        rows.append(
            _fixed([
                f"{patient.last_name}, {patient.first_name}", patient.mrn,
                f"{patient.date_of_birth:%Y-%m-%d}", practitioner_name(c.billing_practitioner),
                f"{c.date_of_service:%Y-%m-%d}", c.place_of_service, lines,
                " ".join(c.diagnosis_codes), f"${c.amount:,.2f}".rjust(10),
                c.get_status_display(),
            ])
        )  # fmt: skip
    return header, rows


def render_pdf(practice: Practice, close: MonthClose, claims: list[Claim]) -> bytes:
    """The month summary for the practice: totals by code and practitioner, the claim list;
    paginated with page numbers (CSS @page counters)."""
    from weasyprint import HTML

    header, rows = pdf_claim_rows(claims)
    html = render_to_string(
        "billing/month_pdf.html",
        {
            "practice": practice,
            "close": close,
            "month": close.month,
            "claim_header": header,
            "claim_rows": rows,
            "summary": summary(practice, close.month),
            "generated_at": timezone.now(),
        },
    )
    return bytes(HTML(string=html).write_pdf())
