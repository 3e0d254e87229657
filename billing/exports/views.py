"""Downloads of a closed month: CSV, X12 837P and the PDF summary (built, recorded and
audited by billing.exports.services.month_export)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from billing.exports import services
from billing.http import Download, download, month_or_404
from billing.models import ExportKind
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


def _export(request: PracticeRequest, month: str, kind: str) -> Download:
    day = month_or_404(month)
    if kind == ExportKind.X12 and from_another_site(request):  # it may create the batch
        flash_error(request, ValidationError(ANOTHER_SITE_MESSAGE))
        return redirect("billing:month-detail", month=month_label(day))
    try:
        return download(services.month_export(actor=request.membership, month=day, kind=kind))
    except (ApplicationError, ValidationError) as exc:
        flash_error(request, exc)
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
