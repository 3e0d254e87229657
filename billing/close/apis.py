"""Billing API (contract §4): a month's status and totals, closing it (202, queued or done),
and its claim lines with the engine's explanations. Admins and billers close; physicians
may read; coordinators get 403. Rules live in billing.close.services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing.close import services, tasks
from billing.models import (
    Claim,
    ClaimLine,
    ClaimStatus,
    ExportKind,
    MonthClose,
    Outcome,
)
from ccm import audit, jobs
from ccm.api import (
    MONTH_PATH,
    NON_BLANK_PATTERN,
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    Pagination,
    RowLock,
    error_responses,
    page_of,
)
from ccm.models import Role
from ccm.months import month_label, parse_month
from ccm.tenancy import get_for_practice_or_404

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
    stalled = serializers.BooleanField(
        help_text="Running with no batch for MONTH_CLOSE_STALE_AFTER seconds (a worker died): "
        "it is being resumed by itself."
    )


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
        "stalled": close.stalled if close else False,
    }


class BillingMonthApi(ApiView):
    """A billing month's close status and totals."""

    allowed_roles = READERS

    @extend_schema(
        operation_id="billing_month_retrieve",
        parameters=[MONTH_PATH],
        summary="Status and totals of a billing month",
        responses={200: MonthSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request, month: str) -> Response:
        return Response(MonthSerializer(_month_data(self.practice, _month(month))).data)


class BillingMonthCloseApi(ApiView):
    """Admins and billers: close a month (idempotent). 202 with the job's id; with no
    broker (development) the close has already run when the answer comes. With the broker
    unavailable the close is saved and kept (ccm.jobs): 202 with `message` saying so."""

    allowed_roles = CLOSERS

    @extend_schema_serializer(component_name="BillingMonthCloseJob")
    class JobSerializer(serializers.Serializer):
        job = serializers.CharField()
        month = MonthSerializer()
        message = serializers.CharField(
            help_text="Empty when the close is queued. Otherwise why it waits: background jobs "
            "are unavailable; the close is saved and runs under this job id when they are back."
        )

    @extend_schema_serializer(component_name="BillingMonthCloseRequest")
    class CloseSerializer(serializers.Serializer):
        confirm_changes = serializers.BooleanField(
            default=False,
            help_text="Re-closing a reopened month: correct the submitted claims it changes "
            "(see GET …/submitted-changes/). Without it such a re-close answers 400.",
        )

    @extend_schema(
        operation_id="billing_month_close",
        parameters=[MONTH_PATH],
        summary="Close a billing month (idempotent)",
        request=CloseSerializer,
        responses={202: JobSerializer, **error_responses(400, 403, 409)},
    )
    def post(self, request: Request, month: str) -> Response:
        day = _month(month)
        body = self.CloseSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        confirm = body.validated_data["confirm_changes"]
        try:
            close = services.month_close_start(
                practice=self.practice, month=day, actor=self.membership, confirm_changes=confirm
            )
        except ValidationError as exc:
            if "confirm" in getattr(exc, "error_dict", {}):
                raise ValidationError({"confirm_changes": exc.message_dict["confirm"]}) from None
            raise
        job = jobs.enqueue(
            tasks.month_close,
            str(self.practice.pk),
            month_label(day),
            str(self.membership.pk),
            confirm,
            close.times_closed,
        )
        audit.record_for(self.membership, "month.close_requested", object_id=month_label(day))
        answer = {
            "job": job.job_id,
            "month": _month_data(self.practice, day),
            "message": "" if job.queued else jobs.UNAVAILABLE_MESSAGE,
        }
        return Response(self.JobSerializer(answer).data, status=status.HTTP_202_ACCEPTED)


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

    allowed_roles = READERS
    PageSerializer = page_of(ClaimSerializer, "ClaimPage")

    @extend_schema(
        operation_id="billing_month_claims",
        parameters=[MONTH_PATH, *PAGE_PARAMETERS],
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


class BillingMonthReopenApi(ApiView):
    """Admins: reopen a closed month with a reason (audited); its time is unlocked."""

    allowed_roles = (Role.ADMIN,)

    @extend_schema_serializer(component_name="BillingMonthReopen")
    class ReopenSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=300)

    @extend_schema(
        operation_id="billing_month_reopen",
        parameters=[MONTH_PATH],
        summary="Reopen a closed month (admins; reason required)",
        request=ReopenSerializer,
        responses={200: MonthSerializer, **error_responses(400, 403, 409)},
    )
    def post(self, request: Request, month: str) -> Response:
        day = _month(month)
        body = self.ReopenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.month_reopen(
            practice=self.practice,
            month=day,
            actor=self.membership,
            reason=body.validated_data["reason"],
        )
        return Response(MonthSerializer(_month_data(self.practice, day)).data)


class SubmittedChangesApi(ApiView):
    """What re-closing a reopened month would change in its submitted claims."""

    allowed_roles = CLOSERS

    @extend_schema_serializer(component_name="SubmittedClaimChange")
    class ChangeSerializer(serializers.Serializer):
        claim = serializers.UUIDField(source="claim.pk")
        patient = serializers.UUIDField(source="claim.patient_id")
        status = serializers.CharField(source="claim.status")
        differences = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        operation_id="billing_month_submitted_changes",
        parameters=[MONTH_PATH],
        summary="Submitted claims a re-close would change, with the differences",
        responses={200: ChangeSerializer(many=True), **error_responses(400, 403)},
    )
    def get(self, request: Request, month: str) -> Response:
        changes = services.submitted_changes(practice=self.practice, month=_month(month))
        audit.record_many(
            self.membership, [(c, c.patient_id) for c, _d in changes], action="claim.read"
        )
        rows = [{"claim": c, "differences": d} for c, d in changes]
        return Response(self.ChangeSerializer(rows, many=True).data)


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

    allowed_roles = READERS
    PageSerializer = page_of(OutcomeSerializer, "NotBillablePage")

    @extend_schema(
        operation_id="billing_month_not_billable",
        parameters=[MONTH_PATH, *PAGE_PARAMETERS],
        summary="Not-billable patient-months with reasons and minutes still needed",
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request, month: str) -> Response:
        rows = (
            Outcome.objects.filter(month=_month(month), billable=False)
            .select_related("patient")
            .order_by("created_at", "id")
        )
        paginator = Pagination()
        page = list(paginator.paginate_queryset(rows, request, view=self) or [])
        audit.read_many(self.membership, [o.patient for o in page], action="outcome.list")
        return paginator.get_paginated_response(OutcomeSerializer(page, many=True).data)


