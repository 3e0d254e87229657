"""Patients JSON API (contract §4): list and create, read and update, consent, revocation,
enrollment and the FHIR R4 export. Rules live in patients.services; these views parse input,
look objects up within the caller's practice (another practice's patient is 404), call one
service and shape the answer. Every response carrying a patient's data is audited as a read.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db import transaction
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from ccm import audit
from ccm.api import (
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    MemberSerializer,
    error_responses,
    page_of,
    read_answer,
    read_page,
    reference_or_404,
    validated,
)
from ccm.api_auth import StateConflict
from ccm.models import Membership, Practice
from ccm.roles import Capability, can
from ccm.validators import state_validator, zip_validator
from patients import engine_inputs, fhir, selectors, services
from patients.models import ConditionStatus, Consent, ConsentMethod, Patient, Sex, Status
from patients.validators import (
    ICD10_UNKNOWN_MESSAGE,
    MBI_MESSAGE,
    MRN_MESSAGE,
    VISIT_CODE_MESSAGE,
    normalize_icd10,
)

NO_CURRENT_CONSENT_MESSAGE = "The patient has no current consent to revoke."
FHIR_MEDIA_TYPE = "application/fhir+json"


# --- If-Match pre-locks -----------------------------------------------------------------------


class PatientRowLock:
    """The If-Match pre-lock (`ApiView.version_lock`) of a view whose writer locks the patient
    of the URL's `patient_id`: the engine-input helper takes the row (the one place patient
    rows are locked), so the lock order and the 404 for a missing patient are the writer's."""

    def __call__(self, view: ApiView, kwargs: dict[str, Any]) -> None:
        engine_inputs.lock_patient_or_404(view.practice, kwargs["patient_id"])


def lock_patient_of(practice: Practice, obj: Any) -> None:
    """`RowLock(first=...)` for a patient's object whose writer locks the patient before it:
    through the engine-input helper, as the writer does."""
    engine_inputs.lock_patients(practice, [obj.patient_id])


# --- Shared shapes ----------------------------------------------------------------------------


@extend_schema_serializer(component_name="PatientCondition")
class ConditionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    icd10_code = serializers.CharField()
    description = serializers.CharField()
    is_chronic = serializers.BooleanField()
    onset_date = serializers.DateField(allow_null=True)
    status = EnumField(ConditionStatus.choices, enum_name="ConditionStatusEnum")
    resolved_on = serializers.DateField(allow_null=True)


@extend_schema_serializer(component_name="PatientConsent")
class ConsentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    method = EnumField(ConsentMethod.choices, enum_name="ConsentMethodEnum")
    given_on = serializers.DateField()
    obtained_by = serializers.UUIDField(source="obtained_by_id")
    explained_service = serializers.BooleanField()
    explained_cost_sharing = serializers.BooleanField()
    explained_one_practitioner = serializers.BooleanField()
    explained_can_stop = serializers.BooleanField()
    has_signed_form = serializers.SerializerMethodField()
    revoked_on = serializers.DateField(allow_null=True)
    revoked_reason = serializers.CharField()
    revocation_effective_on = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)

    def get_has_signed_form(self, consent: Consent) -> bool:
        return bool(consent.signed_form)


@extend_schema_serializer(component_name="PatientEligibilityCheck")
class CheckSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="Rule id of the billing spec, e.g. R4.")
    ok = serializers.BooleanField()
    sentence = serializers.CharField()


@extend_schema_serializer(component_name="PatientEligibility")
class EligibilitySerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    checks = CheckSerializer(many=True)


# The fields that name a patient, first in both the detail and the list item. (No docstring:
# drf-spectacular would show it as both components' description.)
class PatientIdentitySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    mrn = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    sex = EnumField(Sex.choices, enum_name="PatientSexEnum")


@extend_schema_serializer(component_name="PatientDetail")
class PatientDetailSerializer(PatientIdentitySerializer):
    phone = serializers.CharField(help_text="E.164, or empty.")
    phone_alt = serializers.CharField(help_text="E.164, or empty.")
    email = serializers.CharField()
    address_line1 = serializers.CharField()
    address_line2 = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    postal_code = serializers.CharField()
    preferred_language = serializers.CharField()
    mbi = serializers.CharField()
    billing_practitioner = MemberSerializer(allow_null=True)
    coordinator = MemberSerializer(allow_null=True)
    initiating_visit_on = serializers.DateField(allow_null=True)
    initiating_visit_code = serializers.CharField()
    notes = serializers.CharField()
    status = EnumField(Status.choices, enum_name="PatientStatusEnum")
    status_on = serializers.DateField(allow_null=True)
    status_reason = serializers.CharField()
    conditions = ConditionSerializer(many=True)
    consent = serializers.SerializerMethodField(help_text="The current (unrevoked) consent.")
    eligibility = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)
    updated_at = serializers.DateTimeField(default_timezone=dt.UTC)

    @extend_schema_field(ConsentSerializer(allow_null=True))
    def get_consent(self, patient: Patient) -> dict[str, Any] | None:
        consent = services.current_consent(patient)
        return ConsentSerializer(consent).data if consent else None

    @extend_schema_field(EligibilitySerializer)
    def get_eligibility(self, patient: Patient) -> dict[str, Any]:
        verdict = services.patient_eligibility(patient)
        return EligibilitySerializer({"eligible": verdict.eligible, "checks": verdict.checks}).data


