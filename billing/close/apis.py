"""Billing API (contract §4), month close: a month's status and totals, closing it (202,
queued or done), reopening it and what a re-close would change. Admins and billers close;
physicians may read; coordinators get 403. Rules live in billing.close.services; claims are
billing.claims.apis, exports billing.exports.apis."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing.close import selectors, services
from billing.remittances import apis as money_apis
from billing.remittances import selectors as money_selectors
from ccm import audit, jobs
from ccm.api import MONTH_PATH, ApiView, error_responses, validated
from ccm.months import month_label, parse_month
from ccm.roles import Capability


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
    money = money_apis.MoneySerializer(help_text="The month's claims in money (835s posted).")


def _month_data(practice: Any, month: Any) -> dict[str, Any]:
    close = selectors.month_close_get(practice=practice, month=month)
    return {
        "month": month_label(month),
        "status": close.status if close else "open",
        "patients_total": close.patients_total if close else 0,
        "patients_done": close.patients_done if close else 0,
        "claims": close.claims if close else 0,
        "amount": close.amount if close else "0.00",
        "finished_at": close.finished_at if close else None,
        "stalled": close.stalled if close else False,
        "money": money_selectors.month_money(practice=practice, month=month),
    }


class BillingMonthApi(ApiView):
    """A billing month's close status and totals."""

    capability = Capability.VIEW_BILLING

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

    capability = Capability.CLOSE_MONTHS

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
        body = validated(self.CloseSerializer, request.data)
        confirm = body["confirm_changes"]
        try:
            _started, job = services.month_close_request(
                practice=self.practice, month=day, actor=self.membership, confirm_changes=confirm
            )
        except ValidationError as exc:
            if "confirm" in getattr(exc, "error_dict", {}):
                raise ValidationError({"confirm_changes": exc.message_dict["confirm"]}) from None
            raise
        answer = {
            "job": job.job_id,
            "month": _month_data(self.practice, day),
            "message": "" if job.queued else jobs.UNAVAILABLE_MESSAGE,
        }
        return Response(self.JobSerializer(answer).data, status=status.HTTP_202_ACCEPTED)


class BillingMonthReopenApi(ApiView):
    """Admins: reopen a closed month with a reason (audited); its time is unlocked."""

    capability = Capability.REOPEN_MONTHS

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
        body = validated(self.ReopenSerializer, request.data)
        services.month_reopen(
            practice=self.practice,
            month=day,
            actor=self.membership,
            reason=body["reason"],
        )
        return Response(MonthSerializer(_month_data(self.practice, day)).data)


class SubmittedChangesApi(ApiView):
    """What re-closing a reopened month would change in its submitted claims."""

    capability = Capability.CLOSE_MONTHS

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


@extend_schema_serializer(component_name="PrecloseCheckRow")
class PrecloseRowSerializer(serializers.Serializer):
    patient = serializers.UUIDField(source="patient.pk")
    minutes_logged = serializers.IntegerField(source="entered")
    minutes_countable = serializers.IntegerField(source="minutes")
    reasons = serializers.ListField(child=serializers.CharField())
    next_code = serializers.CharField(
        allow_null=True, help_text="Under the first threshold: the code still to reach."
    )
    minutes_needed = serializers.IntegerField(allow_null=True)


@extend_schema_serializer(component_name="PrecloseCheckGroup")
class PrecloseGroupSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=services.PRECLOSE_GROUPS)
    title = serializers.CharField()
    count = serializers.IntegerField()
    rows = PrecloseRowSerializer(many=True)


@extend_schema_serializer(component_name="PrecloseCheck")
class PrecloseCheckSerializer(serializers.Serializer):
    month = serializers.CharField()
    candidates = serializers.IntegerField(help_text="Patient-months the close would evaluate.")
    billable = serializers.IntegerField(help_text="Claims the close would make now.")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    problems = serializers.IntegerField(help_text="Rows in every group but `under`.")
    groups = PrecloseGroupSerializer(many=True)


class PrecloseCheckApi(ApiView):
    """What would not bill if the month closed now and can still be fixed, by problem (the
    pre-close check page's rows): no billable coverage, the engine's gates, no billing
    practitioner, under the first threshold. The engine on today's facts; audited reads."""

    capability = Capability.CLOSE_MONTHS

    @extend_schema(
        operation_id="billing_month_preclose_check",
        parameters=[MONTH_PATH],
        summary="Pre-close check: what would not bill now and why, by problem",
        responses={200: PrecloseCheckSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request, month: str) -> Response:
        day = _month(month)
        check = services.preclose_check(practice=self.practice, month=day)
        shown = [row["patient"] for _key, _title, rows in check["groups"] for row in rows]
        audit.read_many(self.membership, shown, action="patient.preclose_check")
        groups = [
            {
                "key": key,
                "title": title,
                "count": len(rows),
                "rows": [_check_row(key, row) for row in rows],
            }
            for key, title, rows in check["groups"]
        ]
        answer = {**check, "month": month_label(day), "groups": groups}
        return Response(PrecloseCheckSerializer(answer).data)


def _check_row(key: str, row: dict[str, Any]) -> dict[str, Any]:
    result = row["result"]
    following = result.next_threshold
    if key == "coverage":
        reasons = [row["reason"]]
    elif key == "practitioner":
        reasons = [services.NO_PRACTITIONER_MESSAGE]
    else:
        reasons = list(result.reasons)
    return {
        **row,
        "reasons": reasons,
        "next_code": following.code if following else None,
        "minutes_needed": following.minutes_needed if following else None,
    }
