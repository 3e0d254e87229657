"""Medication API (issue 17): a patient's medication list, listed and added under the patient,
read and changed (or stopped: PATCH `status: stopped`) by its id; the patient's medication
reconciliations, listed and recorded (applying their changes to the list). Every role reads;
admins, physicians and coordinators write (a biller gets 403). Rules live in
patients.medication_services; every answer showing medicines is audited as a read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from ccm import audit
from ccm.api import (
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    MemberSerializer,
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
from patients import medication_selectors, medication_services
from patients.apis import lock_patient_of
from patients.models import (
    CareContact,
    ChangeAction,
    Medication,
    MedicationSource,
    MedicationStatus,
    Patient,
    ReconciledWith,
)


def _source(**kwargs: Any) -> EnumField:
    return EnumField(MedicationSource.choices, enum_name="MedicationSourceEnum", **kwargs)


def _status(**kwargs: Any) -> EnumField:
    return EnumField(MedicationStatus.choices, enum_name="MedicationStatusEnum", **kwargs)


def _with(**kwargs: Any) -> EnumField:
    return EnumField(ReconciledWith.choices, enum_name="ReconciledWithEnum", **kwargs)


_RXNORM = r"^[0-9]{1,12}$"


@extend_schema_serializer(component_name="Medication")
class MedicationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    name = serializers.CharField()
    rxnorm_code = serializers.CharField(help_text="RxNorm concept id; blank when unknown.")
    dose = serializers.CharField()
    route = serializers.CharField()
    frequency = serializers.CharField()
    instructions = serializers.CharField()
    prescriber = serializers.CharField()
    source = _source()  # type: ignore[assignment]  # named like Field.source
    starts_on = serializers.DateField(allow_null=True)
    stops_on = serializers.DateField(allow_null=True)
    status = _status()
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)
    updated_at = serializers.DateTimeField(default_timezone=dt.UTC)


def _text(max_length: int, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, **kwargs)


class _MedicationFields(StrictSerializer):
    name = serializers.CharField(max_length=200, help_text="With its strength.")
    rxnorm_code = serializers.RegexField(
        _RXNORM, max_length=12, required=False, allow_blank=True, help_text="Digits only."
    )
    dose = _text(100)
    route = _text(50)
    frequency = _text(100)
    instructions = _text(500)
    prescriber = _text(200)
    source = _source()  # type: ignore[assignment]  # named like Field.source
    starts_on = serializers.DateField(required=False, allow_null=True)


@extend_schema_serializer(component_name="MedicationInput")
class MedicationInputSerializer(_MedicationFields):
    pass


@extend_schema_serializer(component_name="MedicationUpdateInput")
class MedicationUpdateSerializer(_MedicationFields):
    status = _status(help_text="`stopped` stops it (stops_on: default today).")
    stops_on = serializers.DateField(
        required=False, allow_null=True, help_text="On or after starts_on; not in the future."
    )


@extend_schema_serializer(component_name="MedicationChange")
class ChangeSerializer(serializers.Serializer):
    medication = serializers.UUIDField(source="medication_id")
    medication_name = serializers.CharField(source="medication.name")
    action = EnumField(ChangeAction.choices, enum_name="MedicationChangeActionEnum")
    detail = serializers.CharField(help_text='What changed, e.g. "dose 10 mg → 20 mg".')


@extend_schema_serializer(component_name="MedicationReconciliation")
class ReconciliationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    reconciled_at = serializers.DateTimeField(default_timezone=dt.UTC)
    reconciled_on = serializers.DateField(help_text="In the practice's zone.")
    performed_by = MemberSerializer()
    reconciled_with = _with()
    contact = serializers.UUIDField(source="contact_id", allow_null=True)
    sources = serializers.CharField(help_text="The sources reviewed.")
    discrepancies = serializers.CharField()
    note = serializers.CharField()
    changes = ChangeSerializer(many=True, help_text="Added, changed, stopped or confirmed.")


@extend_schema_serializer(component_name="MedicationReview")
class ReviewSerializer(StrictSerializer):
    medication = serializers.UUIDField(help_text="A medicine on this patient's list.")
    action = EnumField(
        [c for c in ChangeAction.choices if c[0] != ChangeAction.ADDED],
        enum_name="MedicationReviewActionEnum",
        help_text="confirmed (new values given: a change), changed or stopped.",
    )
    dose = _text(100)
    route = _text(50)
    frequency = _text(100)
    instructions = _text(500)


@extend_schema_serializer(component_name="MedicationReconciliationInput")
class ReconciliationInputSerializer(StrictSerializer):
    reconciled_with = _with()
    contact = serializers.UUIDField(
        required=False, allow_null=True, help_text="One of the patient's care contacts."
    )
    sources = _text(300, help_text="The sources reviewed.")
    discrepancies = _text(4000)
    note = _text(4000)
    reviews = ReviewSerializer(many=True, required=False)
    additions = MedicationInputSerializer(many=True, required=False)


def _patient(view: ApiView, patient_id: Any) -> Patient:
    return get_for_practice_or_404(Patient, view.practice, patient_id)


def _listed(view: ApiView, patient: Patient, action: str) -> None:
    audit.record_for(
        view.membership,
        action,
        object_type=Patient._meta.label_lower,
        object_id=patient.pk,
        patient_id=patient.pk,
    )


class PatientMedicationListApi(ApiView):
    """GET: any role, active first then stopped. POST: admins, physicians, coordinators."""

    PageSerializer = page_of(MedicationSerializer, "MedicationPage")
    write_capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="patients_medications_list",
        summary="The patient's medication list, active first, stopped last (audited)",
        parameters=[*PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        rows = medication_selectors.medication_list(
            practice=self.practice, patient_id=patient.pk, include_stopped=True
        )
        paginator, page = paginate(self, rows)
        _listed(self, patient, "medication.list")
        return paginator.get_paginated_response(MedicationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_medications_create",
        summary="Add a medicine to the patient's list (active)",
        request=MedicationInputSerializer,
        responses={201: MedicationSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        data = validated(MedicationInputSerializer, request.data)
        medication = medication_services.medication_add(
            practice=self.practice, actor=self.membership, patient=patient, **data
        )
        return Response(MedicationSerializer(medication).data, status=status.HTTP_201_CREATED)


class MedicationDetailApi(ApiView):
    """GET: any role. PATCH (change, or stop with `status: stopped`): clinical roles."""

    write_capability = Capability.EDIT_CLINICAL
    # medication_update locks the patient, then the medicine.
    version_lock = RowLock(Medication, "medication_id", first=lock_patient_of)

    def _medication(self, medication_id: Any) -> Medication:
        return get_for_practice_or_404(Medication, self.practice, medication_id)

    @extend_schema(
        operation_id="medications_retrieve",
        summary="One medicine (audited)",
        responses={200: MedicationSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, medication_id: str) -> Response:
        medication = self._medication(medication_id)
        return read_answer(self, medication, MedicationSerializer, patient_id=medication.patient_id)

    @extend_schema(
        operation_id="medications_partial_update",
        summary="Change a medicine, or stop it (`status: stopped`); the whole medicine is "
        "validated",
        request=MedicationUpdateSerializer,
        responses={200: MedicationSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request: Request, medication_id: str) -> Response:
        medication = self._medication(medication_id)
        data = validated(MedicationUpdateSerializer, request.data, partial=True)
        medication = medication_services.medication_update(
            practice=self.practice, actor=self.membership, medication=medication, data=data
        )
        return read_answer(self, medication, MedicationSerializer, patient_id=medication.patient_id)


class PatientReconciliationListApi(ApiView):
    """GET: any role, newest first with their changes. POST: clinical roles; records the
    reconciliation and applies it to the list, all or nothing."""

    PageSerializer = page_of(ReconciliationSerializer, "MedicationReconciliationPage")
    write_capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="patients_medication_reconciliations_list",
        summary="The patient's medication reconciliations, newest first (audited)",
        parameters=[*PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        rows = medication_selectors.reconciliation_list(
            practice=self.practice, patient_id=patient.pk
        )
        paginator, page = paginate(self, rows)
        _listed(self, patient, "medicationreconciliation.list")
        return paginator.get_paginated_response(ReconciliationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_medication_reconciliations_create",
        summary="Record a reconciliation: confirm, change or stop each medicine reviewed, add "
        "those found; applied to the list in one transaction",
        request=ReconciliationInputSerializer,
        responses={201: ReconciliationSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = _patient(self, patient_id)
        data = validated(ReconciliationInputSerializer, request.data)
        if data.get("contact") is not None:
            data["contact"] = reference_or_404(
                CareContact, self.practice, data["contact"], field="contact"
            )
        reviews = [
            medication_services.Review(
                medication_id=review.pop("medication"), action=review.pop("action"), changes=review
            )
            for review in data.pop("reviews", [])
        ]
        reconciliation = medication_services.medication_reconcile(
            practice=self.practice,
            actor=self.membership,
            patient=patient,
            reviews=reviews,
            additions=[dict(row) for row in data.pop("additions", [])],
            **data,
        )
        fresh = medication_selectors.reconciliation_list(
            practice=self.practice, patient_id=patient.pk
        ).get(pk=reconciliation.pk)
        return Response(ReconciliationSerializer(fresh).data, status=status.HTTP_201_CREATED)