# A claim's status is set to any status but withdrawn (a reclose withdraws); denied needs a
# reason (billing.close.services.claims_status_set). The schema of both bodies states it.
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

    allowed_roles = READERS
    write_roles = CLOSERS
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
        audit.read(self.membership, claim, patient_id=claim.patient_id)
        return Response(ClaimSerializer(claim).data)

    @extend_schema(
        operation_id="claim_status_update",
        summary="Set a claim's status",
        request=StatusSerializer,
        responses={200: ClaimSerializer, **error_responses(400, 403, 404, 409)},
    )
    def patch(self, request: Request, claim_id: Any) -> Response:
        claim = self._claim(claim_id)
        body = self.StatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.claims_status_set(
            practice=self.practice,
            actor=self.membership,
            claim_ids=[claim.pk],
            status=body.validated_data["status"],
            denial_reason=body.validated_data.get("denial_reason", ""),
        )
        claim.refresh_from_db()
        return Response(ClaimSerializer(claim).data)


class ClaimStatusBulkApi(ApiView):
    """Admins and billers: one status for many claims of the month (all or nothing)."""

    allowed_roles = CLOSERS

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
        body = self.BulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = body.validated_data["claims"]
        if Claim.objects.filter(pk__in=ids, month=day).count() != len(set(ids)):
            raise Http404("No such claim in this month.")
        changed = services.claims_status_set(
            practice=self.practice,
            actor=self.membership,
            claim_ids=ids,
            status=body.validated_data["status"],
            denial_reason=body.validated_data.get("denial_reason", ""),
        )
        return Response(self.ResultSerializer({"changed": changed}).data)


class _ExportApi(ApiView):
    allowed_roles = CLOSERS
    kind = ""

    def get(self, request: Request, month: str) -> Any:
        from billing.close.views import export_response

        return export_response(self.membership, _month(month), self.kind)


def _export_api(kind: str, media: str, summary: str) -> type[_ExportApi]:
    @extend_schema(
        operation_id=f"billing_month_export_{kind}",
        parameters=[MONTH_PATH],
        summary=summary,
        responses={
            (200, media): OpenApiTypes.BINARY,
            **error_responses(400, 403, 409),
        },
    )
    def get(self: _ExportApi, request: Request, month: str) -> Any:
        return _ExportApi.get(self, request, month)

    return type(f"Export{kind.upper()}Api", (_ExportApi,), {"kind": kind, "get": get})


ExportCsvApi = _export_api(ExportKind.CSV, "text/csv", "CSV export: one row per claim line")
Export837Api = _export_api(ExportKind.X12, "application/edi-x12", "X12 837P 005010X222A1")
ExportPdfApi = _export_api(ExportKind.PDF, "application/pdf", "PDF month summary")
