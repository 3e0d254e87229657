"""Care plan API (contract §4): the patient's versions and a new draft, one version (edit a
draft), sign (physician, re-authentication; a signed version answers 409), send for
signature, record the patient's copy, and the patient copy as PDF. Rules live in
careplans.services."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from careplans import chart_sections, pdf, selectors, services
from careplans import content as plan_content
from careplans.models import CarePlanVersion, CopyMethod, VersionStatus
from ccm import audit
from ccm.api import (
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    MemberSerializer,
    RowLock,
    error_responses,
    page_of,
    paginate,
    read_answer,
    validated,
)
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404
from patients.models import Patient


@extend_schema_field({"type": "string", "format": "date"})
class DateTextField(serializers.CharField):
    """A date of the plan's content, YYYY-MM-DD or blank (careplans.content checks it)."""


def _text_field() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=plan_content.MAX_TEXT)


def _rows(name: str, fields: tuple[str, ...]) -> type[serializers.Serializer]:
    attrs: dict[str, Any] = {field: _text_field() for field in fields}
    if "due_on" in fields:
        attrs["due_on"] = DateTextField(required=False, allow_blank=True)
    if "status" in fields:
        attrs["status"] = EnumField(
            list(plan_content.GOAL_STATUSES.items()),
            enum_name="CarePlanGoalStatusEnum",
            required=False,
        )
    return extend_schema_serializer(component_name=name)(
        type(f"{name}Serializer", (serializers.Serializer,), attrs)
    )


_ROW_SERIALIZERS = {
    "problems": _rows("CarePlanProblem", plan_content.ROWS["problems"]),
    "goals": _rows("CarePlanGoal", plan_content.ROWS["goals"]),
    "interventions": _rows("CarePlanIntervention", plan_content.ROWS["interventions"]),
    "medications": _rows("CarePlanMedication", plan_content.ROWS["medications"]),
    "coordination": _rows("CarePlanCoordination", plan_content.ROWS["coordination"]),
}


@extend_schema_serializer(component_name="CarePlanContent")
class ContentSerializer(serializers.Serializer):
    """The plan's sections (R12). Input is checked by the service; dates are YYYY-MM-DD."""

    problems = _ROW_SERIALIZERS["problems"](many=True, required=False)
    expected_outcome = _text_field()
    prognosis = _text_field()
    goals = _ROW_SERIALIZERS["goals"](many=True, required=False)
    symptom_management = _text_field()
    interventions = _ROW_SERIALIZERS["interventions"](many=True, required=False)
    medications = _ROW_SERIALIZERS["medications"](
        many=True,
        read_only=True,
        help_text="The chart's medication list (a draft: now; signed: as of signing).",
    )
    medications_reconciled_on = DateTextField(
        read_only=True, help_text="The chart's latest medication reconciliation (YYYY-MM-DD)."
    )
    community_services = _text_field()
    coordination = _ROW_SERIALIZERS["coordination"](many=True, required=False)
    coordination_notes = _text_field()
    caregiver = _text_field()
    preferences = _text_field()
    barriers = _text_field()
    review_schedule = _text_field()


@extend_schema_serializer(component_name="CarePlanCopy")
class CopySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    given_on = serializers.DateField()
    method = EnumField(CopyMethod.choices, enum_name="CarePlanCopyMethodEnum")


@extend_schema_serializer(component_name="CarePlanVersion")
class VersionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    number = serializers.IntegerField()
    status = EnumField(VersionStatus.choices, enum_name="CarePlanVersionStatusEnum")
    content = ContentSerializer()
    missing = serializers.SerializerMethodField(help_text="R12 elements still missing.")
    based_on = serializers.UUIDField(source="based_on_id", allow_null=True)
    created_by = MemberSerializer()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    signed_by = MemberSerializer(allow_null=True)
    signed_at = serializers.DateTimeField(allow_null=True)
    content_sha256 = serializers.CharField(help_text="SHA-256 of the canonical content.")

    def to_representation(self, version: Any) -> Any:
        # A draft's medication section is the chart's now (careplans.chart_sections).
        if version.is_draft:
            version.content = chart_sections.content_of(version)
        return super().to_representation(version)

    def get_missing(self, version: Any) -> list[str]:
        return plan_content.missing(version.content) if version.is_draft else []


def _version(view: ApiView, version_id: Any) -> Any:
    return selectors.version_get(practice=view.practice, version_id=version_id)


def _answer(view: ApiView, version: Any, code: int = status.HTTP_200_OK) -> Response:
    fresh = _version(view, version.pk)
    return Response(VersionSerializer(fresh).data, status=code)


