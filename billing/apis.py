"""Billing API (contract §4): a month's status and totals, closing it (202, queued or done),
and its claim lines with the engine's explanations. Admins and billers close; physicians
may read; coordinators get 403. Rules live in billing.services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing import tasks
from billing.models import Claim, ClaimLine, ClaimStatus, MonthClose
from billing.months import current_month, month_label, parse_month
from ccm import audit
from ccm.api import ApiView, EnumField, Pagination, error_responses, page_of
from ccm.models import Role

READERS = (Role.ADMIN, Role.BILLER, Role.PHYSICIAN)
CLOSERS = (Role.ADMIN, Role.BILLER)


def _month(text: str) -> Any:
    return parse_month(text)  # ValidationError → 400 {"month": [...]}


@extend_schema_serializer(component_name="BillingMonth")
class MonthSerializer(serializers.Serializer):
    month = serializers.CharField()
    status = serializers.CharField(help_text="open, running, closed or reopened.")
    patients_total = serializers.IntegerField()
    patients_done = serializers.IntegerField()
    claims = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    finished_at = serializers.DateTimeField(allow_null=True)


def _month_data(practice: Any, month: Any) -> dict[str, Any]:
    close = MonthClose.objects.unscoped().filter(practice=practice, month=month).first()
    return {
        "month": month_label(month),
        "status": close.status if close else "open",
        "patients_total": close.patients_total if close else 0,
        "patients_done": close.patients_done if close else 0,
        "claims": close.claims if close else 0,
        "amount": close.amount if close else "0.00",
        "finished_at": close.finished_at if close else None,
    }


class BillingMonthApi(ApiView):
    """A billing month's close status and totals."""

    allowed_roles = READERS

    @extend_schema(
        operation_id="billing_month_retrieve",
        summary="Status and totals of a billing month",
        responses={200: MonthSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request, month: str) -> Response:
        return Response(MonthSerializer(_month_data(self.practice, _month(month))).data)


class BillingMonthCloseApi(ApiView):
    """Admins and billers: close a month (idempotent). 202 with the job's id; with no
    broker (development) the close has already run when the answer comes."""

    allowed_roles = CLOSERS

    @extend_schema_serializer(component_name="BillingMonthCloseJob")
    class JobSerializer(serializers.Serializer):
        job = serializers.CharField()
        month = MonthSerializer()

    @extend_schema(
        operation_id="billing_month_close",
        summary="Close a billing month (idempotent)",
        request=None,
        responses={202: JobSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request, month: str) -> Response:
        day = _month(month)
        if day >= current_month(self.practice.time_zone):
            raise ValidationError({"month": "Only a month that has ended can be closed."})
        job = tasks.month_close.delay(
            str(self.practice.pk), month_label(day), str(self.membership.pk)
        )
        audit.record_for(self.membership, "month.close_requested", object_id=month_label(day))
        body = {"job": str(job.id), "month": _month_data(self.practice, day)}
        return Response(self.JobSerializer(body).data, status=status.HTTP_202_ACCEPTED)


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
    lines = LineSerializer(many=True)


class BillingMonthClaimsApi(ApiView):
    """A closed month's claims with their lines and explanations (audited per patient)."""

    allowed_roles = READERS
    PageSerializer = page_of(ClaimSerializer, "ClaimPage")

    @extend_schema(
        operation_id="billing_month_claims",
        summary="Claims of a month with lines and the engine's explanations",
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request, month: str) -> Response:
        from django.db.models import Prefetch

        claims = (
            Claim.objects.unscoped()
            .filter(practice=self.practice, month=_month(month))
            .select_related("patient")
            .prefetch_related(Prefetch("lines", queryset=ClaimLine.objects.unscoped()))
            .order_by("created_at", "id")
        )
        paginator = Pagination()
        page = list(paginator.paginate_queryset(claims, request, view=self) or [])
        audit.read_many(self.membership, [c.patient for c in page], action="claim.list")
        return paginator.get_paginated_response(ClaimSerializer(page, many=True).data)
