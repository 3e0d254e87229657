"""Submission batch pages: create the month's batch, a batch's claims and its download, and
a claim's resubmission, correction or void (each sent in a new batch). Rules live in
billing.submissions.services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render

from billing.exports.services import ExportFile
from billing.http import Download, download, month_or_404
from billing.models import Claim, SubmissionBatch
from billing.submissions import selectors, services
from ccm import audit
from ccm.api_auth import ApplicationError
from ccm.formats import money
from ccm.forms import flash_error
from ccm.months import month_label
from ccm.pages import page
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest, get_for_practice_or_404

CREATED_MESSAGE = "Batch {control} created: {claims} claim(s) sent, {total}. Download its 837P."
RESENT_MESSAGE = "{what}: sent in batch {control}. Download its 837P."


def batch_file(practice_slug: str, batch: SubmissionBatch) -> str:
    """The batch's file name (no PHI): practice, month and interchange control number."""
    month = month_label(batch.month) if batch.month else "months"
    return f"caremonth-{practice_slug}-{month}-{batch.control_number:09d}.837"


@page(Capability.SUBMIT_CLAIMS, "GET", "POST")
def batch_list(request: PracticeRequest, month: str) -> HttpResponse:
    """GET: the month's batches (the whole page, or the rows the month page loads with
    htmx). POST: a new batch of the month's claims ready to send."""
    day = month_or_404(month)
    if request.method == "POST":
        return _create(request, day)
    rows = "HX-Request" in request.headers
    return render(
        request,
        "billing/batch_rows.html" if rows else "billing/batch_list.html",
        {
            "month": day,
            "label": month_label(day),
            "batches": list(selectors.batch_list(practice=request.practice, month=day)),
        },
    )


def _create(request: PracticeRequest, day: dt.date) -> HttpResponse:
    try:
        batch = services.batch_create(actor=request.membership, month=day)
    except (ApplicationError, ValidationError) as exc:
        flash_error(request, exc)
        return redirect("billing:month-detail", month=month_label(day))
    total = money(batch.total_charge)
    control = f"{batch.control_number:09d}"
    messages.success(
        request, CREATED_MESSAGE.format(control=control, claims=batch.claims, total=total)
    )
    return redirect("billing:batch-detail", batch_id=batch.pk)


@page(Capability.SUBMIT_CLAIMS, "GET")
def batch_detail(request: PracticeRequest, batch_id: str) -> HttpResponse:
    """A batch: its envelope and its claims with frequency, status and charge (audited as a
    read of each patient shown)."""
    practice = request.practice
    batch = selectors.batch_get(practice=practice, batch_id=batch_id)
    entries = list(selectors.batch_entries(practice=practice, batch=batch))
    audit.read_many(request.membership, [e.claim.patient for e in entries], action="claim.list")
    return render(
        request,
        "billing/batch_detail.html",
        {
            "batch": batch,
            "entries": entries,
            "label": month_label(batch.month) if batch.month else "",
            "file_name": batch_file(practice.slug, batch),
        },
    )


@page(Capability.SUBMIT_CLAIMS, "GET")
def batch_download(request: PracticeRequest, batch_id: str) -> Download:
    batch = selectors.batch_get(practice=request.practice, batch_id=batch_id)
    content = services.batch_download(actor=request.membership, batch=batch)
    name = batch_file(request.practice.slug, batch)
    return download(ExportFile(name, "application/edi-x12", content))


def _resend(
    request: PracticeRequest, claim_id: str, send: Callable[..., SubmissionBatch], what: str
) -> HttpResponse:
    claim = get_for_practice_or_404(Claim, request.practice, claim_id)
    extra: dict[str, Any] = {}
    if "payer_claim_number" in request.POST:
        extra["payer_claim_number"] = request.POST["payer_claim_number"]
    try:
        batch = send(actor=request.membership, claim=claim, **extra)
    except (ApplicationError, ValidationError) as exc:
        flash_error(request, exc)
        return redirect("billing:claim-detail", claim_id=claim.pk)
    control = f"{batch.control_number:09d}"
    messages.success(request, RESENT_MESSAGE.format(what=what, control=control))
    return redirect("billing:batch-detail", batch_id=batch.pk)


@page(Capability.SUBMIT_CLAIMS, "POST")
def claim_resubmit(request: PracticeRequest, claim_id: str) -> HttpResponse:
    return _resend(request, claim_id, services.claim_resubmit, "Claim resubmitted")


@page(Capability.SUBMIT_CLAIMS, "POST")
def claim_correct(request: PracticeRequest, claim_id: str) -> HttpResponse:
    return _resend(request, claim_id, services.claim_correct, "Corrected claim (frequency 7)")


@page(Capability.SUBMIT_CLAIMS, "POST")
def claim_void(request: PracticeRequest, claim_id: str) -> HttpResponse:
    return _resend(request, claim_id, services.claim_void, "Void (frequency 8)")
