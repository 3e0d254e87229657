"""Downloads of a closed month: CSV, X12 837P and the PDF summary. A small month's CSV and
837 (and PDF) are still built in the request (billing.exports.services.month_export); the PDF
from the month page, and every export of a month over DIRECT_LIMIT claims, are prepared by a
worker: the exports panel requests one, shows "Preparing… N of M" (htmx polling) and the
download link once the stored file is ready (issue 18)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render

from billing.exports import selectors, services
from billing.http import Download, download, month_or_404
from billing.models import ExportKind, PreparedExport
from ccm.api_auth import ApplicationError
from ccm.forms import flash_error
from ccm.months import month_label
from ccm.pages import from_another_site, page
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest

ANOTHER_SITE_MESSAGE = (
    "The 837P was not created: the download came from a link on another site. Download it "
    "from the month page."
)
PANEL_EXPORTS = 6  # the month's latest prepared exports the panel lists


def _export(request: PracticeRequest, month: str, kind: str) -> Download:
    day = month_or_404(month)
    if kind == ExportKind.X12 and from_another_site(request):  # it may create the batch
        flash_error(request, ValidationError(ANOTHER_SITE_MESSAGE))
        return redirect("billing:month-detail", month=month_label(day))
    try:
        return download(services.month_export(actor=request.membership, month=day, kind=kind))
    except (ApplicationError, ValidationError) as exc:
        flash_error(request, exc)
    if services.month_claim_count(request.practice, day) > services.DIRECT_LIMIT:
        return redirect("billing:month-exports", month=month_label(day))
    return redirect("billing:month-detail", month=month_label(day))


@page(Capability.EXPORT_CLAIMS, "GET")
def export_csv(request: PracticeRequest, month: str) -> Download:
    return _export(request, month, ExportKind.CSV)


@page(Capability.EXPORT_CLAIMS, "GET")
def export_837(request: PracticeRequest, month: str) -> Download:
    return _export(request, month, ExportKind.X12)


@page(Capability.EXPORT_CLAIMS, "GET")
def export_pdf(request: PracticeRequest, month: str) -> Download:
    return _export(request, month, ExportKind.PDF)


def _panel_context(request: PracticeRequest, day: dt.date) -> dict[str, Any]:
    claims = services.month_claim_count(request.practice, day)
    return {
        "month": day,
        "label": month_label(day),
        "claims": claims,
        "direct": claims <= services.DIRECT_LIMIT,
        "limit": services.DIRECT_LIMIT,
        "prepared": selectors.prepared_list(
            practice=request.practice, month=day, limit=PANEL_EXPORTS
        ),
    }


@page(Capability.EXPORT_CLAIMS, "GET", "POST")
def month_exports(request: PracticeRequest, month: str) -> HttpResponse:
    """GET: the month's exports (a page, or the panel the month page loads with htmx).
    POST `kind`: prepare one (a worker builds it; asking again while it runs gives the
    same one), then back here where its progress shows."""
    day = month_or_404(month)
    if request.method == "POST":
        try:
            services.export_request(
                actor=request.membership, month=day, kind=request.POST.get("kind", "")
            )
        except (ApplicationError, ValidationError) as exc:
            flash_error(request, exc)
        return redirect("billing:month-exports", month=month_label(day))
    panel = request.headers.get("HX-Request")  # the month page loads the panel alone
    template = "billing/_month_exports.html" if panel else "billing/month_exports.html"
    return render(request, template, _panel_context(request, day))


def _prepared(request: PracticeRequest, export_id: str) -> PreparedExport:
    return selectors.prepared_get(practice=request.practice, export_id=export_id)


@page(Capability.EXPORT_CLAIMS, "GET")
def export_status(request: PracticeRequest, export_id: str) -> HttpResponse:
    """The htmx fragment polled while an export is prepared (stops once it is ready)."""
    return render(request, "billing/_export_status.html", {"e": _prepared(request, export_id)})


@page(Capability.EXPORT_CLAIMS, "GET")
def export_download(request: PracticeRequest, export_id: str) -> Download:
    """A prepared export's stored file, the download recorded and audited."""
    prepared = _prepared(request, export_id)
    try:
        return download(services.prepared_download(actor=request.membership, prepared=prepared))
    except ApplicationError as exc:
        flash_error(request, exc)
    return redirect("billing:month-exports", month=month_label(prepared.month))
