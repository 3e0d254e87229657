"""Practice archive API (issue 19), practice admins only: POST /api/v1/practice/archives/
(202 with the status URL) has a worker build a zip of all of the practice's data; GET
…/archives/<id>/ until `ready`, then GET …/archives/<id>/download (audited, like the page's
download). GET …/archives/ lists them."""

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
from rest_framework.request import Request
from rest_framework.response import Response

from billing.exports import practice_selectors as selectors
from billing.exports import practice_services as services
from billing.http import download
from billing.models import PracticeArchive, PreparedStatus
from ccm.api import (
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    StrictSerializer,
    error_responses,
    page_of,
    paginate,
    validated,
)
from ccm.roles import Capability

ARCHIVE_PATH = OpenApiParameter(
    "export_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The archive's id."
)
LIST_LIMIT = 200  # archives the list reaches back (5 a day for 40 days: more than kept)


@extend_schema_serializer(component_name="PracticeArchiveRequest")
class ArchiveRequestSerializer(StrictSerializer):
    format = EnumField(
        [(f, f.upper()) for f in services.FORMATS],
        enum_name="PracticeArchiveFormatEnum",
        required=False,
        default=services.FORMAT_NDJSON,
        help_text="The tables' format (newline-delimited JSON).",
    )


@extend_schema_serializer(component_name="PracticeArchive")
class ArchiveSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = EnumField(PreparedStatus.choices, enum_name="PreparedExportStatusEnum")
    size = serializers.IntegerField(help_text="Bytes of the zip once ready, else 0.")
    sha256 = serializers.CharField(help_text="SHA-256 of the zip once ready, else empty.")
    row_counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows per table file of the zip."
    )
    error = serializers.CharField(help_text="Why it failed (status `failed`), else empty.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until when it can be downloaded (then its file is deleted)."
    )
    status_url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(
        help_text="Where to GET the zip once `status` is `ready`."
    )

    def get_status_url(self, obj: PracticeArchive) -> str:
        return reverse("api:practice-archive", args=[obj.pk])

    def get_download_url(self, obj: PracticeArchive) -> str:
        return reverse("api:practice-archive-download", args=[obj.pk])


def _archive(view: ApiView, archive_id: Any) -> PracticeArchive:
    return selectors.archive_get(practice=view.practice, archive_id=archive_id)


class PracticeArchiveListApi(ApiView):
    """Practice admins: the practice's archives; POST has a worker prepare a new one."""

    capability = Capability.EXPORT_PRACTICE_DATA

    @extend_schema(
        operation_id="practice_archive_list",
        parameters=PAGE_PARAMETERS,
        summary="The practice's data archives, newest first",
        responses={
            200: page_of(ArchiveSerializer, "PaginatedPracticeArchiveList"),
            **error_responses(403),
        },
    )
    def get(self, request: Request) -> Response:
        rows = selectors.archive_list(practice=self.practice, limit=LIST_LIMIT)
        paginator, page = paginate(self, rows)
        return paginator.get_paginated_response(ArchiveSerializer(page, many=True).data)

    @extend_schema(
        operation_id="practice_archive_prepare",
        summary="Prepare a zip of all of the practice's data in the background (202; "
        "idempotent while one is being prepared)",
        request=ArchiveRequestSerializer,
        responses={202: ArchiveSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request) -> Response:
        body = validated(ArchiveRequestSerializer, request.data)
        archive = services.practice_archive_request(actor=self.membership, format=body["format"])
        data = ArchiveSerializer(archive).data
        location = {"Location": data["status_url"]}
        return Response(data, status=status.HTTP_202_ACCEPTED, headers=location)


class PracticeArchiveApi(ApiView):
    """An archive's status (poll it until `ready` or `failed`)."""

    capability = Capability.EXPORT_PRACTICE_DATA

    @extend_schema(
        operation_id="practice_archive_retrieve",
        parameters=[ARCHIVE_PATH],
        summary="Status of a practice data archive",
        responses={200: ArchiveSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, export_id: Any) -> Response:
        return Response(ArchiveSerializer(_archive(self, export_id)).data)


class PracticeArchiveDownloadApi(ApiView):
    """A ready archive's zip; every download audited."""

    capability = Capability.EXPORT_PRACTICE_DATA

    @extend_schema(
        operation_id="practice_archive_download",
        parameters=[ARCHIVE_PATH],
        summary="Download a practice data archive (409 until it is ready, and once expired)",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
            **error_responses(403, 404, 409),
        },
    )
    def get(self, request: Request, export_id: Any) -> Any:
        archive = _archive(self, export_id)
        return download(services.practice_archive_download(actor=self.membership, archive=archive))
