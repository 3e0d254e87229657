"""Billing setup, payers and usual charges API (/api/v1/billing/setup/, /payers/,
/usual-charges/): admins write; billers and physicians read; coordinators get 403. Rules
live in billing.setup.services; the serializers state what JSON Schema can (patterns,
lengths, which fields go together), the services the rest (stored data, PO Box)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing.fees.selectors import FEE_CODE_NAMES
from billing.fees.services import settings_lock
from billing.models import (
    APCM_ELEMENTS,
    ApcmElement,
    ApcmPracticeAttestation,
    ApcmPractitionerAttestation,
    IsaQualifier,
    ProviderType,
    UsageIndicator,
)
from billing.setup import apcm, apcm_services, rules, selectors, services
from ccm.api import (
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    RowLock,
    StrictSerializer,
    error_responses,
    page_of,
    paginate,
    reference_or_404,
    validated,
)
from ccm.models import Membership, Practice
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404
from patients.models import Payer, PayerKind

# Printable ASCII without the X12 separators (services.X12_TEXT), no space at either end.
_CHAR = r"[ -)+-9;-=?-\]_-}]"
_SOLID = r"[!-)+-9;-=?-\]_-}]"


def text_pattern(limit: int) -> str:
    """At most `limit` characters, in the pattern itself: fuzzers generate from it."""
    return rf"^{_SOLID}(?:{_CHAR}{{0,{limit - 2}}}{_SOLID})?$"


PHONE_PATTERN = f"^{services.PHONE.pattern}$"
STATE_PATTERN = r"^[A-Z]{2}$"
PAY_TO = {
    "line1": "pay_to_line1",
    "line2": "pay_to_line2",
    "city": "pay_to_city",
    "state": "pay_to_state",
    "postal_code": "pay_to_postal_code",
}


def _no_line_break(value: str) -> None:
    # Python's `$` also matches before a final newline; JSON Schema's does not.
    if "\n" in value or "\r" in value:
        raise serializers.ValidationError(services.TEXT_MESSAGE)


def _regex(pattern: str, max_length: int, message: str, **kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(
        pattern,
        max_length=max_length,
        trim_whitespace=False,
        validators=[_no_line_break],
        error_messages={"invalid": message},
        **kwargs,
    )


def _text(limit: int, help_text: str = "", *, required: bool = True) -> serializers.RegexField:
    # A blank optional field is drf-spectacular's second oneOf branch (maxLength 0).
    optional: dict[str, Any] = {} if required else {"required": False, "allow_blank": True}
    return _regex(
        text_pattern(limit), limit, services.TEXT_MESSAGE, help_text=help_text, **optional
    )


# --- Billing setup -----------------------------------------------------------------------------


@extend_schema_serializer(component_name="PayToAddressInput")
class PayToInputSerializer(StrictSerializer):
    line1 = _text(55, "Loop 2010AB N301: a street or a PO Box.")
    line2 = _text(55, "Loop 2010AB N302.", required=False)
    city = _text(30, "Loop 2010AB N401.")
    state = _regex(STATE_PATTERN, 2, services.STATE_MESSAGE, help_text="Loop 2010AB N402.")
    postal_code = _regex(
        r"^[0-9]{5}(?:-?[0-9]{4})?$",
        10,
        services.PAY_TO_ZIP_MESSAGE,
        help_text="Loop 2010AB N403: 5 or 9 digits.",
    )


@extend_schema_serializer(component_name="PayToAddress")
class PayToSerializer(serializers.Serializer):
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    postal_code = serializers.CharField()


def _setup_fields(*, output: bool) -> dict[str, serializers.Field]:
    def text(limit: int, help_text: str, *, required: bool = True) -> serializers.Field:
        if output:
            return serializers.CharField(help_text=help_text)
        return _text(limit, help_text, required=required)

    def coded(pattern: str, limit: int, message: str, help_text: str) -> serializers.Field:
        if output:
            return serializers.CharField(help_text=help_text)
        return _regex(pattern, limit, message, help_text=help_text)

    return {
        "submitter_id": coded(
            r"^[A-Za-z0-9]{2,15}$",
            15,
            rules.SUBMITTER_MESSAGE,
            "Loop 1000A, ISA06, GS02: assigned at EDI enrolment; not the practice NPI.",
        ),
        "submitter_qualifier": EnumField(IsaQualifier.choices, enum_name="IsaQualifierEnum"),
        "submitter_name": text(60, "Loop 1000A NM103."),
        "contact_name": text(60, "Loop 1000A PER02."),
        "contact_phone": coded(
            PHONE_PATTERN, 20, services.PHONE_MESSAGE, "Loop 1000A PER04: a 10-digit US number."
        ),
        "receiver_id": coded(
            f"^{services.RECEIVER_ID.pattern}$",
            15,
            rules.RECEIVER_MESSAGE,
            "Loop 1000B, ISA08, GS03: the MAC's or clearinghouse's id, e.g. 01112.",
        ),
        "receiver_qualifier": EnumField(IsaQualifier.choices, enum_name="IsaQualifierEnum"),
        "receiver_name": text(60, "Loop 1000B NM103."),
        "usage": EnumField(UsageIndicator.choices, enum_name="UsageIndicatorEnum"),
        "provider_type": EnumField(ProviderType.choices, enum_name="ProviderTypeEnum"),
        "accepts_assignment": serializers.BooleanField(help_text="CLM07: A when true, else C."),
        "address_line1": text(55, "Loop 2010AA N301: a street address, no PO Box."),
        "address_line2": text(55, "Loop 2010AA N302.", required=False),
        "city": text(30, "Loop 2010AA N401."),
        "state": coded(STATE_PATTERN, 2, services.STATE_MESSAGE, "Loop 2010AA N402."),
        "postal_code": coded(
            r"^[0-9]{5}-?[0-9]{4}$", 10, rules.ZIP4_MESSAGE, "Loop 2010AA N403: ZIP+4."
        ),
    }


# An individual billing provider names its practitioner (PRACTITIONER_MESSAGE).
SETUP_RULES = (
    {
        "anyOf": [
            {"properties": {"provider_type": {"not": {"enum": [ProviderType.INDIVIDUAL.value]}}}},
            {
                "required": ["individual_practitioner"],
                "properties": {"individual_practitioner": {"type": "string", "format": "uuid"}},
            },
        ]
    },
)
PAY_TO_HELP = "Loop 2010AB, where payments are mailed (a PO Box is fine); null or left out: none."

SetupInputSerializer = extend_schema_serializer(component_name="BillingSetupInput")(
    type(
        "SetupInputSerializer",
        (StrictSerializer,),
        {
            "body_rules": SETUP_RULES,
            **_setup_fields(output=False),
            "pay_to": PayToInputSerializer(required=False, allow_null=True, help_text=PAY_TO_HELP),
            "medicare_payer": serializers.UUIDField(
                help_text="The practice's active payer of kind medicare: Part B claims go to it."
            ),
            "individual_practitioner": serializers.UUIDField(
                required=False,
                allow_null=True,
                help_text="Individual provider type only: an active physician member with an NPI.",
            ),
        },
    )
)
SetupSerializer = extend_schema_serializer(component_name="BillingSetup")(
    type(
        "SetupSerializer",
        (serializers.Serializer,),
        {
            "configured": serializers.BooleanField(
                help_text="False until an admin saves the setup; the values are then the start "
                "the page offers (the practice's name, phone and address)."
            ),
            "problems": serializers.ListField(
                child=serializers.CharField(),
                help_text="What an 837 of the practice would be refused for now (empty: nothing).",
            ),
            **_setup_fields(output=True),
            "pay_to": PayToSerializer(allow_null=True, help_text=PAY_TO_HELP),
            "medicare_payer": serializers.UUIDField(allow_null=True),
            "individual_practitioner": serializers.UUIDField(allow_null=True),
            "updated_at": serializers.DateTimeField(allow_null=True),
        },
    )
)


def _pay_to_out(values: dict[str, Any]) -> dict[str, str] | None:
    if not values.get("pay_to_line1"):
        return None
    return {key: values[name] for key, name in PAY_TO.items()}


def _pay_to_in(pay_to: dict[str, str] | None) -> dict[str, str]:
    return {name: (pay_to or {}).get(key, "") for key, name in PAY_TO.items()}


class BillingSetupApi(ApiView):
    """The practice's EDI ids, receiver, billing provider and pay-to address."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.EDIT_BILLING_SETTINGS
    version_lock = RowLock(Practice)

    def _answer(self) -> Response:
        setup = selectors.billing_setup(self.practice)
        values = services.setup_initial(self.practice, setup)
        body = {
            **values,
            "pay_to": _pay_to_out(values),
            "configured": setup is not None,
            "problems": services.setup_problems(self.practice),
            "updated_at": setup.updated_at if setup is not None else None,
        }
        return Response(SetupSerializer(body).data)

    @extend_schema(
        operation_id="billing_setup_retrieve",
        summary="The practice's billing setup and what an 837 would be refused for",
        responses={200: SetupSerializer, **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        return self._answer()

    @extend_schema(
        operation_id="billing_setup_update",
        summary="Save the practice's billing setup (admins; creates it the first time)",
        description="Every field is checked; any problem: 400 by field and nothing is saved. "
        "A PO Box in the billing provider street, the practice NPI as submitter id, a "
        "medicare_payer that is not an active Medicare contractor, or an individual provider "
        "type without an active physician are refused. Unknown payer or member ids: 404.",
        request=SetupInputSerializer,
        responses={200: SetupSerializer, **error_responses(400, 403, 404)},
    )
    def put(self, request: Request) -> Response:
        data = validated(SetupInputSerializer, request.data)
        data.update(_pay_to_in(data.pop("pay_to", None)))
        data["medicare_payer"] = reference_or_404(
            Payer, self.practice, data["medicare_payer"], field="medicare_payer"
        )
        member_id = data.get("individual_practitioner")
        individual = data["provider_type"] == ProviderType.INDIVIDUAL
        data["individual_practitioner"] = (
            reference_or_404(Membership, self.practice, member_id, field="individual_practitioner")
            if individual and member_id is not None
            else None
        )
        services.billing_setup_save(practice=self.practice, actor=self.membership, data=data)
        return self._answer()


# --- Payers ------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="Payer")
class PayerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    payer_id = serializers.CharField(help_text="837P 2010BB NM109 / 2330B NM109.")
    kind = EnumField(PayerKind.choices, enum_name="PayerKindEnum")
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


def _payer_fields(*, partial: bool) -> dict[str, serializers.Field]:
    optional = {"required": False} if partial else {}
    return {
        "name": _regex(text_pattern(60), 60, services.TEXT_MESSAGE, **optional),
        "payer_id": _regex(
            f"^{services.PAYER_ID.pattern}$",
            80,
            services.PAYER_ID_MESSAGE,
            help_text="e.g. 01112",
            **optional,
        ),
        "kind": EnumField(PayerKind.choices, enum_name="PayerKindEnum", **optional),
    }


PayerInputSerializer = extend_schema_serializer(component_name="PayerInput")(
    type("PayerInputSerializer", (StrictSerializer,), _payer_fields(partial=False))
)
PayerChangeSerializer = extend_schema_serializer(component_name="PayerChange")(
    type(
        "PayerChangeSerializer",
        (StrictSerializer,),
        {
            **_payer_fields(partial=True),
            "is_active": serializers.BooleanField(
                required=False,
                help_text="False: kept on past coverage and claims, not chosen again.",
            ),
        },
    )
)


class PayerListApi(ApiView):
    """The practice's payers (active first, by name); admins add one."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.EDIT_BILLING_SETTINGS
    PageSerializer = page_of(PayerSerializer, "PayerPage")

    @extend_schema(
        operation_id="billing_payers_list",
        summary="The practice's payers",
        parameters=PAGE_PARAMETERS,
        responses={200: PageSerializer, **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        paginator, page = paginate(self, selectors.payer_list(practice=self.practice))
        return paginator.get_paginated_response(PayerSerializer(page, many=True).data)

    @extend_schema(
        operation_id="billing_payers_create",
        summary="Add a payer (admins)",
        description="The payer id is unique per practice and kind (400 otherwise).",
        request=PayerInputSerializer,
        responses={201: PayerSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request) -> Response:
        data = validated(PayerInputSerializer, request.data)
        payer = services.payer_create(practice=self.practice, actor=self.membership, **data)
        return Response(PayerSerializer(payer).data, status=201)


def _lock_settings(practice: Practice, _payer: Any) -> None:
    settings_lock(practice=practice)  # what payer_update locks first


class PayerDetailApi(ApiView):
    """One payer; admins change its name, payer id, kind or active flag (never deleted)."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.EDIT_BILLING_SETTINGS
    version_lock = RowLock(Payer, "payer_id", first=_lock_settings)

    @extend_schema(
        operation_id="billing_payers_retrieve",
        summary="One payer",
        responses={200: PayerSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, payer_id: Any) -> Response:
        payer = get_for_practice_or_404(Payer, self.practice, payer_id)
        return Response(PayerSerializer(payer).data)

    @extend_schema(
        operation_id="billing_payers_partial_update",
        summary="Change a payer (admins)",
        description="Fields left out keep their value. A payer's kind stays once coverage or "
        "claims use it; the setup's Medicare payer stays an active Medicare contractor (400).",
        request=PayerChangeSerializer,
        responses={200: PayerSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request: Request, payer_id: Any) -> Response:
        payer = get_for_practice_or_404(Payer, self.practice, payer_id)
        data = validated(PayerChangeSerializer, request.data)
        services.payer_update(practice=self.practice, actor=self.membership, payer=payer, data=data)
        return self.get(request, payer_id)


# --- Usual charges -----------------------------------------------------------------------------


@extend_schema_serializer(component_name="UsualCharge")
class UsualChargeSerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    fee_amount = serializers.DecimalField(
        max_digits=8, decimal_places=2, help_text="The practice's fee schedule amount."
    )
    amount = serializers.DecimalField(
        max_digits=8,
        decimal_places=2,
        allow_null=True,
        help_text="The usual charge; null: the fee schedule amount is charged.",
    )
    effective_amount = serializers.DecimalField(
        max_digits=8, decimal_places=2, help_text="What a claim charges (837P SV102)."
    )


def _charge_field(code: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=8,
        decimal_places=2,
        min_value=services.CENT,
        required=False,
        allow_null=True,
        error_messages={"min_value": services.CHARGE_MESSAGE},
        help_text=f"USD above 0.00; null or left out: the fee schedule amount of {code}.",
    )


UsualChargesInputSerializer = extend_schema_serializer(component_name="UsualChargesInput")(
    type(
        "UsualChargesInputSerializer",
        (StrictSerializer,),
        {code: _charge_field(code) for code in FEE_CODE_NAMES},
    )
)


class UsualChargesApi(ApiView):
    """The practice's usual charge per billed code, beside its fee schedule amount."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.EDIT_BILLING_SETTINGS
    version_lock = RowLock(Practice)
    PageSerializer = page_of(UsualChargeSerializer, "UsualChargePage")

    def _answer(self) -> Response:
        rows = selectors.usual_charge_list(practice=self.practice)
        body = {"count": len(rows), "next": None, "previous": None, "results": rows}
        return Response(self.PageSerializer(body).data)

    @extend_schema(
        operation_id="billing_usual_charges_retrieve",
        summary="Usual charges: fee schedule amount, usual charge and charged amount per code",
        description="Every code the practice bills, in table order (one page).",
        responses={200: PageSerializer, **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        return self._answer()

    @extend_schema(
        operation_id="billing_usual_charges_update",
        summary="Replace the practice's usual charges (admins)",
        description="An object of code → amount. Codes left out or null charge the fee "
        "schedule amount. Any invalid amount or unknown code: 400 and nothing is saved.",
        request=UsualChargesInputSerializer,
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def put(self, request: Request) -> Response:
        amounts = validated(UsualChargesInputSerializer, request.data)
        services.usual_charges_update(
            practice=self.practice, actor=self.membership, amounts=amounts
        )
        return self._answer()


# --- APCM attestations (R39) -----------------------------------------------------------------


def _element() -> EnumField:
    return EnumField(ApcmElement.choices, enum_name="ApcmElementEnum")


class ApcmPracticeAttestationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    elements = serializers.ListField(child=_element())
    attested_on = serializers.DateField(help_text="In the practice's time zone.")
    recorded_by = serializers.UUIDField(source="recorded_by_id")
    recorded_at = serializers.DateTimeField()
    withdrawn_on = serializers.DateField(
        allow_null=True, help_text="The first day it no longer holds; null: in force."
    )
    withdrawn_by = serializers.UUIDField(source="withdrawn_by_id", allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)


class ApcmPractitionerAttestationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    practitioner = serializers.UUIDField(source="practitioner_id", help_text="A membership id.")
    statement = serializers.CharField()
    attested_on = serializers.DateField(help_text="In the practice's time zone.")
    recorded_by = serializers.UUIDField(source="recorded_by_id")
    recorded_at = serializers.DateTimeField()
    withdrawn_on = serializers.DateField(
        allow_null=True, help_text="The first day it no longer holds; null: in force."
    )
    withdrawn_by = serializers.UUIDField(source="withdrawn_by_id", allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)


ATTESTED_ON_HELP = "Default: today in the practice's time zone; not in a future month."


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": list(APCM_ELEMENTS)},
        "minItems": len(APCM_ELEMENTS),
        "maxItems": len(APCM_ELEMENTS),
        "uniqueItems": True,
        "description": "Every APCM service element, each once (400 when one is missing).",
    }
)
class AllElementsField(serializers.ListField):
    """The practice affirms every APCM service element: the schema says so (all of them,
    each once); the service refuses anything else with its message."""


@extend_schema_serializer(component_name="ApcmPracticeAttestationInput")
class ApcmPracticeAttestationInputSerializer(StrictSerializer):
    elements = AllElementsField(child=_element())
    attested_on = serializers.DateField(required=False, help_text=ATTESTED_ON_HELP)


@extend_schema_serializer(component_name="ApcmPractitionerAttestationInput")
class ApcmPractitionerAttestationInputSerializer(StrictSerializer):
    practitioner_id = serializers.UUIDField(
        help_text="The membership of an active physician with an NPI (404: not a member)."
    )
    attested_on = serializers.DateField(required=False, help_text=ATTESTED_ON_HELP)


@extend_schema_serializer(component_name="ApcmWithdrawInput")
class ApcmWithdrawInputSerializer(StrictSerializer):
    withdrawn_on = serializers.DateField(
        required=False,
        help_text="The first day it no longer holds (default today in the practice's zone).",
    )


class ApcmPracticeAttestationListApi(ApiView):
    """The practice's APCM attestations (R39), newest first; admins record one."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.ATTEST_APCM
    PageSerializer = page_of(ApcmPracticeAttestationSerializer, "ApcmPracticeAttestationPage")

    @extend_schema(
        operation_id="billing_apcm_practice_attestations_list",
        summary="The practice's APCM attestations (history)",
        parameters=PAGE_PARAMETERS,
        responses={200: PageSerializer, **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        paginator, page = paginate(self, apcm.practice_attestations(self.practice))
        data = ApcmPracticeAttestationSerializer(page, many=True).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="billing_apcm_practice_attestations_create",
        summary="Record the practice's APCM attestation (admins)",
        description="Every service element must be affirmed; one attestation is in force at "
        "a time (400 otherwise: withdraw it first).",
        request=ApcmPracticeAttestationInputSerializer,
        responses={201: ApcmPracticeAttestationSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request) -> Response:
        data = validated(ApcmPracticeAttestationInputSerializer, request.data)
        row = apcm_services.practice_attest(practice=self.practice, actor=self.membership, **data)
        return Response(ApcmPracticeAttestationSerializer(row).data, status=201)


class ApcmPractitionerAttestationListApi(ApiView):
    """The billing practitioners' APCM attestations (R39), newest first; admins record one."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.ATTEST_APCM
    PageSerializer = page_of(
        ApcmPractitionerAttestationSerializer, "ApcmPractitionerAttestationPage"
    )

    @extend_schema(
        operation_id="billing_apcm_practitioner_attestations_list",
        summary="The practitioners' APCM attestations (history)",
        parameters=PAGE_PARAMETERS,
        responses={200: PageSerializer, **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        paginator, page = paginate(self, apcm.practitioner_attestations(self.practice))
        data = ApcmPractitionerAttestationSerializer(page, many=True).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="billing_apcm_practitioner_attestations_create",
        summary="Record a billing practitioner's APCM attestation (admins)",
        description="The practitioner attests being responsible for all of the patient's "
        "primary care and the continuing focal point for all needed services. 400 for a "
        "member who cannot bill (no NPI) or one already in force; 404 for a non-member.",
        request=ApcmPractitionerAttestationInputSerializer,
        responses={
            201: ApcmPractitionerAttestationSerializer,
            **error_responses(400, 403, 404),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(ApcmPractitionerAttestationInputSerializer, request.data)
        row = apcm_services.practitioner_attest(
            practice=self.practice, actor=self.membership, **data
        )
        return Response(ApcmPractitionerAttestationSerializer(row).data, status=201)


class ApcmPracticeAttestationWithdrawApi(ApiView):
    """Admins withdraw the practice's APCM attestation from a date (the row stays)."""

    capability = Capability.ATTEST_APCM

    @extend_schema(
        operation_id="billing_apcm_practice_attestations_withdraw",
        summary="Withdraw the practice's APCM attestation (admins)",
        request=ApcmWithdrawInputSerializer,
        responses={200: ApcmPracticeAttestationSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, attestation_id: Any) -> Response:
        get_for_practice_or_404(ApcmPracticeAttestation, self.practice, attestation_id)  # 404 first
        data = validated(ApcmWithdrawInputSerializer, request.data)
        row = apcm_services.withdraw(
            practice=self.practice,
            actor=self.membership,
            kind=apcm.PRACTICE_KIND,
            attestation_id=attestation_id,
            **data,
        )
        return Response(ApcmPracticeAttestationSerializer(row).data)


class ApcmPractitionerAttestationWithdrawApi(ApiView):
    """Admins withdraw a practitioner's APCM attestation from a date (the row stays)."""

    capability = Capability.ATTEST_APCM

    @extend_schema(
        operation_id="billing_apcm_practitioner_attestations_withdraw",
        summary="Withdraw a practitioner's APCM attestation (admins)",
        request=ApcmWithdrawInputSerializer,
        responses={
            200: ApcmPractitionerAttestationSerializer,
            **error_responses(400, 403, 404),
        },
    )
    def post(self, request: Request, attestation_id: Any) -> Response:
        get_for_practice_or_404(
            ApcmPractitionerAttestation, self.practice, attestation_id
        )  # 404 first
        data = validated(ApcmWithdrawInputSerializer, request.data)
        row = apcm_services.withdraw(
            practice=self.practice,
            actor=self.membership,
            kind=apcm.PRACTITIONER_KIND,
            attestation_id=attestation_id,
            **data,
        )
        return Response(ApcmPractitionerAttestationSerializer(row).data)
