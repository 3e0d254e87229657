"""Downloads of a closed month: CSV, X12 837P and the PDF summary (built, recorded and
audited by billing.exports.services.month_export)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from billing.exports import services
from billing.http import CLOSERS, Download, download, month_or_404
from billing.models import ExportKind
from ccm.api_auth import ApplicationError
from ccm.months import month_label
from ccm.tenancy import PracticeRequest, role_required


def _export(request: PracticeRequest, month: str, kind: str) -> Download:
    day = month_or_404(month)
    try:
        return download(services.month_export(actor=request.membership, month=day, kind=kind))
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
