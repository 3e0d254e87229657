"""Billing API, submission batches: a month's batches (list, create), a batch with its
claims, its stored 837P, and a claim's resubmission, correction or void (each answered with
the new batch that carries it). Admins and billers; rules live in
billing.submissions.services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing.exports.services import ExportFile
from billing.http import download
from billing.models import (
    BatchClaimStatus,
    BatchStatus,
    Claim,
    ClaimFrequency,
    ClaimStatus,
    SubmissionBatch,
    UsageIndicator,
)
from billing.submissions import selectors, services
from billing.submissions.views import batch_file
from ccm import audit
from ccm.api import (
    MONTH_PATH,
    PAGE_PARAMETERS,
    REFERENCE_MESSAGE,
    ApiView,
    EnumField,
    MemberSerializer,
    StrictSerializer,
    error_responses,
    page_of,
    paginate,
    validated,
)
from ccm.months import month_label, parse_month
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404

MAX_CLAIMS = 10_000
BATCH_PATH = OpenApiParameter(
    "batch_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The batch's id."
)
CLAIM_PATH = OpenApiParameter(
    "claim_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The claim's id."
)


@extend_schema_serializer(component_name="SubmissionBatch")
class BatchSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    month = serializers.SerializerMethodField(
        help_text="YYYY-MM of its claims; null for claims of several months."
    )
    control_number = serializers.IntegerField(help_text="ISA13 and GS06.")
    usage = EnumField(UsageIndicator.choices, enum_name="UsageIndicatorEnum")
    claims = serializers.IntegerField()
    total_charge = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = EnumField(BatchStatus.choices, enum_name="BatchStatusEnum")
    sha256 = serializers.CharField(help_text="SHA-256 of the stored 837P (hex).")
    created_at = serializers.DateTimeField()
    created_by = MemberSerializer()

    def get_month(self, batch: SubmissionBatch) -> str | None:
        return month_label(batch.month) if batch.month else None


@extend_schema_serializer(component_name="SubmissionBatchClaim")
class EntrySerializer(serializers.Serializer):
    claim = serializers.UUIDField(source="claim_id")
    patient = serializers.UUIDField(source="claim.patient_id")
    patient_control_number = serializers.CharField(
        source="claim.control_number", help_text="CLM01, echoed by the 277CA and the 835."
    )
    frequency = EnumField(ClaimFrequency.choices, enum_name="ClaimFrequencyEnum")
    payer_claim_number = serializers.CharField(help_text="REF*F8 of a replacement or void.")
    charge = serializers.DecimalField(max_digits=10, decimal_places=2)
    live = serializers.BooleanField(
        help_text="False once rejected or replaced: a claim is in at most one live batch."
    )
    status = EnumField(BatchClaimStatus.choices, enum_name="BatchClaimStatusEnum")
    claim_status = EnumField(
        ClaimStatus.choices, source="claim.status", enum_name="ClaimStatusEnum"
    )


@extend_schema_serializer(component_name="SubmissionBatchDetail")
class BatchDetailSerializer(BatchSerializer):
    entries = EntrySerializer(many=True)


def _detail(view: ApiView, batch: SubmissionBatch, *, code: int = status.HTTP_200_OK) -> Response:
    """The batch with its claims, audited as a read of each patient on it."""
    entries = list(selectors.batch_entries(practice=view.practice, batch=batch))
    audit.read_many(view.membership, [e.claim.patient for e in entries], action="claim.list")
    # BatchDetailSerializer's shape, with the entries as the selector orders and joins them.
    data = {**BatchSerializer(batch).data, "entries": EntrySerializer(entries, many=True).data}
    return Response(data, status=code)


class BatchListApi(ApiView):
    """A month's submission batches; POST creates one of the claims ready to send (all of
    the month's, or those named)."""

    capability = Capability.SUBMIT_CLAIMS
    PageSerializer = page_of(BatchSerializer, "SubmissionBatchPage")

    @extend_schema_serializer(component_name="SubmissionBatchCreate")
    class CreateSerializer(StrictSerializer):
        claims = serializers.ListField(
            child=serializers.UUIDField(),
            min_length=1,
            max_length=MAX_CLAIMS,
            required=False,
            help_text="Claims of the month to send (each ready and in no live batch); "
            "left out: every claim of the month ready to send.",
        )

    @extend_schema(
        operation_id="billing_month_batches",
        parameters=[MONTH_PATH, *PAGE_PARAMETERS],
        summary="Submission batches of a month, the latest first",
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request, month: str) -> Response:
        rows = selectors.batch_list(practice=self.practice, month=parse_month(month))
        paginator, page = paginate(self, rows)
        return paginator.get_paginated_response(BatchSerializer(page, many=True).data)

    @extend_schema(
        operation_id="billing_month_batch_create",
        parameters=[MONTH_PATH],
        summary="Create a submission batch (837P) of the month's claims ready to send",
        description="Refused (409, nothing created) when the month is not closed, nothing is "
        "ready to send, a named claim is not ready or already in a live batch, or the file "
        "would fail the contractor's front-end rules or pyx12: the message names what to fix.",
        request=CreateSerializer,
        responses={201: BatchDetailSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, month: str) -> Response:
        day = parse_month(month)
        body = validated(self.CreateSerializer, request.data)
        try:
            batch = services.batch_create(
                actor=self.membership, month=day, claim_ids=body.get("claims")
            )
        except Claim.DoesNotExist:
            raise exceptions.NotFound(REFERENCE_MESSAGE.format(field="claims")) from None
        return _detail(self, batch, code=status.HTTP_201_CREATED)


class BatchDetailApi(ApiView):
    """A batch with its claims (frequency, charge, status)."""

    capability = Capability.SUBMIT_CLAIMS

    @extend_schema(
        operation_id="billing_batch_retrieve",
        parameters=[BATCH_PATH],
        summary="A submission batch with its claims",
        responses={200: BatchDetailSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, batch_id: Any) -> Response:
        return _detail(self, selectors.batch_get(practice=self.practice, batch_id=batch_id))


class Batch837Api(ApiView):
    """The batch's 837P as created: the same bytes at every download."""

    capability = Capability.SUBMIT_CLAIMS

    @extend_schema(
        operation_id="billing_batch_837",
        parameters=[BATCH_PATH],
        summary="The stored X12 837P 005010X222A1 of a batch (byte-identical every time)",
        responses={(200, "application/edi-x12"): OpenApiTypes.BINARY, **error_responses(403, 404)},
    )
    def get(self, request: Request, batch_id: Any) -> Any:
        batch = selectors.batch_get(practice=self.practice, batch_id=batch_id)
        content = services.batch_download(actor=self.membership, batch=batch)
        name = batch_file(self.practice.slug, batch)
        return download(ExportFile(name, "application/edi-x12", content))


@extend_schema_serializer(component_name="ClaimResend")
class ResendSerializer(StrictSerializer):
    payer_claim_number = serializers.RegexField(
        services.PAYER_CLAIM_NUMBER.pattern,
        max_length=50,
        required=False,
        error_messages={"invalid": services.PAYER_CLAIM_NUMBER_FORMAT_MESSAGE},
        help_text="The payer's claim control number (REF*F8); left out: the claim's own "
        "(from the remittance). Required when the claim has none.",
    )


def _claim(view: ApiView, claim_id: Any) -> Claim:
    return get_for_practice_or_404(Claim, view.practice, claim_id)


class ClaimResubmitApi(ApiView):
    """A rejected claim sent again, as an original, in a new batch."""

    capability = Capability.SUBMIT_CLAIMS

    @extend_schema(
        operation_id="billing_claim_resubmit",
        parameters=[CLAIM_PATH],
        summary="Resubmit a rejected claim (a new batch carrying it)",
        request=None,
        responses={201: BatchDetailSerializer, **error_responses(403, 404, 409)},
    )
    def post(self, request: Request, claim_id: Any) -> Response:
        batch = services.claim_resubmit(actor=self.membership, claim=_claim(self, claim_id))
        return _detail(self, batch, code=status.HTTP_201_CREATED)


class ClaimCorrectApi(ApiView):
    """A corrected claim (frequency 7, REF*F8) in a new batch."""

    capability = Capability.SUBMIT_CLAIMS

    @extend_schema(
        operation_id="billing_claim_correct",
        parameters=[CLAIM_PATH],
        summary="Send a corrected claim (frequency 7) replacing the payer's claim",
        request=ResendSerializer,
        responses={201: BatchDetailSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, claim_id: Any) -> Response:
        claim = _claim(self, claim_id)
        body = validated(ResendSerializer, request.data)
        batch = services.claim_correct(actor=self.membership, claim=claim, **body)
        return _detail(self, batch, code=status.HTTP_201_CREATED)


class ClaimVoidApi(ApiView):
    """A void (frequency 8, REF*F8) of a claim that was sent, in a new batch."""

    capability = Capability.SUBMIT_CLAIMS

    @extend_schema(
        operation_id="billing_claim_void",
        parameters=[CLAIM_PATH],
        summary="Void a claim that was sent (frequency 8); it is withdrawn",
        request=ResendSerializer,
        responses={201: BatchDetailSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, claim_id: Any) -> Response:
        claim = _claim(self, claim_id)
        body = validated(ResendSerializer, request.data)
        batch = services.claim_void(actor=self.membership, claim=claim, **body)
        return _detail(self, batch, code=status.HTTP_201_CREATED)
