"""Downloads of a closed month: CSV, X12 837P and the PDF summary (built, recorded and
audited by billing.exports.services.month_export)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from billing.exports import services
from billing.http import Download, download, month_or_404
from billing.models import ExportKind
from ccm.api_auth import ApplicationError
from ccm.forms import flash_error
from ccm.months import month_label
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest, capability_required


def _export(request: PracticeRequest, month: str, kind: str) -> Download:
    day = month_or_404(month)
    try:
        return download(services.month_export(actor=request.membership, month=day, kind=kind))
    except (ApplicationError, ValidationError) as exc:
        flash_error(request, exc)
    return redirect("billing:month-detail", month=month_label(day))


@login_required
@require_GET
@capability_required(Capability.EXPORT_CLAIMS)
def export_csv(request: PracticeRequest, month: str) -> Download:
    return _export(request, month, ExportKind.CSV)


@login_required
@require_GET
@capability_required(Capability.EXPORT_CLAIMS)
def export_837(request: PracticeRequest, month: str) -> Download:
    return _export(request, month, ExportKind.X12)


@login_required
@require_GET
@capability_required(Capability.EXPORT_CLAIMS)
def export_pdf(request: PracticeRequest, month: str) -> Download:
    return _export(request, month, ExportKind.PDF)
