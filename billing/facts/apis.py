"""Billing facts API: a patient's other services (R3, R28-R31) and the patient-month facts
(R3 CCM billed elsewhere, R23 MDM level). Every role reads; admins, billers and physicians
write (coordinators get 403); only admins and physicians change the MDM level; a closed
month answers 409. Rules live in billing.facts.services; every answer is audited as a read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing.facts import selectors, services
from billing.models import MdmLevel, OtherService, PatientMonthFacts
from ccm import audit
from ccm.api import (
    BLANK_PATTERN,
    MONTH_PATH,
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    MemberSerializer,
    RowLock,
    error_responses,
    page_of,
    paginate,
    read_answer,
    reference_or_404,
    validated,
)
from ccm.models import Membership
from ccm.months import month_label, parse_month
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404
from patients.apis import PatientRowLock, lock_patient_of
from patients.models import Patient

NPI_PATTERN = r"^\d{10}$"  # the check digit is verified too (NPI_CHECK_MESSAGE)
CODE_CHOICES = [
    (code, f"{code}: {services.code_label(code)}")
    for _group, codes in services.CODE_GROUPS
    for code in codes
]


def _mdm_field(**kwargs: Any) -> EnumField:
    return EnumField(MdmLevel.choices, enum_name="MdmLevelEnum", allow_null=True, **kwargs)


@extend_schema_serializer(component_name="OtherServicePractitioner")
class PractitionerSerializer(MemberSerializer):
    npi = serializers.CharField()


@extend_schema_serializer(component_name="OtherService")
class OtherServiceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    code = EnumField(CODE_CHOICES, enum_name="OtherServiceCodeEnum")
    service_on = serializers.DateField(help_text="Date of service (the practice's calendar).")
    practitioner = PractitionerSerializer(
        allow_null=True, help_text="The practice's member who billed it, else null."
    )
    outside_npi = serializers.CharField(help_text="An outside practitioner's NPI, else empty.")
    note = serializers.CharField()
    created_by = serializers.UUIDField(source="created_by_id", help_text="Membership id.")
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)


def _patient(practice: Any, patient_id: str) -> Patient:
    return get_for_practice_or_404(Patient, practice, patient_id)


class PatientOtherServiceListApi(ApiView):
    """GET: any role. POST: admins, billers, physicians (a coordinator gets 403)."""

    @extend_schema_serializer(component_name="OtherServiceInput")
    class InputSerializer(serializers.Serializer):
        # Exactly one of a practitioner of the practice and an outside NPI
        # (billing.facts.services: PRACTITIONER_MISSING_MESSAGE, PRACTITIONER_BOTH_MESSAGE).
        body_rules = (
            {
                "anyOf": [
                    {
                        "required": ["practitioner"],
                        "properties": {
                            "practitioner": {"type": "string", "format": "uuid"},
                            "outside_npi": {"type": "string", "pattern": BLANK_PATTERN},
                        },
                    },
                    {
                        "required": ["outside_npi"],
                        "properties": {
                            "outside_npi": {"type": "string", "pattern": NPI_PATTERN},
                        },
                        # practitioner left out or null
                        "not": {
                            "required": ["practitioner"],
                            "properties": {"practitioner": {"type": "string"}},
                        },
                    },
                ]
            },
        )
        code = EnumField(
            CODE_CHOICES,
            enum_name="OtherServiceCodeEnum",
            error_messages={"invalid_choice": services.CODE_MESSAGE},
        )
        service_on = serializers.DateField(help_text="Date of service; not in the future.")
        practitioner = serializers.UUIDField(
            required=False,
            allow_null=True,
            help_text="Membership id of a physician of this practice; or give outside_npi.",
        )
        outside_npi = serializers.CharField(
            max_length=10,
            required=False,
            allow_blank=True,
            help_text="NPI of an outside practitioner (check digit verified). An NPI of a "
            "member of this practice is stored as that member.",
        )
        note = serializers.CharField(max_length=300, required=False, allow_blank=True)

    PageSerializer = page_of(OtherServiceSerializer, "OtherServicePage")
    write_capability = Capability.EDIT_BILLING_FACTS

    @extend_schema(
        operation_id="patients_other_services_list",
        summary="The patient's other services (PCM, APCM, oversight, ESRD, TCM…), newest first",
        parameters=[
            *PAGE_PARAMETERS,
        ],
        responses={200: PageSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self.practice, patient_id)
        rows = selectors.other_service_list(practice=self.practice, patient=patient)
        paginator, page = paginate(self, rows)
        audit.record_for(
            self.membership,
            "otherservice.list",
            object_type=Patient._meta.label_lower,
            object_id=patient.pk,
            patient_id=patient.pk,
        )
        return paginator.get_paginated_response(OtherServiceSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_other_services_create",
        summary="Record a service billed for the patient that interacts with CCM",
        request=InputSerializer,
        responses={201: OtherServiceSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self.practice, patient_id)
        data: dict[str, Any] = validated(self.InputSerializer, request.data)
        if data.get("practitioner") is not None:
            reference_or_404(Membership, self.practice, data["practitioner"], field="practitioner")
            data["practitioner"] = selectors.physician_get(
                practice=self.practice, member_id=data["practitioner"]
            )
            if data["practitioner"] is None:
                raise ValidationError({"practitioner": services.NOT_A_PHYSICIAN_MESSAGE})
        service = services.other_service_create(
            practice=self.practice, actor=self.membership, patient=patient, **data
        )
        service = selectors.other_service_get(practice=self.practice, service_id=service.pk)
        return Response(OtherServiceSerializer(service).data, status=status.HTTP_201_CREATED)


class OtherServiceDetailApi(ApiView):
    """GET: any role. DELETE (a mis-entry; audited): admins, billers, physicians."""

    write_capability = Capability.EDIT_BILLING_FACTS
    # other_service_delete locks the patient before the service.
    version_lock = RowLock(OtherService, "other_service_id", first=lock_patient_of)

    @extend_schema(
        operation_id="other_services_retrieve",
        summary="One other service (audited)",
        responses={200: OtherServiceSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, other_service_id: str) -> Response:
        service = selectors.other_service_get(practice=self.practice, service_id=other_service_id)
        return read_answer(self, service, OtherServiceSerializer, patient_id=service.patient_id)

    @extend_schema(
        operation_id="other_services_destroy",
        summary="Delete a mis-entered service of an open month",
        responses={204: None, **error_responses(403, 404, 409)},
    )
    def delete(self, request: Request, other_service_id: str) -> Response:
        service = selectors.other_service_get(practice=self.practice, service_id=other_service_id)
        services.other_service_delete(
            practice=self.practice, actor=self.membership, service=service
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_serializer(component_name="PatientMonthFacts")
class MonthFactsSerializer(serializers.Serializer):
    patient = serializers.UUIDField(source="patient_id")
    month = serializers.SerializerMethodField(help_text="YYYY-MM.")
    ccm_billed_elsewhere = serializers.BooleanField(
        help_text="R3: another practice billed CCM for this patient this month."
    )
    mdm = serializers.SerializerMethodField(
        help_text="R23: the billing practitioner's MDM level, null when not documented."
    )
    locked = serializers.SerializerMethodField(help_text="The month is closed for billing.")
    updated_at = serializers.SerializerMethodField(help_text="Null when never set.")

    def get_month(self, facts: PatientMonthFacts) -> str:
        return month_label(facts.month)

    @extend_schema_field(_mdm_field())
    def get_mdm(self, facts: PatientMonthFacts) -> str | None:
        return facts.mdm or None

    def get_locked(self, facts: PatientMonthFacts) -> bool:
        return selectors.month_locked(practice=facts.practice, month=facts.month)

    def get_updated_at(self, facts: PatientMonthFacts) -> dt.datetime | None:
        if facts._state.adding:
            return None
        return facts.updated_at.astimezone(dt.UTC)


class PatientMonthFactsApi(ApiView):
    """GET: any role. PUT: admins, billers, physicians; changing `mdm` needs an admin or a
    physician (403 otherwise); a closed month answers 409."""

    version_lock = PatientRowLock()  # month_facts_set locks the patient

    @extend_schema_serializer(component_name="PatientMonthFactsInput")
    class InputSerializer(serializers.Serializer):
        ccm_billed_elsewhere = serializers.BooleanField()
        mdm = _mdm_field(
            help_text="Null: not documented. Only admins and physicians may change it."
        )

    write_capability = Capability.EDIT_BILLING_FACTS

    @extend_schema(
        operation_id="patients_month_facts_retrieve",
        parameters=[MONTH_PATH],
        summary="The patient-month's R3 flag and R23 MDM level (defaults when never set)",
        responses={200: MonthFactsSerializer, **error_responses(400, 403, 404)},
    )
    def get(self, request: Request, patient_id: str, month: str) -> Response:
        patient = _patient(self.practice, patient_id)
        facts = selectors.month_facts_get(
            practice=self.practice, patient=patient, month=parse_month(month)
        )
        services.month_facts_read(self.membership, facts)
        return Response(MonthFactsSerializer(facts).data)

    @extend_schema(
        operation_id="patients_month_facts_update",
        parameters=[MONTH_PATH],
        summary="Set the patient-month's R3 flag and R23 MDM level",
        request=InputSerializer,
        responses={200: MonthFactsSerializer, **error_responses(400, 403, 404, 409)},
    )
    def put(self, request: Request, patient_id: str, month: str) -> Response:
        patient = _patient(self.practice, patient_id)
        day = parse_month(month)
        data = validated(self.InputSerializer, request.data)
        facts = services.month_facts_set(
            practice=self.practice,
            actor=self.membership,
            patient=patient,
            month=day,
            **data,
        )
        services.month_facts_read(self.membership, facts)
        return Response(MonthFactsSerializer(facts).data)
