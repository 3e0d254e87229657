"""Claims review pages: a closed month's claims with lines and explanations, the
not-billable patient-months with reasons, and the biller's status tracking."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from billing.claims import selectors, services
from billing.close import selectors as close_selectors
from billing.http import month_or_404
from billing.models import Claim, ClaimStatus
from ccm import audit
from ccm.api_auth import ApplicationError
from ccm.forms import flash_error
from ccm.months import month_label
from ccm.pages import page
from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest, get_for_practice_or_404

PAGE_SIZE = 100


@page(Capability.VIEW_BILLING, "GET")
def claim_list(request: PracticeRequest, month: str) -> HttpResponse:
    """Claims with lines and explanations, or the not-billable patient-months with reasons;
    filters: practitioner, code, status, billable or not."""
    day = month_or_404(month)
    show = "not_billable" if request.GET.get("billable") == "no" else "claims"
    practitioner = request.GET.get("practitioner", "")
    code = request.GET.get("code", "").strip().upper()
    status = request.GET.get("status", "")
    who = _uuid_or_404(practitioner) if practitioner else None
    practice = request.practice
    rows: Any
    if show == "claims":
        rows = selectors.claim_review_list(
            practice=practice, month=day, practitioner_id=who, code=code, status=status
        )
    else:
        rows = selectors.not_billable_list(practice=practice, month=day, practitioner_id=who)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    audit.read_many(request.membership, [r.patient for r in page], action="claim.list")
    return render(
        request,
        "billing/claim_list.html",
        {
            "month": day,
            "label": month_label(day),
            "close": close_selectors.month_close_get(practice=practice, month=day),
            "show": show,
            "page": page,
            "practitioners": selectors.claim_practitioners(practice=practice, month=day),
            "filters": {"practitioner": practitioner, "code": code, "status": status},
            "statuses": ClaimStatus.choices,
            "totals": selectors.claim_totals(practice=practice, month=day),
            "not_billable": selectors.not_billable_count(practice=practice, month=day),
            "can_update": can(request.membership, Capability.UPDATE_CLAIMS),
            "query": request.GET.urlencode(),
        },
    )


def _uuid_or_404(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Http404("No such practitioner.") from None


@page(Capability.VIEW_BILLING, "GET")
def claim_detail(request: PracticeRequest, claim_id: str) -> HttpResponse:
    claims = selectors.claim_pages(practice=request.practice)
    claim = get_for_practice_or_404(claims, request.practice, claim_id)
    audit.read(request.membership, claim, patient_id=claim.patient_id)
    return render(
        request,
        "billing/claim_detail.html",
        {
            "claim": claim,
            "lines": selectors.claim_lines(claim=claim),
            "outcome": selectors.claim_outcome(claim=claim),
            "label": month_label(claim.month),
            "statuses": ClaimStatus.choices,
            "next_statuses": sorted(services.TRANSITIONS[claim.status]),
            "can_update": can(request.membership, Capability.UPDATE_CLAIMS),
        },
    )


def _set_status(request: PracticeRequest, ids: list[Any]) -> int | None:
    try:
        return services.claims_status_set(
            practice=request.practice,
            actor=request.membership,
            claim_ids=ids,
            status=request.POST.get("status", ""),
            denial_reason=request.POST.get("denial_reason", ""),
        )
    except (ValidationError, ApplicationError) as exc:
        flash_error(request, exc)
    except Claim.DoesNotExist:
        raise Http404("No such claim.") from None
    except PermissionDenied:
        raise
    return None


@page(Capability.UPDATE_CLAIMS, "POST")
def claim_status(request: PracticeRequest, claim_id: str) -> HttpResponse:
    claim = get_for_practice_or_404(Claim, request.practice, claim_id)
    if _set_status(request, [claim.pk]) is not None:
        messages.success(request, f"Claim marked {request.POST['status']}.")
    return redirect("billing:claim-detail", claim_id=claim.pk)


@page(Capability.UPDATE_CLAIMS, "POST")
def claim_status_bulk(request: PracticeRequest, month: str) -> HttpResponse:
    day = month_or_404(month)
    chosen = request.POST.getlist("claims")
    # "Select all" works without JavaScript: the page lists its claims in page_claims, and
    # the heading's box (all_on_page) takes every one of them.
    if request.POST.get("all_on_page"):
        chosen += request.POST.getlist("page_claims")
    ids = list(dict.fromkeys(str(_uuid_or_404(v)) for v in chosen))
    if not selectors.claims_in_month(practice=request.practice, month=day, claim_ids=ids):
        raise Http404("No such claim in this month.")
    if not ids:
        messages.error(request, "Choose at least one claim.")
    else:
        n = _set_status(request, ids)
        if n is not None:
            messages.success(request, f"{n} claim(s) marked {request.POST['status']}.")
    url = reverse("billing:claim-list", kwargs={"month": month_label(day)})
    back = QueryDict(request.POST.get("next_query", "")).urlencode()
    return redirect(f"{url}?{back}" if back else url)
