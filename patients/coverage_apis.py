"""Coverage API (issue 16): a patient's insurance coverage, listed and added under the patient,
read and changed (or ended: PATCH `ends_on`) by its id. Every role reads; admins, coordinators
and billers write (a physician gets 403). Rules live in patients.coverage_services; every answer
showing coverage is audited as a read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from ccm import audit
from ccm.api import (
    BLANK_PATTERN,
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    RowLock,
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
from patients import coverage_selectors, coverage_services
from patients.apis import _MBI_PATTERN, lock_patient_of
from patients.models import (
    Coverage,
    CoverageKind,
    CoveragePriority,
    MspType,
    Patient,
    Payer,
    PayerKind,
)


@extend_schema_serializer(component_name="CoveragePayer")
class PayerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    payer_id = serializers.CharField(help_text="The id the clearinghouse or contractor assigned.")
    kind = EnumField(PayerKind.choices, enum_name="PayerKindEnum")


def _msp_field(**kwargs: Any) -> EnumField:
    return EnumField(MspType.choices, enum_name="MspTypeEnum", allow_null=True, **kwargs)


@extend_schema_serializer(component_name="Coverage")
class CoverageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    priority = EnumField(CoveragePriority.choices, enum_name="CoveragePriorityEnum")
    kind = EnumField(CoverageKind.choices, enum_name="CoverageKindEnum")
    payer = PayerSerializer(
        allow_null=True, help_text="Null for Part B billed to the practice's Medicare contractor."
    )
    member_id = serializers.CharField(help_text="Part B: the MBI; else the plan's member id.")
    group_number = serializers.CharField()
    plan_name = serializers.CharField()
    msp_type = serializers.SerializerMethodField(
        help_text="Medicare secondary payer type (837P SBR05), other_primary only."
    )
    benefits_assigned = serializers.BooleanField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True, help_text="Last day; null: open-ended.")
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)
    updated_at = serializers.DateTimeField(default_timezone=dt.UTC)

    @extend_schema_field(_msp_field())
    def get_msp_type(self, coverage: Coverage) -> str | None:
        return coverage.msp_type or None


# The rules between the body's fields per kind (patients.coverage_services), stated for the
# schema: which kinds need a payer and a member id, the Part B member id's MBI format, the
# MSP type only for other_primary. Rules about stored data (the payer's kind, overlaps with
# other coverage, the patient's MBI on file) and date order stay the service's 400s.
_NO_MSP = {"not": {"required": ["msp_type"], "properties": {"msp_type": {"type": "string"}}}}
_BILLED = [
    CoverageKind.MEDICARE_ADVANTAGE,
    CoverageKind.MEDICAID,
    CoverageKind.MEDIGAP,
    CoverageKind.OTHER_SECONDARY,
]
_PAYER = {"type": "string", "format": "uuid"}


def _kinds(*kinds: str) -> dict[str, str]:
    # A pattern, not an enum: drf-spectacular would lift an enum here into a shared component.
    return {"type": "string", "pattern": f"^({'|'.join(kinds)})$"}


# The card's text (coverage_services.MEMBER_ID_TEXT): the schema states what the service checks.
_MEMBER = {"type": "string", "pattern": coverage_services.MEMBER_ID_TEXT.pattern}
_KIND_RULES = {
    "anyOf": [
        {
            "properties": {
                "kind": _kinds(CoverageKind.MEDICARE_PART_B),
                "member_id": {
                    "type": "string",
                    "anyOf": [{"pattern": BLANK_PATTERN}, {"pattern": _MBI_PATTERN}],
                },
            },
            **_NO_MSP,
        },
        {
            "required": ["payer", "member_id"],
            "properties": {
                "kind": _kinds(*_BILLED),
                "payer": _PAYER,
                "member_id": _MEMBER,
            },
            **_NO_MSP,
        },
        {
            "required": ["payer", "member_id", "msp_type"],
            "properties": {
                "kind": _kinds(CoverageKind.OTHER_PRIMARY),
                "payer": _PAYER,
                "member_id": _MEMBER,
                "msp_type": {"type": "string"},
            },
        },
        {
            "properties": {
                "kind": _kinds(CoverageKind.QMB),
                "member_id": {"type": "string", "anyOf": [{"pattern": BLANK_PATTERN}, _MEMBER]},
            },
            **_NO_MSP,
        },
    ]
}


class JsonBooleanField(serializers.BooleanField):
    """JSON true or false only, as the schema's `type: boolean` says (DRF would also read 0,
    1, "yes", "off"...)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class _CoverageFields(StrictSerializer):
    kind = EnumField(CoverageKind.choices, enum_name="CoverageKindEnum")
    payer = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="A payer of this practice (billing setup) of the kind the coverage takes.",
    )
    member_id = serializers.CharField(
        max_length=80,
        required=False,
        allow_blank=True,
        help_text="Part B: the MBI (blank: the patient's MBI on file). Required for Medicare "
        "Advantage, other primary, Medicaid, Medigap and other secondary.",
    )
    group_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    plan_name = serializers.CharField(max_length=60, required=False, allow_blank=True)
    msp_type = _msp_field(required=False, help_text="Required for other_primary; else null.")
    benefits_assigned = JsonBooleanField(
        required=False, help_text="CLM08: the patient signed an assignment of benefits."
    )
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(
        required=False, allow_null=True, help_text="Last day; on or after starts_on."
    )


