"""Month close pages: months, the pre-close check, closing with a progress bar (htmx
polling) and reopening. Claims review is billing.claims.views, downloads billing.exports.views."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from billing.claims import selectors as claim_selectors
from billing.close import selectors, services
from billing.exports import selectors as export_selectors
from billing.http import month_or_404
from billing.models import CloseStatus, MonthClose
from billing.remittances import selectors as money_selectors
from ccm import audit
from ccm.api_auth import ApplicationError
from ccm.forms import flash_error
from ccm.months import month_label, previous_month
from ccm.pages import page
from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest

MONTHS_LISTED = 13
PRECLOSE_ROWS = 250  # per problem on the page (templates/billing/preclose_check.html)


def _close(request: PracticeRequest, month: dt.date) -> MonthClose | None:
    return selectors.month_close_get(practice=request.practice, month=month)


def _state(close: MonthClose | None) -> str:
    return close.status if close else "open"


@page(Capability.VIEW_BILLING, "GET")
def month_list(request: PracticeRequest) -> HttpResponse:
    this = request.practice.this_month()
    closes = selectors.month_close_by_month(practice=request.practice)
    months, cursor = [], this
    for _ in range(MONTHS_LISTED):
        months.append({"month": cursor, "label": month_label(cursor), "close": closes.get(cursor)})
        cursor = previous_month(cursor)
    context = {
        "months": months,
        "this_month": this,
        "can_import": can(request.membership, Capability.IMPORT_OTHER_SERVICES),
    }
    return render(request, "billing/month_list.html", context)


def _month_context(request: PracticeRequest, month: dt.date) -> dict[str, Any]:
    close = _close(request, month)
    this = request.practice.this_month()
    context: dict[str, Any] = {
        "month": month,
        "label": month_label(month),
        "close": close,
        "state": _state(close),
        "is_past": month < this,
        "can_close": can(request.membership, Capability.CLOSE_MONTHS),
        "is_admin": can(request.membership, Capability.REOPEN_MONTHS),
    }
    if close and close.status == CloseStatus.CLOSED:
        practice = request.practice
        context["summary"] = export_selectors.summary(practice, month)
        context["not_billable"] = claim_selectors.not_billable_count(practice=practice, month=month)
        context["statuses"] = claim_selectors.claim_status_counts(practice=practice, month=month)
        context["reopenings"] = selectors.month_reopenings(close=close)
        context["money"] = money_selectors.month_money(practice=practice, month=month)
    if close and close.status == CloseStatus.REOPENED and context["can_close"]:
        changes = services.submitted_changes(practice=request.practice, month=month)
        audit.record_many(
            request.membership, [(c, c.patient_id) for c, _d in changes], action="claim.read"
        )
        context["changes"] = changes
    return context


@page(Capability.VIEW_BILLING, "GET")
def month_detail(request: PracticeRequest, month: str) -> HttpResponse:
    day = month_or_404(month)
    return render(request, "billing/month_detail.html", _month_context(request, day))


@page(Capability.VIEW_BILLING, "GET")
def month_progress(request: PracticeRequest, month: str) -> HttpResponse:
    """The htmx fragment polled while a close runs (stops polling once it is closed)."""
    day = month_or_404(month)
    return render(
        request,
        "billing/month_progress.html",
        {
            "close": _close(request, day),
            "label": month_label(day),
            "can_close": can(request.membership, Capability.CLOSE_MONTHS),
        },
    )


@page(Capability.CLOSE_MONTHS, "GET", "POST")
def month_close(request: PracticeRequest, month: str) -> HttpResponse:
    """GET (or a POST without `confirm=yes`): the confirmation page with the pre-close
    counts. The confirmed POST starts the close; resuming a running close (already
    confirmed when it started) needs no second confirmation."""
    day = month_or_404(month)
    state = _state(_close(request, day))
    confirmed = request.method == "POST" and request.POST.get("confirm") == "yes"
    if not (confirmed or (request.method == "POST" and state == CloseStatus.RUNNING)):
        return _close_confirmation(request, day, state)
    confirm = request.POST.get("confirm_changes") == "on"
    try:
        _started, job = services.month_close_request(
            practice=request.practice, month=day, actor=request.membership, confirm_changes=confirm
        )
    except ValidationError as exc:
        flash_error(request, exc)
        return redirect("billing:month-detail", month=month_label(day))
    if job.queued:  # otherwise the month shows closing and ccm.jobs' message says why it waits
        messages.success(request, f"Closing {day:%B %Y}.")
    return redirect("billing:month-detail", month=month_label(day))


def _close_confirmation(request: PracticeRequest, day: dt.date, state: str) -> HttpResponse:
    """What closing would do: lock the time, the claims it would produce, the problems the
    pre-close check still lists (counts per group, no patient names)."""
    label = month_label(day)
    not_over = day >= request.practice.this_month()
    if not_over:
        messages.error(request, services.NOT_OVER_MESSAGE.format(month=label))
    if not_over or state not in ("open", CloseStatus.REOPENED):  # nothing to confirm
        return redirect("billing:month-detail", month=label)
    check = services.preclose_check(practice=request.practice, month=day)
    context = {
        "month": day,
        "label": label,
        "state": state,
        "check": check,
        "counts": [(key, title, len(rows)) for key, title, rows in check["groups"]],
        "changes": 0,
        "cancel_url": reverse("billing:month-detail", kwargs={"month": label}),
    }
    if state == CloseStatus.REOPENED:
        context["changes"] = len(services.submitted_changes(practice=request.practice, month=day))
    return render(request, "billing/month_close.html", context)


@page(Capability.REOPEN_MONTHS, "POST")
def month_reopen(request: PracticeRequest, month: str) -> HttpResponse:
    day = month_or_404(month)
    try:
        services.month_reopen(
            practice=request.practice,
            month=day,
            actor=request.membership,
            reason=request.POST.get("reason", ""),
        )
    except (ValidationError, ApplicationError) as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"{day:%B %Y} is reopened: its time can be corrected.")
    return redirect("billing:month-detail", month=month_label(day))


@page(Capability.CLOSE_MONTHS, "GET")
def preclose_check(request: PracticeRequest, month: str) -> HttpResponse:
    day = month_or_404(month)
    check = services.preclose_check(practice=request.practice, month=day)
    shown = [row["patient"] for _k, _l, rows in check["groups"] for row in rows[:PRECLOSE_ROWS]]
    audit.read_many(request.membership, shown, action="patient.preclose_check")
    return render(
        request,
        "billing/preclose_check.html",
        {
            "month": day,
            "label": month_label(day),
            "check": check,
            "close": _close(request, day),
            "clinical": can(request.membership, Capability.EDIT_CLINICAL),
        },
    )
