"""Exports of a closed month: CSV (one row per claim line), X12 837P (the month's submission
batch, billing.submissions) and the PDF month summary (WeasyPrint). Every download is an
`Export` row and audited once per patient on the file."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from billing.claims.selectors import month_claims
from billing.exports.selectors import (
    PdfClaim,
    closed_month,
    pdf_claim_of,
    pdf_claims,
    practitioner_name,
    summary,
)
from billing.models import (
    PREPARING,
    Claim,
    ClaimStatus,
    Export,
    ExportKind,
    MonthClose,
    PreparedExport,
    PreparedStatus,
)
from billing.submissions import services as submissions
from billing.submissions.selectors import batch_claims
from ccm import audit, jobs
from ccm.api_auth import ApplicationError, StateConflict
from ccm.formats import money
from ccm.models import Membership, Practice
from ccm.months import month_label
from ccm.tenancy import practice_scope
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
    patient_ids: list[Any],
    *,
    per_patient: bool = True,
) -> Export:
    """One download: its row and its audit events (the export, and one event naming every
    patient on the file unless the batch created for it audited them already). An 837's interchange
    control number is its batch's (billing.submissions)."""
    export = Export.objects.for_practice(membership.practice).create(
        practice=membership.practice,
        month=month,
        kind=kind,
        claims=len(patient_ids),
        created_by=membership,
    )
    audit.record_for(membership, f"month.export_{kind}", obj=export)
    if per_patient:
        pairs = [(export, patient_id) for patient_id in patient_ids]
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
# download of a large practice's month. The lines go PDF_BLOCK to a <pre> (a rule between
# blocks): a box per line cost a third more CPU (3.9 s against 2.6 s for 3,000 claims). Each
# column is as wide as its longest value up to its maximum: WeasyPrint lays out and draws
# every glyph, spaces included (issue 18: about a fifth of the PDF's time went on padding).
PDF_BLOCK = 10
PDF_COLUMNS = (
    ("Patient", 26), ("MRN", 12), ("DOB", 10), ("Practitioner", 20), ("DOS", 10),
    ("POS", 3), ("Lines", 22), ("Diagnoses", 24), ("Amount", 10), ("Status", 9),
)  # fmt: skip
PDF_RIGHT = frozenset({"Amount"})
# A month over PDF_CHUNK claims is laid out in documents of about PDF_CHUNK claims each,
# joined page by page into one PDF (WeasyPrint's Document.copy): the progress moves as each
# is done. Their list is paginated by us, PDF_PAGE_ROWS claims under the column header to a
# page (45 lines of 11 pt in the page's 515 pt), so every page's number and the total are
# known before it is laid out; a document with more pages than that (a row that did not fit)
# is built again as one flowing document.
PDF_CHUNK = 1000
PDF_PAGE_ROWS = 44
TEMPLATE_PDF = "billing/month_pdf.html"
logger = logging.getLogger(__name__)


def _fixed(values: Sequence[str], widths: Sequence[int]) -> str:
    out = []
    for (name, _most), width, value in zip(PDF_COLUMNS, widths, values, strict=True):
        text = value if len(value) <= width else value[: width - 1] + "…"
        out.append(text.rjust(width) if name in PDF_RIGHT else text.ljust(width))
    return " ".join(out).rstrip()


def pdf_claim_rows(claims: Sequence[PdfClaim]) -> tuple[str, list[str]]:
    """The claim list's header and one fixed-width line per claim."""
    cells = [
        [
            f"{c.last_name}, {c.first_name}",
            c.mrn,
            f"{c.date_of_birth:%Y-%m-%d}",
            c.practitioner,
            f"{c.date_of_service:%Y-%m-%d}",
            c.place_of_service,
            c.lines,
            " ".join(c.diagnosis_codes),
            money(c.amount),
            c.status,
        ]
        for c in claims
    ]
    widths = [
        min(most, max([len(name), *(len(row[i]) for row in cells)]))
        for i, (name, most) in enumerate(PDF_COLUMNS)
    ]
    header = _fixed([name for name, _most in PDF_COLUMNS], widths)
    return header, [_fixed(row, widths) for row in cells]


