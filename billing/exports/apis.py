"""Billing API (contract §4), exports of a closed month: CSV, X12 837P and the PDF summary
(admins and billers; built, recorded and audited by billing.exports.services). A month over
DIRECT_LIMIT claims answers 409 on the direct GETs: its exports, like any PDF, are prepared by
a worker: POST …/months/<month>/exports/ (202 with the status URL), GET
…/exports/<id>/ until `ready`, then GET …/exports/<id>/download (issue 18)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from billing.exports import selectors, services
from billing.exports.views import ANOTHER_SITE_MESSAGE
from billing.http import download
from billing.models import ExportKind, PreparedExport, PreparedStatus
from ccm.api import MONTH_PATH, ApiView, EnumField, StrictSerializer, error_responses, validated
from ccm.months import month_label, parse_month
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
        description="Built in the request for a month of at most 1,000 claims; a larger "
        "month answers 409: prepare it with POST /api/v1/billing/months/{month}/exports/.",
    )
    def get(self: _ExportApi, request: Request, month: str) -> Any:
        return _ExportApi.get(self, request, month)

    return type(f"Export{kind.upper()}Api", (_ExportApi,), {"kind": kind, "get": get})


ExportCsvApi = _export_api(ExportKind.CSV, "text/csv", "CSV export: one row per claim line")
Export837Api = _export_api(ExportKind.X12, "application/edi-x12", "X12 837P 005010X222A1")
ExportPdfApi = _export_api(ExportKind.PDF, "application/pdf", "PDF month summary")


EXPORT_PATH = OpenApiParameter(
    "export_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The prepared export's id."
)


@extend_schema_serializer(component_name="PreparedExportRequest")
class PreparedRequestSerializer(StrictSerializer):
    kind = EnumField(ExportKind.choices, enum_name="ExportKindEnum")


@extend_schema_serializer(component_name="PreparedExport")
class PreparedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    month = serializers.SerializerMethodField()
    kind = EnumField(ExportKind.choices, enum_name="ExportKindEnum")
    status = EnumField(PreparedStatus.choices, enum_name="PreparedExportStatusEnum")
    done = serializers.IntegerField(help_text="Claims written so far.")
    total = serializers.IntegerField(help_text="Claims on the file.")
    size = serializers.IntegerField(help_text="Bytes of the file once ready, else 0.")
    sha256 = serializers.CharField(help_text="SHA-256 of the file once ready, else empty.")
    error = serializers.CharField(help_text="Why it failed (status `failed`), else empty.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    status_url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(
        help_text="Where to GET the file once `status` is `ready`."
    )

    def get_month(self, obj: PreparedExport) -> str:
        return month_label(obj.month)

    def get_status_url(self, obj: PreparedExport) -> str:
        return reverse("api:billing-export", args=[obj.pk])

    def get_download_url(self, obj: PreparedExport) -> str:
        return reverse("api:billing-export-download", args=[obj.pk])


def _prepared(view: ApiView, export_id: Any) -> PreparedExport:
    return selectors.prepared_get(practice=view.practice, export_id=export_id)


class PreparedExportRequestApi(ApiView):
    """Admins and billers: have a worker prepare an export of a closed month (any size)."""

    capability = Capability.EXPORT_CLAIMS

    @extend_schema(
        operation_id="billing_month_export_prepare",
        parameters=[MONTH_PATH],
        summary="Prepare an export of a closed month in the background (202; idempotent "
        "while one of the same kind is being prepared)",
        request=PreparedRequestSerializer,
        responses={202: PreparedSerializer, **error_responses(400, 403, 409)},
    )
    def post(self, request: Request, month: str) -> Response:
        day = parse_month(month)  # ValidationError → 400 {"month": [...]}
        body = validated(PreparedRequestSerializer, request.data)
        prepared = services.export_request(actor=self.membership, month=day, kind=body["kind"])
        data = PreparedSerializer(prepared).data
        location = {"Location": data["status_url"]}
        return Response(data, status=status.HTTP_202_ACCEPTED, headers=location)


class PreparedExportApi(ApiView):
    """A prepared export's progress (poll it until `ready` or `failed`)."""

    capability = Capability.EXPORT_CLAIMS

    @extend_schema(
        operation_id="billing_export_retrieve",
        parameters=[EXPORT_PATH],
        summary="Status and progress of a prepared export",
        responses={200: PreparedSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, export_id: Any) -> Response:
        return Response(PreparedSerializer(_prepared(self, export_id)).data)


class PreparedExportDownloadApi(ApiView):
    """A ready export's stored file; every download recorded and audited."""

    capability = Capability.EXPORT_CLAIMS

    @extend_schema(
        operation_id="billing_export_download",
        parameters=[EXPORT_PATH],
        summary="Download a prepared export (409 until it is ready)",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/edi-x12"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            **error_responses(403, 404, 409),
        },
    )
    def get(self, request: Request, export_id: Any) -> Any:
        prepared = _prepared(self, export_id)
        return download(services.prepared_download(actor=self.membership, prepared=prepared))
