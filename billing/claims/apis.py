"""Billing API (contract §4), claims review: a month's claims with lines and the engine's
explanations, the not-billable patient-months with reasons, and the biller's status
tracking. Rules live in billing.claims.services."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing.claims import selectors, services
from billing.models import Claim, ClaimStatus, MonthClose
from ccm.api import (
    MONTH_PATH,
    NON_BLANK_PATTERN,
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    RowLock,
    error_responses,
    page_of,
    read_answer,
    read_page,
    validated,
)
from ccm.months import parse_month
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404


def _month(text: str) -> Any:
    return parse_month(text)  # ValidationError → 400 {"month": [...]}


@extend_schema_serializer(component_name="ClaimLine")
class LineSerializer(serializers.Serializer):
    code = serializers.CharField()
    units = serializers.IntegerField()
    minutes = serializers.IntegerField()
    charge = serializers.DecimalField(max_digits=10, decimal_places=2)
    explanation = serializers.CharField()


@extend_schema_serializer(component_name="Claim")
class ClaimSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    billing_practitioner = serializers.UUIDField(source="billing_practitioner_id")
    date_of_service = serializers.DateField()
    place_of_service = serializers.CharField()
    diagnosis_codes = serializers.ListField(child=serializers.CharField())
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    status = EnumField(ClaimStatus.choices, enum_name="ClaimStatusEnum")
    denial_reason = serializers.CharField()
    corrected_at = serializers.DateTimeField(allow_null=True)
    lines = LineSerializer(many=True)


class BillingMonthClaimsApi(ApiView):
    """A closed month's claims with their lines and explanations (audited per patient)."""

    capability = Capability.VIEW_BILLING
    PageSerializer = page_of(ClaimSerializer, "ClaimPage")

    @extend_schema(
        operation_id="billing_month_claims",
        parameters=[MONTH_PATH, *PAGE_PARAMETERS],
        summary="Claims of a month with lines and the engine's explanations",
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request, month: str) -> Response:
        claims = selectors.claim_api_list(practice=self.practice, month=_month(month))
        return read_page(self, claims, ClaimSerializer, action="claim.list")


@extend_schema_serializer(component_name="NotBillableMonth")
class OutcomeSerializer(serializers.Serializer):
    patient = serializers.UUIDField(source="patient_id")
    blocked_by = serializers.ListField(child=serializers.CharField())
    reasons = serializers.ListField(child=serializers.CharField())
    clinical_staff_minutes = serializers.IntegerField()
    physician_minutes = serializers.IntegerField()
    next_code = serializers.CharField()
    minutes_needed = serializers.IntegerField(allow_null=True)


class NotBillableApi(ApiView):
    """A closed month's patient-months that do not bill, with the engine's reasons."""

    capability = Capability.VIEW_BILLING
    PageSerializer = page_of(OutcomeSerializer, "NotBillablePage")

    @extend_schema(
        operation_id="billing_month_not_billable",
        parameters=[MONTH_PATH, *PAGE_PARAMETERS],
        summary="Not-billable patient-months with reasons and minutes still needed",
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request, month: str) -> Response:
        rows = selectors.not_billable_list(
            practice=self.practice, month=_month(month), order=selectors.BY_CREATION
        )
        return read_page(self, rows, OutcomeSerializer, action="outcome.list")


# A claim's status is set to any status but withdrawn (a reclose withdraws); denied needs a
# reason (billing.claims.services.claims_status_set). The schema of both bodies states it.
SETTABLE_STATUSES = [(v, label) for v, label in ClaimStatus.choices if v != ClaimStatus.WITHDRAWN]
CLAIM_STATUS_RULES = (
    {
        "anyOf": [
            {"properties": {"status": {"not": {"enum": [ClaimStatus.DENIED.value]}}}},
            {
                "required": ["denial_reason"],
                "properties": {"denial_reason": {"pattern": NON_BLANK_PATTERN}},
            },
        ]
    },
)


class ClaimStatusApi(ApiView):
    """Admins and billers: a claim's status (ready → submitted → paid / denied with reason)."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.UPDATE_CLAIMS
    # claims_status_set locks the month's close row before the claim.
    version_lock = RowLock(Claim, "claim_id", first=(MonthClose, {"month": "month"}))

    @extend_schema_serializer(component_name="ClaimStatusChange")
    class StatusSerializer(serializers.Serializer):
        validated_whole = True  # the view requires `status`
        body_rules = CLAIM_STATUS_RULES
        status = EnumField(SETTABLE_STATUSES, enum_name="ClaimStatusSettableEnum")
        denial_reason = serializers.CharField(max_length=300, required=False, allow_blank=True)

    def _claim(self, claim_id: Any) -> Claim:
        return get_for_practice_or_404(Claim, self.practice, claim_id)

    @extend_schema(
        operation_id="claim_retrieve",
        summary="A claim with its lines and explanations",
        responses={200: ClaimSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, claim_id: Any) -> Response:
        claim = self._claim(claim_id)
        return read_answer(self, claim, ClaimSerializer, patient_id=claim.patient_id)

    @extend_schema(
        operation_id="claim_status_update",
        summary="Set a claim's status",
        request=StatusSerializer,
        responses={200: ClaimSerializer, **error_responses(400, 403, 404, 409)},
    )
    def patch(self, request: Request, claim_id: Any) -> Response:
        claim = self._claim(claim_id)
        body = validated(self.StatusSerializer, request.data)
        services.claims_status_set(
            practice=self.practice,
            actor=self.membership,
            claim_ids=[claim.pk],
            status=body["status"],
            denial_reason=body.get("denial_reason", ""),
        )
        claim.refresh_from_db()
        return Response(ClaimSerializer(claim).data)


class ClaimStatusBulkApi(ApiView):
    """Admins and billers: one status for many claims of the month (all or nothing)."""

    capability = Capability.UPDATE_CLAIMS

    @extend_schema_serializer(component_name="ClaimStatusBulk")
    class BulkSerializer(serializers.Serializer):
        claims = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=5000)
        body_rules = CLAIM_STATUS_RULES
        status = EnumField(SETTABLE_STATUSES, enum_name="ClaimStatusSettableEnum")
        denial_reason = serializers.CharField(max_length=300, required=False, allow_blank=True)

    @extend_schema_serializer(component_name="ClaimStatusBulkResult")
    class ResultSerializer(serializers.Serializer):
        changed = serializers.IntegerField()

    @extend_schema(
        operation_id="billing_month_claims_status",
        parameters=[MONTH_PATH],
        summary="Set the status of many claims (all or nothing)",
        request=BulkSerializer,
        responses={200: ResultSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, month: str) -> Response:
        day = _month(month)
        body = validated(self.BulkSerializer, request.data)
        ids = body["claims"]
        if not selectors.claims_in_month(practice=self.practice, month=day, claim_ids=ids):
            raise Http404("No such claim in this month.")
        changed = services.claims_status_set(
            practice=self.practice,
            actor=self.membership,
            claim_ids=ids,
            status=body["status"],
            denial_reason=body.get("denial_reason", ""),
        )
        return Response(self.ResultSerializer({"changed": changed}).data)
