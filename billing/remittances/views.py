"""Pages of claim-to-cash after submission: upload a 999, 277CA or 835 (admins, billers)
and see what each said (everyone who sees billing); the receivables' ageing and the claims
behind a money figure.

Every page showing claims audits the read of their patients (one event per patient)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from billing.models import AckKind, Acknowledgment, ClaimStatus, Remittance
from billing.remittances import codes, selectors, services
from billing.remittances.forms import X12UploadForm
from ccm import audit
from ccm.months import month_label, parse_month
from ccm.pages import acting, form_page, page, submit, writers_only
from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest, get_for_practice_or_404

RECENT = 50
PAGE_SIZE = 100
IMPORTED_MESSAGE = "{kind} imported."
ALREADY_MESSAGE = "This file was already imported: nothing changed. Here is what it said."


def detail_url(record: services.Imported) -> str:
    if isinstance(record, Remittance):
        return reverse("billing:remit-detail", kwargs={"remittance_id": record.pk})
    return reverse("billing:ack-detail", kwargs={"acknowledgment_id": record.pk})


@page(Capability.VIEW_BILLING, "GET", "POST")
def remit_list(request: PracticeRequest) -> HttpResponse:
    """The files imported (newest first) and, for admins and billers, the upload form."""
    writers_only(request, Capability.POST_REMITTANCES)
    form = X12UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        saved = submit(
            form,
            lambda: services.x12_import(
                **acting(request), content=form.cleaned_data["file"].read()
            ),
        )
        if saved:
            record, created = saved.result
            if created:
                label = _kind_label(record)
                messages.success(request, IMPORTED_MESSAGE.format(kind=label))
            else:
                messages.info(request, ALREADY_MESSAGE)
            return redirect(detail_url(record))
    practice = request.practice
    context = {
        "acknowledgments": list(selectors.acknowledgment_list(practice=practice)[:RECENT]),
        "remittances": list(selectors.remittance_list(practice=practice)[:RECENT]),
        "can_post": can(request.membership, Capability.POST_REMITTANCES),
    }
    return form_page(request, "billing/remit_list.html", form, **context)


def _kind_label(record: services.Imported) -> str:
    if isinstance(record, Remittance):
        return "835 remittance"
    return "999 acknowledgment" if record.kind == AckKind.X999 else "277CA acknowledgment"


@page(Capability.VIEW_BILLING, "GET")
def ack_detail(request: PracticeRequest, acknowledgment_id: str) -> HttpResponse:
    """A 999 (the batch accepted or rejected, with the segment errors) or a 277CA (each
    claim's status with its meaning and a link to the claim)."""
    found = get_for_practice_or_404(Acknowledgment, request.practice, acknowledgment_id)
    ack = selectors.acknowledgment_get(practice=request.practice, acknowledgment_id=found.pk)
    statuses = list(ack.claim_statuses.all())
    patients = {s.claim.patient for s in statuses if s.claim is not None}
    audit.read_many(request.membership, patients, action="acknowledgment.read")
    context = {
        "ack": ack,
        "statuses": statuses,
        "errors": ack.errors,
        "rejected": [s for s in statuses if not s.accepted],
        "can_post": can(request.membership, Capability.POST_REMITTANCES),
    }
    return render(request, "billing/ack_detail.html", context)


@page(Capability.VIEW_BILLING, "GET")
def remit_detail(request: PracticeRequest, remittance_id: str) -> HttpResponse:
    """An 835: payer, trace, amount; each claim's paid, patient responsibility and
    adjustments with their descriptions; the payments matching no claim of the practice."""
    found = get_for_practice_or_404(Remittance, request.practice, remittance_id)
    remit = selectors.remittance_get(practice=request.practice, remittance_id=found.pk)
    rows = list(remit.claims.all())
    audit.read_many(
        request.membership,
        {r.claim.patient for r in rows if r.claim is not None},
        action="remittance.read",
    )
    context = {
        "remit": remit,
        "matched": [r for r in rows if r.claim is not None],
        "unmatched": [r for r in rows if r.claim is None],
        "statuses": codes.CLAIM_PAYMENT_STATUSES,
        "groups": codes.ADJUSTMENT_GROUPS,
    }
    return render(request, "billing/remit_detail.html", context)


@page(Capability.VIEW_BILLING, "GET")
def receivables(request: PracticeRequest) -> HttpResponse:
    """Accounts receivable by service month and age (0-30, 31-60, 61-90, 90+ days since
    submission); each figure links to its claims."""
    return render(
        request,
        "billing/remit_receivables.html",
        {"ageing": selectors.ageing(practice=request.practice)},
    )


def _month_or_404(text: str) -> Any:
    try:
        return parse_month(text) if text else None
    except ValidationError:
        raise Http404("No such month.") from None


@page(Capability.VIEW_BILLING, "GET")
def money_claims(request: PracticeRequest) -> HttpResponse:
    """The claims behind a money figure (?month=YYYY-MM&status=…, several statuses allowed)
    or an ageing cell (?bucket=0-30&month=…)."""
    month = _month_or_404(request.GET.get("month", ""))
    bucket = request.GET.get("bucket", "")
    if bucket and bucket not in [b for b, _first, _last in selectors.BUCKETS]:
        raise Http404("No such age bucket.")
    statuses = [s for s in request.GET.getlist("status") if s in ClaimStatus.values]
    rows = selectors.money_claims(
        practice=request.practice, month=month, statuses=statuses, bucket=bucket
    )
    page_of = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    audit.read_many(request.membership, [c.patient for c in page_of], action="claim.list")
    filters = [("month", month_label(month))] if month else []
    filters += [("status", s) for s in statuses] + ([("bucket", bucket)] if bucket else [])
    context = {
        "page": page_of,
        "month": month,
        "bucket": bucket,
        "statuses": [ClaimStatus(s).label for s in statuses],
        "query": urlencode(filters),
    }
    return render(request, "billing/remit_claims.html", context)
