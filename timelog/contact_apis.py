"""Contact attempt API (issue 17): a patient's attempts, listed (latest first) and recorded
under the patient. Every role reads; clinical roles record. Rules live in
timelog.contact_services; each answer is audited as a read of the patient's data."""

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
    MonthField,
    error_responses,
    page_of,
    paginate,
    validated,
)
from ccm.months import month_label
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404
from patients.models import Channel, Patient
from timelog import contact_selectors, contact_services
from timelog.apis import AwareDateTimeField
from timelog.contact_serializers import ContactFieldsSerializer, contact_input
from timelog.models import ContactAttempt, Direction, Outcome, Party


@extend_schema_serializer(component_name="ContactAttempt")
class ContactAttemptSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    occurred_at = serializers.DateTimeField(default_timezone=dt.UTC)
    month = serializers.SerializerMethodField(help_text="YYYY-MM, practice time zone.")
    direction = EnumField(Direction.choices, enum_name="ContactDirectionEnum")
    channel = EnumField(Channel.choices, enum_name="ChannelEnum")
    party = EnumField(Party.choices, enum_name="ContactPartyEnum")
    contact = serializers.UUIDField(source="contact_id", allow_null=True)
    outcome = EnumField(Outcome.choices, enum_name="ContactOutcomeEnum")
    reached = serializers.BooleanField()
    note = serializers.CharField()
    time_entry = serializers.UUIDField(source="time_entry_id", allow_null=True)
    task = serializers.UUIDField(source="task_id", allow_null=True)
    recorded_by = MemberSerializer()
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)

    def get_month(self, attempt: ContactAttempt) -> str:
        return month_label(attempt.month)


@extend_schema_serializer(component_name="ContactAttemptInput")
class ContactAttemptInputSerializer(ContactFieldsSerializer):
    occurred_at = AwareDateTimeField(
        required=False, help_text="ISO 8601 with offset; default now. Never in the future."
    )


class PatientContactAttemptListApi(ApiView):
    """GET: any role. POST: clinical roles (the caller recorded it)."""

    @extend_schema_serializer(component_name="ContactAttemptFilter")
    class FilterSerializer(serializers.Serializer):
        month = MonthField(required=False, help_text="YYYY-MM (practice time zone).")

    PageSerializer = page_of(ContactAttemptSerializer, "ContactAttemptPage")
    write_capability = Capability.LOG_TIME

    @extend_schema(
        operation_id="patients_contact_attempts_list",
        summary="The patient's contact attempts, latest first (audited)",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(400, 403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        f: dict[str, Any] = validated(self.FilterSerializer, request.query_params)
        rows = contact_selectors.contact_attempt_list(
            practice=self.practice, patient_id=patient.pk, month=f.get("month")
        )
        paginator, page = paginate(self, rows)
        audit.record_for(
            self.membership,
            "contactattempt.list",
            object_type=Patient._meta.label_lower,
            object_id=patient.pk,
            patient_id=patient.pk,
        )
        return paginator.get_paginated_response(ContactAttemptSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_contact_attempts_create",
        summary="Record a contact attempt with its outcome (refreshes the worklist's last "
        "reached contact and unanswered count)",
        request=ContactAttemptInputSerializer,
        responses={201: ContactAttemptSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        data = validated(ContactAttemptInputSerializer, request.data)
        attempt = contact_services.contact_attempt_record(
            practice=self.practice,
            actor=self.membership,
            patient=patient,
            data=contact_input(self.practice, data),
            occurred_at=data.get("occurred_at"),
        )
        found = contact_selectors.contact_attempt_list(
            practice=self.practice, patient_id=patient.pk
        ).get(pk=attempt.pk)
        return Response(ContactAttemptSerializer(found).data, status=status.HTTP_201_CREATED)
