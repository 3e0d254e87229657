"""Acknowledgments (999, 277CA) and remittances (835) over the API.

POST takes the X12 file itself as the raw request body, `Content-Type: text/plain` (or
`application/edi-x12`), at most 10 MB: 201 with what was imported, or 200 with the earlier
import when the same file (for an 835, the same payer and trace number) was imported before
and nothing changed. A file that is not X12, not of the endpoint's kinds, or that fails
pyx12's validation against its implementation guide is a 400 `{"detail": "…"}` naming what
is wrong, and nothing is saved. Admins and billers post; physicians read; coordinators get
403; another practice's file is 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import AckKind, Acknowledgment, Remittance
from billing.remittances import codes, parse, selectors, services
from ccm import audit
from ccm.api import (
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    MemberSerializer,
    error_responses,
    page_of,
    paginate,
)
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404


class X12Parser(BaseParser):
    """The raw body as bytes (an X12 file), refused past parse.MAX_BYTES."""

    media_type = "text/plain"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        data = stream.read(parse.MAX_BYTES + 1) if stream is not None else b""
        if len(data) > parse.MAX_BYTES:
            raise ParseError(parse.TOO_BIG_MESSAGE)
        return data


class EdiX12Parser(X12Parser):
    media_type = "application/edi-x12"


_BODY = {
    "text/plain": {
        "type": "string",
        "minLength": 1,
        "pattern": "^\\s*ISA",
        "description": "The X12 file itself (ISA…IEA), as received; at most 10 MB. "
        "`application/edi-x12` is accepted too.",
    }
}


def _content(request: Request) -> bytes:
    data = request.data
    return data if isinstance(data, bytes) else b""


def _imported(view: ApiView, expected: frozenset[str]) -> tuple[Any, bool]:
    try:
        return services.x12_import(
            practice=view.practice,
            actor=view.membership,
            content=_content(view.request),
            expected=expected,
        )
    except ValidationError as exc:
        # The file is the whole body: its problem is the answer's detail.
        raise ValidationError(" ".join(exc.messages)) from None


# --- acknowledgments ----------------------------------------------------------------------


@extend_schema_serializer(component_name="SubmissionBatchRef")
class BatchRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    control_number = serializers.IntegerField(help_text="ISA13 and GS06 of the 837 sent.")
    status = serializers.CharField()


@extend_schema_serializer(component_name="AcknowledgmentElementError")
class ElementErrorSerializer(serializers.Serializer):
    element = serializers.CharField(help_text="Segment id and position, e.g. N403.")
    reference = serializers.CharField(help_text="Data element reference number (IK402).")
    code = serializers.CharField(help_text="IK403 error code.")
    description = serializers.CharField()


@extend_schema_serializer(component_name="AcknowledgmentError")
class AckErrorSerializer(serializers.Serializer):
    level = EnumField(
        [("group", "Functional group (AK9)"), ("transaction", "Transaction set (IK5)"),
         ("segment", "Segment (IK3, IK4)")],
        enum_name="AcknowledgmentErrorLevelEnum",
    )  # fmt: skip
    code = serializers.CharField()
    description = serializers.CharField()
    transaction = serializers.CharField(required=False, help_text="ST02 of the set.")
    segment = serializers.CharField(required=False)
    position = serializers.CharField(required=False, help_text="Position in the set.")
    loop = serializers.CharField(required=False)
    elements = ElementErrorSerializer(many=True, required=False)


@extend_schema_serializer(component_name="ClaimAcknowledgment")
class ClaimStatusSerializer(serializers.Serializer):
    claim = serializers.UUIDField(
        source="claim_id", allow_null=True, help_text="Null: no claim of this practice."
    )
    patient_control_number = serializers.CharField(help_text="CLM01 as sent (2200D TRN02).")
    accepted = serializers.BooleanField()
    category_code = serializers.CharField(help_text="STC01-1, e.g. A2 accepted, A7 rejected.")
    status_code = serializers.CharField(help_text="STC01-2.")
    entity_code = serializers.CharField(help_text="STC01-3.")
    description = serializers.CharField(help_text="The codes' published meaning.")


@extend_schema_serializer(component_name="Acknowledgment")
class AckSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = EnumField(AckKind.choices, enum_name="AcknowledgmentKindEnum")
    batch = BatchRefSerializer(allow_null=True)
    accepted = serializers.BooleanField()
    summary = serializers.CharField()
    uploaded_by = MemberSerializer()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="AcknowledgmentDetail")
class AckDetailSerializer(AckSerializer):
    claim_statuses = ClaimStatusSerializer(many=True, source="claim_statuses.all")

    def get_fields(self) -> dict[str, Any]:
        # `errors` is a Serializer property: the field is added here, not as an attribute.
        fields = super().get_fields()
        fields["errors"] = AckErrorSerializer(
            many=True, help_text="999: the errors found, each code with its meaning (no values)."
        )
        return fields


_POST_RESPONSES = {
    200: "Already imported (same file): the earlier import; nothing changed.",
    201: "Imported.",
}


class AcknowledgmentListApi(ApiView):
    """GET: the practice's 999s and 277CAs, newest first. POST: import one."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.POST_REMITTANCES
    parser_classes = [X12Parser, EdiX12Parser]
    PageSerializer = page_of(AckSerializer, "AcknowledgmentPage")

    @extend_schema(
        operation_id="billing_acknowledgments_list",
        summary="Imported 999 and 277CA acknowledgments, newest first",
        parameters=PAGE_PARAMETERS,
        responses={200: PageSerializer, **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        paginator, page = paginate(self, selectors.acknowledgment_list(practice=self.practice))
        return paginator.get_paginated_response(AckSerializer(page, many=True).data)

    @extend_schema(
        operation_id="billing_acknowledgments_create",
        summary="Import a 999 or 277CA (raw X12 body); posts it to its batch and claims",
        request=_BODY,
        responses={
            **{
                code: OpenApiResponse(AckDetailSerializer, description=text)
                for code, text in _POST_RESPONSES.items()
            },
            **error_responses(400, 403),
        },
    )
    def post(self, request: Request) -> Response:
        record, created = _imported(self, parse.ACKNOWLEDGMENTS)
        return _ack_answer(self, record, status.HTTP_201_CREATED if created else 200)


def _ack_answer(view: ApiView, record: Acknowledgment, code: int) -> Response:
    ack = selectors.acknowledgment_get(practice=view.practice, acknowledgment_id=record.pk)
    patients = [s.claim.patient for s in ack.claim_statuses.all() if s.claim is not None]
    audit.read_many(view.membership, patients, action="acknowledgment.read")
    return Response(AckDetailSerializer(ack).data, status=code)


class AcknowledgmentDetailApi(ApiView):
    capability = Capability.VIEW_BILLING

    @extend_schema(
        operation_id="billing_acknowledgments_retrieve",
        summary="One acknowledgment: the 999's errors or the 277CA's claim statuses",
        responses={200: AckDetailSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, acknowledgment_id: str) -> Response:
        found = get_for_practice_or_404(Acknowledgment, self.practice, acknowledgment_id)
        return _ack_answer(self, found, status.HTTP_200_OK)


# --- remittances --------------------------------------------------------------------------


@extend_schema_serializer(component_name="RemittanceAdjustment")
class AdjustmentSerializer(serializers.Serializer):
    line_code = serializers.CharField(help_text="The line's procedure code; blank: claim level.")
    group_code = EnumField(list(codes.ADJUSTMENT_GROUPS.items()), enum_name="AdjustmentGroupEnum")
    reason_code = serializers.CharField(help_text="CARC, e.g. 45, 2, 97.")
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    description = serializers.CharField(help_text="The CARC's published description.")


@extend_schema_serializer(component_name="RemittanceClaim")
class RemittanceClaimSerializer(serializers.Serializer):
    claim = serializers.UUIDField(
        source="claim_id", allow_null=True, help_text="Null: unmatched (no claim of this practice)."
    )
    patient_control_number = serializers.CharField(help_text="CLP01.")
    status_code = serializers.CharField(
        help_text="CLP02: 1, 2, 3 processed, 4 denied, 22 reversal…"
    )
    charge = serializers.DecimalField(max_digits=10, decimal_places=2)
    paid = serializers.DecimalField(max_digits=10, decimal_places=2)
    patient_responsibility = serializers.DecimalField(max_digits=10, decimal_places=2)
    payer_claim_number = serializers.CharField(help_text="CLP07, the payer's claim number.")
    adjustments = AdjustmentSerializer(many=True, source="adjustments.all")


@extend_schema_serializer(component_name="Remittance")
class RemittanceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    payer_name = serializers.CharField()
    payer_id = serializers.CharField()
    trace_number = serializers.CharField(help_text="TRN02: the check or EFT number.")
    payment_method = serializers.CharField(help_text="BPR04: ACH, CHK, NON…")
    total_paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    paid_on = serializers.DateField(allow_null=True)
    claims_matched = serializers.IntegerField()
    claims_unmatched = serializers.IntegerField()
    uploaded_by = MemberSerializer()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="RemittanceDetail")
class RemittanceDetailSerializer(RemittanceSerializer):
    claims = RemittanceClaimSerializer(many=True, source="claims.all")


class RemittanceListApi(ApiView):
    """GET: the practice's 835s, newest first. POST: import one."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.POST_REMITTANCES
    parser_classes = [X12Parser, EdiX12Parser]
    PageSerializer = page_of(RemittanceSerializer, "RemittancePage")

    @extend_schema(
        operation_id="billing_remittances_list",
        summary="Imported 835 remittances, newest first",
        parameters=PAGE_PARAMETERS,
        responses={200: PageSerializer, **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        paginator, page = paginate(self, selectors.remittance_list(practice=self.practice))
        return paginator.get_paginated_response(RemittanceSerializer(page, many=True).data)

    @extend_schema(
        operation_id="billing_remittances_create",
        summary="Import an 835 (raw X12 body): posts payments, adjustments and denials",
        request=_BODY,
        responses={
            200: OpenApiResponse(
                RemittanceDetailSerializer,
                description="Already imported (same file, or the same payer and trace "
                "number): the earlier import; nothing changed.",
            ),
            201: OpenApiResponse(RemittanceDetailSerializer, description="Imported."),
            **error_responses(400, 403),
        },
    )
    def post(self, request: Request) -> Response:
        record, created = _imported(self, parse.REMITTANCES)
        return _remit_answer(self, record, status.HTTP_201_CREATED if created else 200)


def _remit_answer(view: ApiView, record: Remittance, code: int) -> Response:
    remit = selectors.remittance_get(practice=view.practice, remittance_id=record.pk)
    patients = [r.claim.patient for r in remit.claims.all() if r.claim is not None]
    audit.read_many(view.membership, patients, action="remittance.read")
    return Response(RemittanceDetailSerializer(remit).data, status=code)


class RemittanceDetailApi(ApiView):
    capability = Capability.VIEW_BILLING

    @extend_schema(
        operation_id="billing_remittances_retrieve",
        summary="One remittance with each claim's payment and adjustments, unmatched ones too",
        responses={200: RemittanceDetailSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, remittance_id: str) -> Response:
        found = get_for_practice_or_404(Remittance, self.practice, remittance_id)
        return _remit_answer(self, found, status.HTTP_200_OK)


# --- the month's money (the month API's `money`) --------------------------------------------


@extend_schema_serializer(component_name="BillingMonthMoney")
class MoneySerializer(serializers.Serializer):
    billed = serializers.DecimalField(max_digits=12, decimal_places=2)
    paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    adjusted = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Written off (CO, OA, PI adjustments)."
    )
    patient_responsibility = serializers.DecimalField(max_digits=12, decimal_places=2)
    denied = serializers.DecimalField(max_digits=12, decimal_places=2)
    outstanding = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Submitted, accepted or rejected claims."
    )
