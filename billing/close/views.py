"""Billing pages: months, the pre-close check, closing with a progress bar (htmx polling),
reopening, claims review with explanations and status tracking, and the exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Sum
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.close import services, tasks
from billing.exports import services as exports
from billing.models import (
    Claim,
    ClaimLine,
    ClaimStatus,
    CloseStatus,
    ExportKind,
    MonthClose,
    Outcome,
)
from ccm import audit, jobs
from ccm.api_auth import ApplicationError
from ccm.models import Membership, Role
from ccm.months import current_month, month_label, parse_month, previous_month
from ccm.tenancy import PracticeRequest, get_for_practice_or_404, role_required

Download = HttpResponse | StreamingHttpResponse
READERS = (Role.ADMIN, Role.BILLER, Role.PHYSICIAN)
CLOSERS = (Role.ADMIN, Role.BILLER)
PAGE_SIZE = 100
MONTHS_LISTED = 13
PRECLOSE_ROWS = 250  # per problem on the page (templates/billing/preclose_check.html)


def _month(text: str) -> dt.date:
    try:
        return parse_month(text)
    except ValidationError:
        raise Http404("No such month.") from None


def _close(request: PracticeRequest, month: dt.date) -> MonthClose | None:
    return MonthClose.objects.filter(month=month).first()


def _state(close: MonthClose | None) -> str:
    return close.status if close else "open"


@login_required
@require_GET
@role_required(*READERS)
def month_list(request: PracticeRequest) -> HttpResponse:
    this = current_month(request.practice.time_zone)
    closes = {c.month: c for c in MonthClose.objects.all()}
    months, cursor = [], this
    for _ in range(MONTHS_LISTED):
        months.append({"month": cursor, "label": month_label(cursor), "close": closes.get(cursor)})
        cursor = previous_month(cursor)
    context = {
        "months": months,
        "this_month": this,
        "can_import": request.membership.role in CLOSERS,
    }
    return render(request, "billing/month_list.html", context)


def _month_context(request: PracticeRequest, month: dt.date) -> dict[str, Any]:
    close = _close(request, month)
    this = current_month(request.practice.time_zone)
    context: dict[str, Any] = {
        "month": month,
        "label": month_label(month),
        "close": close,
        "state": _state(close),
        "is_past": month < this,
        "can_close": request.membership.role in CLOSERS,
        "is_admin": request.membership.role == Role.ADMIN,
    }
    if close and close.status == CloseStatus.CLOSED:
        context["summary"] = exports.summary(request.practice, month)
        context["not_billable"] = Outcome.objects.filter(month=month, billable=False).count()
        context["statuses"] = dict(
            Claim.objects.filter(month=month)
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        context["reopenings"] = list(close.reopenings.select_related("reopened_by__user"))
    if close and close.status == CloseStatus.REOPENED and context["can_close"]:
        changes = services.submitted_changes(practice=request.practice, month=month)
        audit.record_many(
            request.membership, [(c, c.patient_id) for c, _d in changes], action="claim.read"
        )
        context["changes"] = changes
    return context


@login_required
@require_GET
@role_required(*READERS)
def month_detail(request: PracticeRequest, month: str) -> HttpResponse:
    day = _month(month)
    return render(request, "billing/month_detail.html", _month_context(request, day))


@login_required
@require_GET
@role_required(*READERS)
def month_progress(request: PracticeRequest, month: str) -> HttpResponse:
    """The htmx fragment polled while a close runs (stops polling once it is closed)."""
    day = _month(month)
    return render(
        request,
        "billing/month_progress.html",
        {
            "close": _close(request, day),
            "label": month_label(day),
            "can_close": request.membership.role in CLOSERS,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@role_required(*CLOSERS)
def month_close(request: PracticeRequest, month: str) -> HttpResponse:
    """GET (or a POST without `confirm=yes`): the confirmation page with the pre-close
    counts. The confirmed POST starts the close; resuming a running close (already
    confirmed when it started) needs no second confirmation."""
    day = _month(month)
    state = _state(_close(request, day))
    confirmed = request.method == "POST" and request.POST.get("confirm") == "yes"
    if not (confirmed or (request.method == "POST" and state == CloseStatus.RUNNING)):
        return _close_confirmation(request, day, state)
    confirm = request.POST.get("confirm_changes") == "on"
    try:
        close = services.month_close_start(
            practice=request.practice, month=day, actor=request.membership, confirm_changes=confirm
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("billing:month-detail", month=month_label(day))
    job = jobs.enqueue(
        tasks.month_close,
        str(request.practice.pk),
        month_label(day),
        str(request.membership.pk),
        confirm,
        close.times_closed,
    )
    audit.record_for(request.membership, "month.close_requested", object_id=month_label(day))
    if job.queued:  # otherwise the month shows closing and ccm.jobs' message says why it waits
        messages.success(request, f"Closing {day:%B %Y}.")
    return redirect("billing:month-detail", month=month_label(day))


def _close_confirmation(request: PracticeRequest, day: dt.date, state: str) -> HttpResponse:
    """What closing would do: lock the time, the claims it would produce, the problems the
    pre-close check still lists (counts per group, no patient names)."""
    label = month_label(day)
    not_over = day >= current_month(request.practice.time_zone)
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


@login_required
@require_POST
@role_required(Role.ADMIN)
def month_reopen(request: PracticeRequest, month: str) -> HttpResponse:
    day = _month(month)
    try:
        services.month_reopen(
            practice=request.practice,
            month=day,
            actor=request.membership,
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{day:%B %Y} is reopened: its time can be corrected.")
    return redirect("billing:month-detail", month=month_label(day))


@login_required
@require_GET
@role_required(*CLOSERS)
def preclose_check(request: PracticeRequest, month: str) -> HttpResponse:
    day = _month(month)
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
            "clinical": request.membership.role == Role.ADMIN,
        },
    )


def _practitioners(request: PracticeRequest, month: dt.date) -> list[Membership]:
    """The month's billing practitioners (the claims filter's choices)."""
    ids = Claim.objects.filter(month=month).values_list("billing_practitioner_id", flat=True)
    return list(Membership.objects.filter(pk__in=ids).select_related("user"))


@login_required
@require_GET
@role_required(*READERS)
def claim_list(request: PracticeRequest, month: str) -> HttpResponse:
    """Claims with lines and explanations, or the not-billable patient-months with reasons;
    filters: practitioner, code, status, billable or not."""
    day = _month(month)
    show = "not_billable" if request.GET.get("billable") == "no" else "claims"
    practitioner = request.GET.get("practitioner", "")
    code = request.GET.get("code", "").strip().upper()
    status = request.GET.get("status", "")
    if show == "claims":
        rows: Any = exports.month_claims(request.practice, day, withdrawn=True)
        if practitioner:
            rows = rows.filter(billing_practitioner_id=_uuid_or_404(practitioner))
        if code:
            rows = rows.filter(Exists(ClaimLine.objects.filter(claim=OuterRef("pk"), code=code)))
        if status in ClaimStatus.values:
            rows = rows.filter(status=status)
    else:
        rows = (
            Outcome.objects.filter(month=day, billable=False)
            .select_related("patient")
            .order_by("patient__last_name", "patient__first_name", "patient_id")
        )
        if practitioner:
            rows = rows.filter(patient__billing_practitioner_id=_uuid_or_404(practitioner))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    audit.read_many(request.membership, [r.patient for r in page], action="claim.list")
    totals = (
        Claim.objects.filter(month=day)
        .exclude(status=ClaimStatus.WITHDRAWN)
        .aggregate(n=Count("pk"), amount=Sum("amount"))
    )
    return render(
        request,
        "billing/claim_list.html",
        {
            "month": day,
            "label": month_label(day),
            "close": _close(request, day),
            "show": show,
            "page": page,
            "practitioners": _practitioners(request, day),
            "filters": {"practitioner": practitioner, "code": code, "status": status},
            "statuses": ClaimStatus.choices,
            "totals": totals,
            "not_billable": Outcome.objects.filter(month=day, billable=False).count(),
            "can_update": request.membership.role in CLOSERS,
            "query": request.GET.urlencode(),
        },
    )


def _uuid_or_404(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise Http404("No such practitioner.") from None


@login_required
@require_GET
@role_required(*READERS)
def claim_detail(request: PracticeRequest, claim_id: str) -> HttpResponse:
    claim = get_for_practice_or_404(Claim, request.practice, claim_id)
    outcome = Outcome.objects.filter(patient_id=claim.patient_id, month=claim.month).first()
    audit.read(request.membership, claim, patient_id=claim.patient_id)
    return render(
        request,
        "billing/claim_detail.html",
        {
            "claim": claim,
            "lines": list(claim.lines.all()),
            "outcome": outcome,
            "label": month_label(claim.month),
            "statuses": ClaimStatus.choices,
            "next_statuses": sorted(services.TRANSITIONS[claim.status]),
            "can_update": request.membership.role in CLOSERS,
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
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except ApplicationError as exc:
        messages.error(request, str(exc))
    except Claim.DoesNotExist:
        raise Http404("No such claim.") from None
    except PermissionDenied:
        raise
    return None


@login_required
@require_POST
@role_required(*CLOSERS)
def claim_status(request: PracticeRequest, claim_id: str) -> HttpResponse:
    claim = get_for_practice_or_404(Claim, request.practice, claim_id)
    if _set_status(request, [claim.pk]) is not None:
        messages.success(request, f"Claim marked {request.POST['status']}.")
    return redirect("billing:claim-detail", claim_id=claim.pk)


@login_required
@require_POST
@role_required(*CLOSERS)
def claim_status_bulk(request: PracticeRequest, month: str) -> HttpResponse:
    day = _month(month)
    ids = [_uuid_or_404(v) for v in request.POST.getlist("claims")]
    if Claim.objects.filter(pk__in=ids, month=day).count() != len(set(ids)):
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


def export_response(membership: Membership, month: dt.date, kind: str) -> Download:
    """One export of a closed month (pages and API): recorded, audited, no PHI in the name."""
    with transaction.atomic():  # a refused 837 (missing billing data) records nothing
        return _export_built(membership, month, kind)


def _export_built(membership: Membership, month: dt.date, kind: str) -> Download:
    practice = membership.practice
    close = exports.closed_month(practice, month)
    claims = list(exports.month_claims(practice, month))
    if kind == ExportKind.X12:  # the 837 carries the claims still to send
        claims = [c for c in claims if c.status == ClaimStatus.READY]
    export = exports.record(membership, month, kind, claims)
    name = f"caremonth-{practice.slug}-{month_label(month)}"
    response: Download
    if kind == ExportKind.CSV:
        response = StreamingHttpResponse(exports.csv_lines(claims), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    elif kind == ExportKind.X12:
        from billing.exports import x12

        body = x12.month_837(practice, month, control_number=export.control_number or 0)
        # Sent from now on: a re-close keeps these claims unless the closer confirms.
        Claim.objects.unscoped().filter(practice=practice, pk__in=[c.pk for c in claims]).update(
            exported_at=export.created_at
        )
        response = HttpResponse(body, content_type="application/edi-x12")
        response["Content-Disposition"] = f'attachment; filename="{name}.837"'
    else:
        body_pdf = exports.render_pdf(practice, close, claims)
        response = HttpResponse(body_pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


def _export(request: PracticeRequest, month: str, kind: str) -> Download:
    day = _month(month)
    try:
        return export_response(request.membership, day, kind)
    except ApplicationError as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("billing:month-detail", month=month_label(day))


@login_required
@require_GET
@role_required(*CLOSERS)
def export_csv(request: PracticeRequest, month: str) -> Download:
    return _export(request, month, ExportKind.CSV)


@login_required
@require_GET
@role_required(*CLOSERS)
def export_837(request: PracticeRequest, month: str) -> Download:
    return _export(request, month, ExportKind.X12)


@login_required
@require_GET
@role_required(*CLOSERS)
def export_pdf(request: PracticeRequest, month: str) -> Download:
    return _export(request, month, ExportKind.PDF)