def _pattern(regex: str, message: Any) -> list[RegexValidator]:
    """The model's format check, with its message, stated by the schema (`pattern`)."""
    return [RegexValidator(regex, message)]


# The formats patients.models and ccm.validators check, as the text the API takes (a blank
# value, where allowed, is the schema's other oneOf branch; the visit code and MBI in either
# case, the MBI with the dashes and spaces people type: patients.validators normalises them).
_ICD10_PATTERN = r"^\s*[A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?\s*$"
_SEP = r"[\s\x1c-\x1f-]*"


@extend_schema_field({"type": "string", "maxLength": 10, "pattern": _ICD10_PATTERN})
class Icd10CodeField(serializers.CharField):
    """An ICD-10-CM code as typed (E11.9, e119, " I10 "): normalised it is at most the 8
    characters patients.Condition stores; the code table is checked after (R4)."""


_C, _N = "[1-9]", "[0-9]"
_A = "[AC-HJKMNP-RT-Yac-hjkmnp-rt-y]"
_AN = "[0-9AC-HJKMNP-RT-Yac-hjkmnp-rt-y]"
_MBI_PATTERN = f"^{_SEP}" + _SEP.join((_C, _A, _AN, _N, _A, _AN, _N, _A, _A, _N, _N)) + f"{_SEP}$"


@extend_schema_serializer(component_name="PatientInput")
class PatientInputSerializer(serializers.Serializer):
    """Create (full) and update (partial). Memberships are UUIDs of this practice's members."""

    mrn = serializers.CharField(
        max_length=32, validators=_pattern(r"^[A-Za-z0-9._-]+$", MRN_MESSAGE)
    )
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField()
    sex = EnumField(Sex.choices, enum_name="PatientSexEnum", required=False)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    phone_alt = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    state = serializers.CharField(
        max_length=2,
        required=False,
        allow_blank=True,
        validators=_pattern(r"^[A-Z]{2}$", state_validator.message),
    )
    postal_code = serializers.CharField(
        max_length=10,
        required=False,
        allow_blank=True,
        validators=_pattern(r"^\d{5}(?:-\d{4})?$", zip_validator.message),
    )
    preferred_language = serializers.CharField(max_length=50, required=False, allow_blank=True)
    mbi = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        validators=_pattern(_MBI_PATTERN, MBI_MESSAGE),
    )
    billing_practitioner = serializers.UUIDField(required=False, allow_null=True)
    coordinator = serializers.UUIDField(required=False, allow_null=True)
    initiating_visit_on = serializers.DateField(required=False, allow_null=True)
    initiating_visit_code = serializers.CharField(
        max_length=5,
        required=False,
        allow_blank=True,
        validators=_pattern(r"^[0-9A-Za-z][0-9]{3}[0-9A-Za-z]$", VISIT_CODE_MESSAGE),
    )
    notes = serializers.CharField(required=False, allow_blank=True)
    conditions = serializers.ListField(
        # The shape of a code the table may know (E11.9, e119, " I10 "): normalised, at most
        # 8 characters as patients.Condition stores it; the table itself is checked after.
        child=Icd10CodeField(max_length=10),
        required=False,
        max_length=50,
        help_text="ICD-10-CM codes. On update: the whole active chronic problem list.",
    )

    def validate_conditions(self, codes: list[str]) -> list[str]:
        # The schema's pattern, checked here so every code error reads alike (a list).
        if not all(re.fullmatch(_ICD10_PATTERN, code) for code in codes):
            raise serializers.ValidationError(ICD10_UNKNOWN_MESSAGE)
        # Repeats would reach the unique constraint as an error of no field; name the field.
        if len({normalize_icd10(c) for c in codes}) != len(codes):
            raise serializers.ValidationError(services.DUPLICATE_CONDITION_MESSAGE)
        return codes


