"""Billing API (contract §4), exports of a closed month: CSV, X12 837P and the PDF summary
(admins and billers; built, recorded and audited by billing.exports.services)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from billing.exports import services
from billing.exports.views import ANOTHER_SITE_MESSAGE
from billing.http import download
from billing.models import ExportKind
from ccm.api import MONTH_PATH, ApiView, error_responses
from ccm.months import parse_month
from ccm.pages import from_another_site
from ccm.roles import Capability


class _ExportApi(ApiView):
    capability = Capability.EXPORT_CLAIMS
    kind = ""

    def get(self, request: Request, month: str) -> Any:
        day = parse_month(month)  # ValidationError → 400 {"month": [...]}
        # The 837 may create the month's batch: a browser session (no token) started by
        # another site is refused, as CSRF refuses its POSTs.
        if self.kind == ExportKind.X12 and request.auth is None and from_another_site(request):
            raise PermissionDenied(ANOTHER_SITE_MESSAGE)
        return download(services.month_export(actor=self.membership, month=day, kind=self.kind))


def _export_api(kind: str, media: str, summary: str) -> type[_ExportApi]:
    @extend_schema(
        operation_id=f"billing_month_export_{kind}",
        parameters=[MONTH_PATH],
        summary=summary,
        responses={
            (200, media): OpenApiTypes.BINARY,
            **error_responses(400, 403, 409),
        },
    )
    def get(self: _ExportApi, request: Request, month: str) -> Any:
        return _ExportApi.get(self, request, month)

    return type(f"Export{kind.upper()}Api", (_ExportApi,), {"kind": kind, "get": get})


ExportCsvApi = _export_api(ExportKind.CSV, "text/csv", "CSV export: one row per claim line")
Export837Api = _export_api(ExportKind.X12, "application/edi-x12", "X12 837P 005010X222A1")
ExportPdfApi = _export_api(ExportKind.PDF, "application/pdf", "PDF month summary")