def _blocks(rows: Sequence[str]) -> list[str]:
    return ["\n".join(rows[i : i + PDF_BLOCK]) for i in range(0, len(rows), PDF_BLOCK)]


def _css_string(text: str) -> str:
    """A CSS string literal of `text` (every character but letters, digits and spaces
    escaped: nothing can end the string or the style element)."""
    return '"' + "".join(c if c.isalnum() or c == " " else f"\\{ord(c):06x} " for c in text) + '"'


class _Overflow(Exception):
    """A chunk of the list laid out on more pages than it was paginated to."""


def render_pdf(practice: Practice, close: MonthClose, claims: Sequence[Claim]) -> bytes:
    """The month summary of Claims read by month_claims (see month_pdf)."""
    return month_pdf(practice, close, [pdf_claim_of(claim) for claim in claims])


def month_pdf(
    practice: Practice,
    close: MonthClose,
    claims: Sequence[PdfClaim],
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """The month summary for the practice: totals by code and practitioner, the claim list;
    paginated with page numbers (CSS @page counters). Over PDF_CHUNK claims, laid out in
    chunks (`progress` called with the claims done after each)."""
    from weasyprint import HTML

    header, rows = pdf_claim_rows(claims)
    month = close.month
    context = {
        "practice": practice,
        "close": close,
        "month": month,
        "claim_header": header,
        "claim_count": len(rows),
        "summary": summary(practice, month),
        "generated_at": timezone.now(),
        "footer_title": _css_string(f"{practice.name} — CCM claims, {month:%B %Y}"),
        "rows_per_page": PDF_PAGE_ROWS,
    }
    if len(rows) > PDF_CHUNK:
        try:
            return _chunked_pdf(context, rows, progress)
        except _Overflow:
            logger.warning("month PDF: a chunk overflowed its pages; built as one document")
    html = render_to_string(
        TEMPLATE_PDF,
        {**context, "show_summary": True, "claim_pages": None, "claim_blocks": _blocks(rows)},
    )
    body = bytes(HTML(string=html).write_pdf())
    if progress is not None:
        progress(len(rows))
    return body


def _chunked_pdf(
    context: dict[str, Any], rows: list[str], progress: Callable[[int], None] | None
) -> bytes:
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    pages = [_blocks(rows[i : i + PDF_PAGE_ROWS]) for i in range(0, len(rows), PDF_PAGE_ROWS)]

    def document(claim_pages: list[list[str]], first_page: int, total: int | None) -> Any:
        html = render_to_string(
            TEMPLATE_PDF,
            {
                **context,
                "show_summary": first_page == 1,
                "claim_pages": claim_pages,
                "first_page": first_page,
                "page_total": total,
            },
        )
        return HTML(string=html).render(font_config=fonts)

    # The summary first, twice: its number of pages gives the total it then shows.
    head_pages = len(document([], 1, None).pages)
    total = head_pages + len(pages)
    documents = [document([], 1, total)]
    per_chunk = max(1, PDF_CHUNK // PDF_PAGE_ROWS)
    done, next_page = 0, head_pages + 1
    for i in range(0, len(pages), per_chunk):
        chunk = pages[i : i + per_chunk]
        laid_out = document(chunk, next_page, total)
        if len(laid_out.pages) != len(chunk):
            raise _Overflow
        documents.append(laid_out)
        next_page += len(chunk)
        done = min(len(rows), done + len(chunk) * PDF_PAGE_ROWS)
        if progress is not None:
            progress(done)
    joined = documents[0].copy([page for doc in documents for page in doc.pages])
    return bytes(joined.write_pdf())


def _patients(claims: list[Claim]) -> list[Any]:
    return [claim.patient_id for claim in claims]


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
    record(actor, month, ExportKind.X12, _patients(sent), per_patient=not created)
    return ExportFile(f"{name}.837", "application/edi-x12", batch.content)


@transaction.atomic  # a refused 837 (missing billing data) records nothing
def month_export(*, actor: Membership, month: dt.date, kind: str) -> ExportFile:
    """One export of a closed month (pages and API): recorded and audited (`record`); the
    837 is the month's submission batch (`_month_837`). Raises MonthState when the month is
    not closed, StateConflict when the 837 lacks billing data or has nothing to send."""
    practice = actor.practice
    close = closed_month(practice, month)
    claims_count = month_claim_count(practice, month)
    if claims_count > DIRECT_LIMIT:
        raise StateConflict(TOO_LARGE_MESSAGE.format(month=month_label(month), claims=claims_count))
    name = f"caremonth-{practice.slug}-{month_label(month)}"
    if kind == ExportKind.X12:
        return _month_837(actor, month, name)
    if kind == ExportKind.PDF:
        rows = pdf_claims(practice, month)
        record(actor, month, kind, [row.patient_id for row in rows])
        return ExportFile(f"{name}.pdf", "application/pdf", month_pdf(practice, close, rows))
    claims = list(month_claims(practice, month))
    record(actor, month, kind, _patients(claims))
    return ExportFile(f"{name}.csv", "text/csv", csv_lines(claims), streamed=True)


# Issue 18: above this many claims a month's CSV and 837 are prepared by a worker into a
# stored file (like the PDF, always); at or below it they are still built in the request
# (a 1,000-claim CSV takes well under a second).
DIRECT_LIMIT = 1000
PROGRESS_EVERY = 500  # claims between two progress writes the page polls
TOO_LARGE_MESSAGE = (
    "{month} has {claims} claims: too many to build while you wait. Prepare the export "
    "(POST …/exports/ in the API, the Prepare button on the month page) and download it "
    "when it is ready."
)
KIND_MESSAGE = "Choose csv, 837 or pdf."
NOT_READY_MESSAGE = "This export is not ready: wait until it is, or request it again."
FAILED_MESSAGE = "The export could not be built; request it again or contact support."


def month_claim_count(practice: Practice, month: dt.date) -> int:
    return (
        Claim.objects.for_practice(practice)
        .filter(month=month)
        .exclude(status=ClaimStatus.WITHDRAWN)
        .count()
    )


def direct_allowed(practice: Practice, month: dt.date) -> bool:
    """Whether the month's exports may still be built in the request (DIRECT_LIMIT)."""
    return month_claim_count(practice, month) <= DIRECT_LIMIT


def export_request(*, actor: Membership, month: dt.date, kind: str) -> PreparedExport:
    """Ask a worker to prepare an export of a closed month (pages and API); idempotent: the
    same month and kind while one is being prepared returns that one. Queues
    `export_prepare` once the row is committed (ccm.jobs: kept in the outbox when the broker
    does not answer). Raises ValidationError for an unknown kind, MonthState when the month
    is not closed; nothing is saved then."""
    from billing.exports import tasks  # billing.exports.tasks imports this module

    if kind not in ExportKind.values:
        raise ValidationError({"kind": KIND_MESSAGE})
    practice = actor.practice
    closed_month(practice, month)
    preparing = PreparedExport.objects.for_practice(practice).filter(
        month=month, kind=kind, status__in=PREPARING
    )
    existing = preparing.first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            prepared = PreparedExport.objects.for_practice(practice).create(
                practice=practice,
                month=month,
                kind=kind,
                total=month_claim_count(practice, month),
                requested_by=actor,
            )
            audit.record_for(actor, "month.export_requested", obj=prepared)
    except IntegrityError:  # a concurrent request created it (billing_prepared_export_once)
        return preparing.get()
    jobs.enqueue_on_commit(tasks.export_prepare, str(practice.pk), str(prepared.pk))
    return prepared


def _progress(prepared: PreparedExport, **fields: Any) -> None:
    # An UPDATE outside any transaction, so the polling page sees it at once.
    PreparedExport.objects.for_practice(prepared.practice_id).filter(pk=prepared.pk).update(
        **fields
    )


def _counted(prepared: PreparedExport, claims: Iterable[Claim]) -> Iterator[Claim]:
    """The claims, writing the progress every PROGRESS_EVERY of them."""
    done = 0
    for done, claim in enumerate(claims, start=1):
        if done % PROGRESS_EVERY == 0:
            _progress(prepared, done=done)
        yield claim
    _progress(prepared, done=done)


def _build(prepared: PreparedExport) -> tuple[bytes, list[Any]]:
    """The file's bytes and the patients on it."""
    practice, actor, month = prepared.practice, prepared.requested_by, prepared.month
    if prepared.kind == ExportKind.X12:
        batch, _created = submissions.month_batch(actor=actor, month=month)
        sent = list(batch_claims(practice=practice, batch=batch))
        _progress(prepared, done=len(sent), total=len(sent))
        return batch.content.encode(), _patients(sent)
    if prepared.kind == ExportKind.PDF:
        close = closed_month(practice, month)
        rows = pdf_claims(practice, month)
        _progress(prepared, total=len(rows), done=0)
        body = month_pdf(practice, close, rows, lambda done: _progress(prepared, done=done))
        return body, [row.patient_id for row in rows]
    claims = list(month_claims(practice, month))
    _progress(prepared, total=len(claims))
    body = "".join(csv_lines(list(_counted(prepared, claims)))).encode()
    return body, _patients(claims)


def export_prepare(*, practice_id: Any, export_id: Any) -> PreparedExport:
    """The worker's part: build the requested export, store it (private storage, no public
    URL), its size and SHA-256, and mark it ready; a failure marks it failed (message
    without PHI). Idempotent: a ready or failed export is left as it is, a redelivered
    running one (its worker was killed) is built again."""
    with practice_scope(practice_id):
        exports = PreparedExport.objects.for_practice(practice_id)
        claimed = exports.filter(pk=export_id, status__in=PREPARING).update(
            status=PreparedStatus.RUNNING
        )
        prepared = exports.select_related("practice", "requested_by__user").get(pk=export_id)
        if not claimed:
            return prepared
        try:
            body, patient_ids = _build(prepared)
        except (ApplicationError, ValidationError) as exc:
            # Service messages are constants without PHI (style.md §5).
            error = " ".join(getattr(exc, "messages", [str(exc)]))[:300]
            _progress(prepared, status=PreparedStatus.FAILED, error=error,
                      finished_at=timezone.now())  # fmt: skip
            prepared.refresh_from_db()
            return prepared
        except Exception:
            # Not left "preparing" for ever (it would block the next request of this month
            # and kind); the task fails loudly with the traceback in the worker's log.
            _progress(prepared, status=PreparedStatus.FAILED, error=FAILED_MESSAGE,
                      finished_at=timezone.now())  # fmt: skip
            raise
        prepared.file.save("export", ContentFile(body), save=False)
        _progress(
            prepared,
            file=prepared.file.name,
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
            patient_ids=patient_ids,
            done=len(patient_ids),
            status=PreparedStatus.READY,
            finished_at=timezone.now(),
        )
        prepared.refresh_from_db()
        return prepared


def prepared_name(prepared: PreparedExport) -> str:
    extension = {"csv": "csv", "837": "837", "pdf": "pdf"}
    label = month_label(prepared.month)
    return f"caremonth-{prepared.practice.slug}-{label}.{extension[prepared.kind]}"


def prepared_download(*, actor: Membership, prepared: PreparedExport) -> ExportFile:
    """A ready export's stored file, its download recorded and audited as a direct one
    (`record`: the export and one `claim.export` per patient on the file). StateConflict
    while it is not ready."""
    if prepared.status != PreparedStatus.READY:
        raise StateConflict(
            FAILED_MESSAGE if prepared.status == PreparedStatus.FAILED else NOT_READY_MESSAGE
        )
    record(actor, prepared.month, prepared.kind, list(prepared.patient_ids))
    media = {"csv": "text/csv", "837": "application/edi-x12"}
    return ExportFile(
        prepared_name(prepared),
        media.get(prepared.kind, "application/pdf"),
        prepared.file.open("rb"),
        streamed=True,
    )