# --- Helpers ----------------------------------------------------------------------------------


def _resolve_members(practice: Practice, data: dict[str, Any]) -> None:
    """Swap membership UUIDs for the practice's active members: 404 for an id of no member of
    this practice, 400 naming the field for a member who may not fill it."""
    lookups = (
        ("billing_practitioner", selectors.physician_choices, services.NOT_A_PHYSICIAN_MESSAGE),
        ("coordinator", selectors.clinician_choices, services.NOT_A_CLINICIAN_MESSAGE),
    )
    for field, choices, message in lookups:
        if data.get(field) is None:  # absent, or null to unassign
            continue
        reference_or_404(Membership, practice, data[field], field=field)
        member = choices(practice=practice).filter(pk=data[field]).first()
        if member is None:
            raise ValidationError({field: message})
        data[field] = member


def _patient(view: ApiView, patient_id: Any) -> Patient:
    """The practice's patient of the URL (the detail's joins), or 404."""
    return selectors.patient_get(practice=view.practice, patient_id=patient_id)


def _conditions_error(exc: ValidationError) -> ValidationError:
    # condition_add names its own field; in this API the codes arrive as "conditions".
    if hasattr(exc, "error_dict") and "icd10_code" in exc.error_dict:
        return ValidationError({"conditions": exc.error_dict["icd10_code"]})
    return exc


# --- Endpoints --------------------------------------------------------------------------------


