"""Exports of a closed month: CSV (one row per claim line), X12 837P (the month's submission
batch, billing.submissions) and the PDF month summary (WeasyPrint). Every download is an
`Export` row and audited once per patient on the file."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from billing.claims.selectors import month_claims
from billing.exports.selectors import closed_month, practitioner_name, summary
from billing.models import Claim, Export, ExportKind, MonthClose
from billing.submissions import services as submissions
from billing.submissions.selectors import batch_claims
from ccm import audit
from ccm.formats import money
from ccm.models import Membership, Practice
from ccm.months import month_label
from ccm.views import csv_safe

CSV_HEADER = [
    "claim_id", "mrn", "mbi", "last_name", "first_name", "date_of_birth", "practitioner_npi",
    "practitioner_name", "date_of_service", "place_of_service", "line", "code", "units",
    "minutes", "charge", "diagnosis_codes", "status",
]  # fmt: skip


@transaction.atomic
def record(
    membership: Membership,
    month: dt.date,
    kind: str,
    claims: list[Claim],
    *,
    per_patient: bool = True,
) -> Export:
    """One download: its row and its audit events (the export, and one read per patient on
    the file unless the batch created for it audited them already). An 837's interchange
    control number is its batch's (billing.submissions)."""
    export = Export.objects.for_practice(membership.practice).create(
        practice=membership.practice,
        month=month,
        kind=kind,
        claims=len(claims),
        created_by=membership,
    )
    audit.record_for(membership, f"month.export_{kind}", obj=export)
    if per_patient:
        pairs = [(export, c.patient_id) for c in claims]
        audit.record_many(membership, pairs, action="claim.export")
    return export


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
                " ".join(c.diagnosis_codes), money(c.amount).rjust(10),
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


@dataclass(frozen=True)
class ExportFile:
    """A built export: its file name (no PHI), media type and body (the CSV streams)."""

    name: str
    content_type: str
    content: Any
    streamed: bool = False


def _month_837(actor: Membership, month: dt.date, name: str) -> ExportFile:
    """The month's submission batch (contract §4): a new one of the claims ready to send,
    else the latest one again, byte-identical; a claim is never in two interchanges."""
    batch, created = submissions.month_batch(actor=actor, month=month)
    sent = list(batch_claims(practice=actor.practice, batch=batch))
    record(actor, month, ExportKind.X12, sent, per_patient=not created)
    return ExportFile(f"{name}.837", "application/edi-x12", batch.content)


@transaction.atomic  # a refused 837 (missing billing data) records nothing
def month_export(*, actor: Membership, month: dt.date, kind: str) -> ExportFile:
    """One export of a closed month (pages and API): recorded and audited (`record`); the
    837 is the month's submission batch (`_month_837`). Raises MonthState when the month is
    not closed, StateConflict when the 837 lacks billing data or has nothing to send."""
    practice = actor.practice
    close = closed_month(practice, month)
    name = f"caremonth-{practice.slug}-{month_label(month)}"
    if kind == ExportKind.X12:
        return _month_837(actor, month, name)
    claims = list(month_claims(practice, month))
    record(actor, month, kind, claims)
    if kind == ExportKind.CSV:
        return ExportFile(f"{name}.csv", "text/csv", csv_lines(claims), streamed=True)
    return ExportFile(f"{name}.pdf", "application/pdf", render_pdf(practice, close, claims))
