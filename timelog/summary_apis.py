"""After-contact summary API (issue 17, item 7): write a summary of a reached contact (shared
with the patient or a caregiver the patient permits), list a patient's summaries, read one,
download its one-page PDF in the patient's language. Clinical members write (a biller gets
403); every role reads; every answer showing a summary is audited as a read. Rules live in
timelog.summary_services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from careplans.apis import PdfRenderer
from ccm import audit
from ccm.api import (
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    MemberSerializer,
    StrictSerializer,
    error_responses,
    page_of,
    paginate,
    read_answer,
    reference_or_404,
    validated,
)
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404
from patients.models import CareContact, Patient
from timelog import summary_pdf, summary_selectors, summary_services
from timelog.models import ShareMethod
from timelog.summary_services import MAX_LENGTHS

LANGUAGE_CHOICES = [("en", "English"), ("es", "Spanish")]


@extend_schema_serializer(component_name="SummaryRecipient")
class RecipientSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    relationship = serializers.CharField()


@extend_schema_serializer(component_name="ContactSummary")
class SummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    contact_attempt = serializers.UUIDField(source="contact_attempt_id")
    language = EnumField(
        LANGUAGE_CHOICES,
        enum_name="SummaryLanguageEnum",
        help_text="The patient's language when it was written; the PDF is printed in it.",
    )
    talked_about = serializers.CharField()
    do_now = serializers.CharField()
    watch_for = serializers.CharField()
    whom_to_call = serializers.CharField()
    shared_with = RecipientSerializer(
        allow_null=True, help_text="The caregiver it was given to; null: the patient."
    )
    shared_method = EnumField(ShareMethod.choices, enum_name="ShareMethodEnum")
    shared_on = serializers.DateField()
    created_by = MemberSerializer()
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)


def _text(field: str, *, required: bool) -> serializers.CharField:
    limit = MAX_LENGTHS[field]
    if required:
        return serializers.CharField(max_length=limit)
    return serializers.CharField(max_length=limit, required=False, allow_blank=True)


@extend_schema_serializer(component_name="ContactSummaryInput")
class SummaryInputSerializer(StrictSerializer):
    talked_about = _text("talked_about", required=True)
    do_now = _text("do_now", required=True)
    watch_for = _text("watch_for", required=False)
    whom_to_call = _text("whom_to_call", required=False)
    shared_with = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="One of the patient's caregivers whom the patient permits to receive "
        "after-contact summaries on `shared_on`; null or absent: the patient.",
    )
    shared_method = EnumField(ShareMethod.choices, enum_name="ShareMethodEnum")
    shared_on = serializers.DateField(
        required=False, help_text="Default: today in the practice's zone; not in the future."
    )


class ContactSummaryCreateApi(ApiView):
    """POST: clinical members (a biller gets 403)."""

    capability = Capability.LOG_TIME

    @extend_schema(
        operation_id="contacts_summaries_create",
        summary="Write the after-contact summary of a reached contact, recorded as shared",
        request=SummaryInputSerializer,
        responses={201: SummarySerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, attempt_id: str) -> Response:
        attempt = summary_selectors.attempt_get(practice=self.practice, attempt_id=attempt_id)
        data: dict[str, Any] = validated(SummaryInputSerializer, request.data)
        if data.get("shared_with") is not None:
            data["shared_with"] = reference_or_404(
                CareContact, self.practice, data["shared_with"], field="shared_with"
            )
        summary = summary_services.summary_create(
            practice=self.practice, actor=self.membership, attempt=attempt, **data
        )
        summary = summary_selectors.summary_get(practice=self.practice, summary_id=summary.pk)
        return Response(SummarySerializer(summary).data, status=status.HTTP_201_CREATED)


class PatientSummaryListApi(ApiView):
    """GET: any role."""

    PageSerializer = page_of(SummarySerializer, "ContactSummaryPage")

    @extend_schema(
        operation_id="patients_summaries_list",
        summary="The after-contact summaries given for a patient, newest first (audited)",
        parameters=[*PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        rows = summary_selectors.summary_list(practice=self.practice, patient_id=patient.pk)
        paginator, page = paginate(self, rows)
        audit.record_for(
            self.membership,
            "contactsummary.list",
            object_type=Patient._meta.label_lower,
            object_id=patient.pk,
            patient_id=patient.pk,
        )
        return paginator.get_paginated_response(SummarySerializer(page, many=True).data)


class ContactSummaryDetailApi(ApiView):
    """GET: any role."""

    @extend_schema(
        operation_id="summaries_retrieve",
        summary="One after-contact summary (audited)",
        responses={200: SummarySerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, summary_id: str) -> Response:
        summary = summary_selectors.summary_get(practice=self.practice, summary_id=summary_id)
        return read_answer(self, summary, SummarySerializer, patient_id=summary.patient_id)


class ContactSummaryPdfApi(ApiView):
    """GET: any role: the one-page PDF in the summary's language (audited)."""

    renderer_classes = (renderers.JSONRenderer, PdfRenderer)

    @extend_schema(
        operation_id="summaries_pdf",
        summary="The after-contact summary as a one-page PDF in the patient's language",
        # Negotiated by the Accept header only: no `?format=` override to document.
        parameters=[OpenApiParameter("format", exclude=True)],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            **error_responses(403, 404),
        },
    )
    def get(self, request: Request, summary_id: str) -> HttpResponse:
        summary = summary_selectors.summary_get(practice=self.practice, summary_id=summary_id)
        return summary_pdf.download(membership=self.membership, summary=summary)