class PatientListApi(ApiView):
    """GET: any role. POST: clinical roles (a biller gets 403)."""

    @extend_schema_serializer(component_name="PatientFilter")
    class FilterSerializer(serializers.Serializer):
        q = serializers.CharField(
            required=False, allow_blank=True, max_length=100, help_text="Name, MRN or birth date."
        )
        status = EnumField(
            Status.choices, enum_name="PatientStatusEnum", required=False, allow_blank=True
        )
        coordinator = serializers.UUIDField(required=False, help_text="Membership id.")

    @extend_schema_serializer(component_name="PatientListItem")
    class OutputSerializer(PatientIdentitySerializer):
        status = EnumField(Status.choices, enum_name="PatientStatusEnum")
        status_on = serializers.DateField(allow_null=True)
        coordinator = MemberSerializer(allow_null=True)
        chronic_condition_count = serializers.SerializerMethodField()

        def get_chronic_condition_count(self, patient: Patient) -> int:
            return getattr(patient, "chronic_count", None) or 0  # annotated by patient_list

    PageSerializer = page_of(OutputSerializer, "PatientPage")

    # Any role reads the list; adding a patient is clinical work (contract §3).
    write_capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="patients_list",
        summary="The practice's patients, by name (each one listed is audited as read)",
        parameters=[
            FilterSerializer,
            *PAGE_PARAMETERS,
        ],
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        f: dict[str, Any] = validated(self.FilterSerializer, request.query_params)
        patients = selectors.patient_list(
            practice=self.practice,
            q=f.get("q", ""),
            status=f.get("status", ""),
            coordinator_id=f.get("coordinator"),
        )
        return read_page(
            self,
            patients,
            self.OutputSerializer,
            action="patient.list",
            patient_of=lambda patient: patient,
        )

    @extend_schema(
        operation_id="patients_create",
        summary="Add a patient as a CCM candidate, with optional chronic conditions",
        request=PatientInputSerializer,
        responses={201: PatientDetailSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request) -> Response:
        data = validated(PatientInputSerializer, request.data)
        codes = data.pop("conditions", [])
        _resolve_members(self.practice, data)
        try:
            patient = services.patient_create(
                practice=self.practice, actor=self.membership, data=data, condition_codes=codes
            )
        except ValidationError as exc:
            raise _conditions_error(exc) from exc
        patient = _patient(self, patient.pk)
        return Response(PatientDetailSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailApi(ApiView):
    """GET: any role. PATCH: any role, but a biller may change demographics only (403)."""

    version_lock = PatientRowLock()

    @extend_schema(
        operation_id="patients_retrieve",
        summary="A patient with conditions, current consent and eligibility (audited)",
        responses={200: PatientDetailSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        return read_answer(self, patient, PatientDetailSerializer, patient_id=patient.pk)

    @extend_schema(
        operation_id="patients_partial_update",
        summary="Change demographics, clinical fields or the chronic problem list",
        request=PatientInputSerializer,
        responses={200: PatientDetailSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        data = validated(PatientInputSerializer, request.data, partial=True)
        codes = data.pop("conditions", None)
        if codes is not None and not can(self.membership, Capability.EDIT_CLINICAL):
            raise PermissionDenied(services.BILLER_EDIT_MESSAGE)
        _resolve_members(self.practice, data)
        self._update(patient, data, codes)
        patient = _patient(self, patient.pk)
        return read_answer(self, patient, PatientDetailSerializer, patient_id=patient.pk)

    def _update(self, patient: Patient, data: dict[str, Any], codes: list[str] | None) -> None:
        # One transaction: a bad code in `conditions` must also undo the field changes.
        with transaction.atomic():
            if data:
                services.patient_update(
                    practice=self.practice, actor=self.membership, patient=patient, data=data
                )
            if codes is not None:
                try:
                    services.conditions_sync(
                        practice=self.practice, actor=self.membership, patient=patient, codes=codes
                    )
                except ValidationError as exc:
                    raise _conditions_error(exc) from exc


class ExplainedField(serializers.BooleanField):
    """One of the four R6 items: recording consent needs each explained (the service says
    which are not, 400); the schema states it."""


class ExplainedFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ExplainedField

    def get_name(self) -> str:
        return "ExplainedEnum"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "boolean", "enum": [True], "description": "Explained (R6): true."}


class PatientConsentApi(ApiView):
    """Clinical roles record consent (a biller gets 403)."""

    capability = Capability.EDIT_CLINICAL

    @extend_schema_serializer(component_name="PatientConsentInput")
    class InputSerializer(serializers.Serializer):
        method = EnumField(ConsentMethod.choices, enum_name="ConsentMethodEnum")
        given_on = serializers.DateField()
        explained_service = ExplainedField()
        explained_cost_sharing = ExplainedField()
        explained_one_practitioner = ExplainedField()
        explained_can_stop = ExplainedField()

    @extend_schema(
        operation_id="patients_consent_create",
        summary="Record the patient's CCM consent after the four R6 items were explained",
        request=InputSerializer,
        responses={201: ConsentSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        data = validated(self.InputSerializer, request.data)
        consent = services.consent_record(
            practice=self.practice, actor=self.membership, patient=patient, **data
        )
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)


class PatientConsentRevokeApi(ApiView):
    """Clinical roles revoke the current consent; 400 when there is none."""

    capability = Capability.EDIT_CLINICAL

    @extend_schema_serializer(component_name="PatientConsentRevokeInput")
    class InputSerializer(serializers.Serializer):
        revoked_on = serializers.DateField()
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True)

    @extend_schema(
        operation_id="patients_consent_revoke",
        summary="Revoke the current consent (R7: effective at the end of that month)",
        request=InputSerializer,
        responses={200: ConsentSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        data = validated(self.InputSerializer, request.data)
        consent = services.current_consent(patient)
        if consent is None:
            raise StateConflict(NO_CURRENT_CONSENT_MESSAGE)
        consent = services.consent_revoke(
            practice=self.practice,
            actor=self.membership,
            consent=consent,
            revoked_on=data["revoked_on"],
            reason=data.get("reason", ""),
        )
        return Response(ConsentSerializer(consent).data)


class PatientEnrollApi(ApiView):
    """Clinical roles enroll; unmet requirements answer 400 naming the rule or field."""

    capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="patients_enroll",
        summary="Enroll in CCM today (needs current consent, a billing practitioner, R4/R8/R9)",
        request=None,
        responses={200: PatientDetailSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        services.patient_enroll(practice=self.practice, actor=self.membership, patient=patient)
        patient = _patient(self, patient.pk)
        return read_answer(self, patient, PatientDetailSerializer, patient_id=patient.pk)


class FhirJsonRenderer(JSONRenderer):
    media_type = FHIR_MEDIA_TYPE
    format = "fhir"


_BUNDLE = OpenApiResponse(OpenApiTypes.OBJECT, description="A FHIR R4 Bundle of type collection.")


class PatientFhirApi(ApiView):
    """Any role; served as application/fhir+json (or JSON when only that is accepted)."""

    # FHIR's own media type first; plain JSON for clients that only accept that.
    renderer_classes = (FhirJsonRenderer, JSONRenderer)

    @extend_schema(
        operation_id="patients_fhir",
        summary="The patient as a FHIR R4 Bundle (collection): Patient, Condition, Consent, "
        "Coverage, CarePlan and Goal",
        responses={
            (200, FHIR_MEDIA_TYPE): _BUNDLE,
            # The same Bundle for a client that accepts only JSON (or asks `?format=json`).
            (200, "application/json"): _BUNDLE,
            **error_responses(403, 404),
        },
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        audit.read(self.membership, patient, patient_id=patient.pk)
        return Response(fhir.patient_bundle(patient))
