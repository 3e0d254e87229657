"""Care transition API (issue 17): a patient's transitions, listed and recorded under the
patient (JSON); one transition; its document (discharge summary or visit note), uploaded as
the raw file (PUT, `Content-Type` application/pdf, image/png or image/jpeg; the type is
sniffed from the bytes) and downloaded. Every role reads; clinical roles write (a biller gets
403). Rules live in careplans.transition_services; reads are audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import renderers, serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from careplans import transition_selectors, transition_services
from careplans.models import TransitionKind
from careplans.transition_views import document_response
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


def _kind_field(**kwargs: Any) -> EnumField:
    return EnumField(TransitionKind.choices, enum_name="TransitionKindEnum", **kwargs)


@extend_schema_serializer(component_name="CareTransition")
class TransitionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    kind = _kind_field()
    occurred_on = serializers.DateField(help_text="The discharge date, or the visit's day.")
    admitted_on = serializers.DateField(allow_null=True)
    facility = serializers.CharField()
    diagnoses = serializers.CharField()
    contact = serializers.UUIDField(
        source="contact_id", allow_null=True, help_text="One of the patient's care contacts."
    )
    note = serializers.CharField()
    document_type = serializers.CharField(
        help_text="application/pdf, image/png or image/jpeg; blank: no document attached."
    )
    recorded_by = MemberSerializer()
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)


@extend_schema_serializer(component_name="CareTransitionInput")
class TransitionInputSerializer(StrictSerializer):
    kind = _kind_field()
    occurred_on = serializers.DateField(help_text="Not in the future.")
    admitted_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Discharges and ED visits only; on or before occurred_on.",
    )
    facility = serializers.CharField(max_length=200, required=False, allow_blank=True)
    diagnoses = serializers.CharField(max_length=500, required=False, allow_blank=True)
    contact = serializers.UUIDField(
        required=False, allow_null=True, help_text="One of the patient's care contacts."
    )
    note = serializers.CharField(max_length=20000, required=False, allow_blank=True)


class PatientTransitionListApi(ApiView):
    """GET: any role. POST: clinical roles (a biller gets 403)."""

    PageSerializer = page_of(TransitionSerializer, "CareTransitionPage")
    write_capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="patients_transitions_list",
        summary="The patient's care transitions, newest first (audited)",
        parameters=[*PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        rows = transition_selectors.transition_list(practice=self.practice, patient_id=patient.pk)
        paginator, page = paginate(self, rows)
        audit.record_for(
            self.membership,
            "caretransition.list",
            object_type=Patient._meta.label_lower,
            object_id=patient.pk,
            patient_id=patient.pk,
        )
        return paginator.get_paginated_response(TransitionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_transitions_create",
        summary="Record a care transition; a discharge or ED visit creates a follow-up call "
        "due within 2 business days and a medication reconciliation task",
        request=TransitionInputSerializer,
        responses={201: TransitionSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        data = validated(TransitionInputSerializer, request.data)
        if data.get("contact") is not None:
            data["contact"] = reference_or_404(
                CareContact, self.practice, data["contact"], field="contact"
            )
        transition = transition_services.transition_record(
            practice=self.practice, actor=self.membership, patient=patient, **data
        )
        transition = transition_selectors.transition_get(
            practice=self.practice, transition_id=transition.pk
        )
        return Response(TransitionSerializer(transition).data, status=status.HTTP_201_CREATED)


class TransitionDetailApi(ApiView):
    """Any role: one care transition (audited)."""

    @extend_schema(
        operation_id="transitions_retrieve",
        summary="One care transition (audited)",
        responses={200: TransitionSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, transition_id: str) -> Response:
        transition = transition_selectors.transition_get(
            practice=self.practice, transition_id=transition_id
        )
        return read_answer(self, transition, TransitionSerializer, patient_id=transition.patient_id)


class DocumentParser(BaseParser):
    """The raw body as bytes (the document), refused past the size limit. Its declared type
    is not trusted: the service sniffs the bytes."""

    media_type = "application/pdf"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        limit = transition_services.DOCUMENT_MAX_BYTES
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise ParseError(transition_services.DOCUMENT_SIZE_MESSAGE)
        return data


class PngParser(DocumentParser):
    media_type = "image/png"


class JpegParser(DocumentParser):
    media_type = "image/jpeg"


class DocumentRenderer(renderers.BaseRenderer):
    """Lets `Accept: application/pdf` or an image type through negotiation; the document is
    returned as a plain FileResponse, so this only ever renders an error body (as JSON)."""

    media_type = "*/*"
    format = "document"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        return renderers.JSONRenderer().render(data)


_BINARY = {"type": "string", "format": "binary", "minLength": 1}
_DOCUMENT_BODY = {media: _BINARY for media in sorted(transition_services.DOCUMENT_TYPES)}


class TransitionDocumentApi(ApiView):
    """GET: any role, the document (audited). PUT: clinical roles attach or replace it."""

    write_capability = Capability.EDIT_CLINICAL
    parser_classes = [DocumentParser, PngParser, JpegParser]
    renderer_classes = (renderers.JSONRenderer, DocumentRenderer)

    @extend_schema(
        operation_id="transitions_document_retrieve",
        summary="The discharge summary or visit note (PDF, PNG or JPEG; audited)",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY),
            **error_responses(403, 404),
        },
    )
    def get(self, request: Request, transition_id: str) -> FileResponse:
        transition = transition_selectors.transition_get(
            practice=self.practice, transition_id=transition_id
        )
        return document_response(self.membership, transition)

    @extend_schema(
        operation_id="transitions_document_create",
        summary="Attach or replace the document: the raw file, at most 10 MB; its type is "
        "read from its bytes (a file that is not a PDF, PNG or JPEG is refused)",
        request=_DOCUMENT_BODY,
        responses={200: TransitionSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, transition_id: str) -> Response:
        transition = transition_selectors.transition_get(
            practice=self.practice, transition_id=transition_id
        )
        body = request.data if isinstance(request.data, bytes) else b""
        upload = SimpleUploadedFile("document", body)
        transition_services.transition_document_attach(
            practice=self.practice, actor=self.membership, transition=transition, document=upload
        )
        transition = transition_selectors.transition_get(
            practice=self.practice, transition_id=transition.pk
        )
        return read_answer(self, transition, TransitionSerializer, patient_id=transition.patient_id)