class PatientCarePlanListApi(ApiView):
    """GET: any role, the patient's versions (newest first). POST: clinical, a new draft."""

    @extend_schema_serializer(component_name="CarePlanDraftStart")
    class InputSerializer(serializers.Serializer):
        template_ids = serializers.ListField(
            child=serializers.UUIDField(),
            required=False,
            help_text="Templates to prefill from (default: those matching the conditions).",
        )

    write_capability = Capability.EDIT_CLINICAL
    PageSerializer = page_of(VersionSerializer, "CarePlanVersionPage")

    @extend_schema(
        operation_id="patients_care_plans_list",
        summary="The patient's care plan versions, newest first (audited)",
        parameters=PAGE_PARAMETERS,
        responses={200: PageSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        versions = selectors.version_list(practice=self.practice, patient_id=patient.pk)
        paginator, page = paginate(self, versions)
        audit.record_for(self.membership, "careplanversion.list", patient_id=patient.pk)
        return paginator.get_paginated_response(VersionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_care_plans_create",
        summary="Start a draft (a copy of the signed version, else prefilled from templates)",
        request=InputSerializer,
        responses={201: VersionSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        data = validated(self.InputSerializer, request.data)
        services.templates_ensure(practice=self.practice)
        version = services.draft_start(
            practice=self.practice,
            actor=self.membership,
            patient=patient,
            template_ids=data.get("template_ids"),
        )
        return _answer(self, version, status.HTTP_201_CREATED)


class CarePlanDetailApi(ApiView):
    """GET: any role (audited). PATCH: clinical, a draft's sections; signed answers 409."""

    @extend_schema_serializer(component_name="CarePlanPatch")
    class PatchSerializer(serializers.Serializer):
        validated_whole = True  # the view requires `content` (sections inside are optional)
        content = ContentSerializer()

    write_capability = Capability.EDIT_CLINICAL
    version_lock = RowLock(CarePlanVersion, "version_id")

    @extend_schema(
        operation_id="care_plans_retrieve",
        summary="One care plan version",
        responses={200: VersionSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, version_id: str) -> Response:
        version = _version(self, version_id)
        return read_answer(self, version, VersionSerializer, patient_id=version.patient_id)

    @extend_schema(
        operation_id="care_plans_partial_update",
        summary="Change a draft's sections (sections not sent keep their value)",
        request=PatchSerializer,
        responses={200: VersionSerializer, **error_responses(400, 403, 404, 409)},
    )
    def patch(self, request: Request, version_id: str) -> Response:
        version = _version(self, version_id)
        data = validated(self.PatchSerializer, request.data)
        version = services.draft_update(
            practice=self.practice,
            actor=self.membership,
            version=version,
            data=data["content"],
        )
        return _answer(self, version)


class CarePlanSubmitApi(ApiView):
    """Clinical: send a complete draft to the physicians' signing queue."""

    capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="care_plans_submit",
        summary="Send a complete draft for signature",
        request=None,
        responses={200: VersionSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, version_id: str) -> Response:
        version = _version(self, version_id)
        services.draft_submit(practice=self.practice, actor=self.membership, version=version)
        return _answer(self, version)


class CarePlanSignApi(ApiView):
    """Physicians only: sign a complete draft, re-authenticating with password or TOTP code.
    A signed version answers 409; a wrong password 400 and nothing is signed."""

    @extend_schema_serializer(component_name="CarePlanSign")
    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(required=False, allow_blank=True, write_only=True)
        code = serializers.CharField(required=False, allow_blank=True, write_only=True)

    capability = Capability.EDIT_CLINICAL  # the lookup first (404), then the physician check (403)

    @extend_schema(
        operation_id="care_plans_sign",
        summary="Sign a draft (physician; password or authenticator code)",
        request=InputSerializer,
        responses={200: VersionSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, version_id: str) -> Response:
        version = _version(self, version_id)
        data = validated(self.InputSerializer, request.data)
        services.version_sign(
            practice=self.practice,
            actor=self.membership,
            version=version,
            password=data.get("password", ""),
            code=data.get("code", ""),
        )
        return _answer(self, version)


class CarePlanCopyApi(ApiView):
    """Clinical: record that the patient got a copy of the signed version (R12)."""

    @extend_schema_serializer(component_name="CarePlanCopyInput")
    class InputSerializer(serializers.Serializer):
        given_on = serializers.DateField()
        method = EnumField(CopyMethod.choices, enum_name="CarePlanCopyMethodEnum")

    capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="care_plans_copies_create",
        summary="Record when and how the patient got a copy",
        request=InputSerializer,
        responses={201: CopySerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, version_id: str) -> Response:
        version = _version(self, version_id)
        data = validated(self.InputSerializer, request.data)
        copy = services.copy_record(
            practice=self.practice,
            actor=self.membership,
            version=version,
            **data,
        )
        return Response(CopySerializer(copy).data, status=status.HTTP_201_CREATED)


class PdfRenderer(renderers.BaseRenderer):
    """Lets `Accept: application/pdf` through negotiation; the PDF itself is returned as a
    plain HttpResponse, so this only ever renders an error body (as JSON)."""

    media_type = "application/pdf"
    format = "pdf"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        return renderers.JSONRenderer().render(data)


class CarePlanPdfApi(ApiView):
    """Any role: the patient's copy as PDF (audited)."""

    renderer_classes = (renderers.JSONRenderer, PdfRenderer)

    @extend_schema(
        operation_id="care_plans_pdf",
        summary="The patient copy of a version as PDF",
        # Negotiated by the Accept header only: no `?format=` override to document.
        parameters=[OpenApiParameter("format", exclude=True)],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            **error_responses(403, 404),
        },
    )
    def get(self, request: Request, version_id: str) -> HttpResponse:
        version = _version(self, version_id)
        return pdf.download(membership=self.membership, version=version)