@extend_schema_serializer(component_name="CoverageInput")
class CoverageInputSerializer(_CoverageFields):
    body_rules = (_KIND_RULES,)


# Partial: the rules between fields are checked with the stored values (400 naming the field).
@extend_schema_serializer(component_name="CoverageUpdateInput")
class CoverageUpdateSerializer(_CoverageFields):
    pass


def _resolve(view: ApiView, data: dict[str, Any]) -> dict[str, Any]:
    """The body's payer id as the practice's payer (404 naming the field for any other id);
    a null MSP type as none."""
    if data.get("payer") is not None:
        data["payer"] = reference_or_404(Payer, view.practice, data["payer"], field="payer")
    if "msp_type" in data:
        data["msp_type"] = data["msp_type"] or ""
    return data


class PatientCoverageListApi(ApiView):
    """GET: any role. POST: admins, coordinators, billers (a physician gets 403)."""

    PageSerializer = page_of(CoverageSerializer, "CoveragePage")
    write_capability = Capability.EDIT_COVERAGE

    @extend_schema(
        operation_id="patients_coverage_list",
        summary="The patient's insurance coverage, primary first, newest first (audited)",
        parameters=[*PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        rows = coverage_selectors.coverage_list(practice=self.practice, patient_id=patient.pk)
        paginator, page = paginate(self, rows)
        audit.record_for(
            self.membership,
            "coverage.list",
            object_type=Patient._meta.label_lower,
            object_id=patient.pk,
            patient_id=patient.pk,
        )
        return paginator.get_paginated_response(CoverageSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_coverage_create",
        summary="Add a coverage (priority follows the kind; no overlap with coverage of the "
        "same priority)",
        request=CoverageInputSerializer,
        responses={201: CoverageSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        data = _resolve(self, validated(CoverageInputSerializer, request.data))
        coverage = coverage_services.coverage_create(
            practice=self.practice, actor=self.membership, patient=patient, **data
        )
        coverage = coverage_selectors.coverage_get(practice=self.practice, coverage_id=coverage.pk)
        return Response(CoverageSerializer(coverage).data, status=status.HTTP_201_CREATED)


class CoverageDetailApi(ApiView):
    """GET: any role. PATCH (change, or end with `ends_on`): admins, coordinators, billers."""

    write_capability = Capability.EDIT_COVERAGE
    # coverage_update locks the patient, then the coverage.
    version_lock = RowLock(Coverage, "coverage_id", first=lock_patient_of)

    @extend_schema(
        operation_id="coverage_retrieve",
        summary="One coverage (audited)",
        responses={200: CoverageSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, coverage_id: str) -> Response:
        coverage = coverage_selectors.coverage_get(practice=self.practice, coverage_id=coverage_id)
        return read_answer(self, coverage, CoverageSerializer, patient_id=coverage.patient_id)

    @extend_schema(
        operation_id="coverage_partial_update",
        summary="Change a coverage, or end it (`ends_on`); the whole coverage is validated",
        request=CoverageUpdateSerializer,
        responses={200: CoverageSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request: Request, coverage_id: str) -> Response:
        coverage = coverage_selectors.coverage_get(practice=self.practice, coverage_id=coverage_id)
        data = validated(CoverageUpdateSerializer, request.data, partial=True)
        coverage_services.coverage_update(
            practice=self.practice,
            actor=self.membership,
            coverage=coverage,
            data=_resolve(self, data),
        )
        coverage = coverage_selectors.coverage_get(practice=self.practice, coverage_id=coverage.pk)
        return read_answer(self, coverage, CoverageSerializer, patient_id=coverage.patient_id)
