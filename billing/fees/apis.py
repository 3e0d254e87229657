"""Fee schedule and POLICY API (/api/v1/billing/fee-schedule/, /api/v1/billing/policy/):
admins write (PUT replaces the practice's settings); billers and physicians read;
coordinators get 403. Rules live in billing.fees.services."""

from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing.fees import selectors, services
from billing.models import POS_MESSAGE, BillingPolicy
from billing.rules.codes import CAP_LIMITS, PLACE_OF_SERVICE_CODES
from ccm.api import ApiView, EnumField, RowLock, StrictSerializer, error_responses, page_of
from ccm.models import Practice
from ccm.roles import Capability

CLOSED_MONTHS_NOTE = (
    " Closed months are not affected (their claims are stored); after a change the worklist "
    "progress of this month and last month is recomputed in the background."
)


def _validated(serializer: serializers.Serializer) -> dict[str, Any]:
    """Validate, refusing unknown keys; errors in the contract's shape (400, nothing saved)."""
    # Unknown keys: StrictSerializer refuses them (and the schema says so).
    if not serializer.is_valid():
        errors = dict(serializer.errors)
        if "non_field_errors" in errors:
            errors["detail"] = " ".join(str(e) for e in errors.pop("non_field_errors"))
        raise serializers.ValidationError(errors)
    return dict(serializer.validated_data)


# --- Fee schedule ------------------------------------------------------------------------------


@extend_schema_serializer(component_name="FeeScheduleEntry")
class FeeEntrySerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    reference_amount = serializers.DecimalField(
        max_digits=8, decimal_places=2, help_text="The billing spec's amount (R26)."
    )
    amount = serializers.DecimalField(
        max_digits=8,
        decimal_places=2,
        allow_null=True,
        help_text="The practice's amount; null: the reference amount is used.",
    )
    effective_amount = serializers.DecimalField(
        max_digits=8, decimal_places=2, help_text="The amount the engine prices with."
    )


def _amount_field(code: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=8,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text=f"USD, at most two decimals; null or left out: the reference amount of {code}.",
    )


FeeScheduleInputSerializer = extend_schema_serializer(component_name="FeeScheduleInput")(
    type(
        "FeeScheduleInputSerializer",
        (StrictSerializer,),
        {code: _amount_field(code) for code in selectors.FEE_CODE_NAMES},
    )
)


class FeeScheduleApi(ApiView):
    """The practice's amount per billed code next to the spec's reference amount."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.EDIT_BILLING_SETTINGS
    version_lock = RowLock(Practice)
    PageSerializer = page_of(FeeEntrySerializer, "FeeSchedulePage")

    def _answer(self) -> Response:
        rows = selectors.fee_schedule_list(practice=self.practice)
        body = {"count": len(rows), "next": None, "previous": None, "results": rows}
        return Response(self.PageSerializer(body).data)

    @extend_schema(
        operation_id="billing_fee_schedule_retrieve",
        summary="Fee schedule: reference, practice and effective amount per code",
        description="Every code the billing engine bills, in table order (one page)."
        + CLOSED_MONTHS_NOTE,
        responses={200: PageSerializer, **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        return self._answer()

    @extend_schema(
        operation_id="billing_fee_schedule_update",
        summary="Replace the practice's amounts (admins)",
        description="An object of code → amount. Codes left out or null use the reference "
        "amount. Any invalid amount or unknown code: 400 and nothing is saved."
        + CLOSED_MONTHS_NOTE,
        request=FeeScheduleInputSerializer,
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def put(self, request: Request) -> Response:
        amounts = _validated(FeeScheduleInputSerializer(data=request.data))
        services.fee_schedule_update(practice=self.practice, actor=self.membership, amounts=amounts)
        return self._answer()


# --- POLICY ------------------------------------------------------------------------------------


def _policy_field(name: str, *, required: bool) -> serializers.Field:
    model_field = services.policy_field(name)
    common: dict[str, Any] = {"help_text": str(model_field.verbose_name), "required": required}
    if name == "date_of_service_mode":
        return EnumField(
            BillingPolicy.DateOfService.choices, enum_name="BillingDateOfServiceEnum", **common
        )
    if name == "place_of_service":  # R33: the CMS place-of-service code set
        return serializers.ChoiceField(
            choices=list(PLACE_OF_SERVICE_CODES),
            error_messages={"invalid_choice": POS_MESSAGE},
            **common,
        )
    if isinstance(model_field, models.PositiveSmallIntegerField):  # R22, R24: the spec's caps
        return serializers.IntegerField(min_value=0, max_value=CAP_LIMITS[name], **common)
    return serializers.BooleanField(**common)


def _policy_serializer(
    name: str, component: str, base: type = serializers.Serializer, **extra: Any
) -> Any:
    fields = {n: _policy_field(n, required=True) for n in selectors.POLICY_FIELDS}
    body = type(name, (base,), {**fields, **extra})
    return extend_schema_serializer(component_name=component)(body)


PolicyValuesSerializer = _policy_serializer("PolicyValuesSerializer", "BillingPolicyValues")
PolicyInputSerializer = _policy_serializer(
    "PolicyInputSerializer", "BillingPolicyInput", base=StrictSerializer
)
PolicySerializer = _policy_serializer(
    "PolicySerializer",
    "BillingPolicy",
    uses_defaults=serializers.BooleanField(help_text="True: the practice has no own settings."),
    defaults=PolicyValuesSerializer(help_text="The billing spec's defaults."),
)


class BillingPolicyApi(ApiView):
    """The practice's choices at the spec's POLICY points, with the spec's defaults."""

    capability = Capability.VIEW_BILLING
    write_capability = Capability.EDIT_BILLING_SETTINGS
    version_lock = RowLock(Practice)

    def _answer(self) -> Response:
        row = selectors.policy_get(practice=self.practice)
        body = {
            **selectors.policy_values(row),
            "uses_defaults": row._state.adding,
            "defaults": services.policy_defaults(),
        }
        return Response(PolicySerializer(body).data)

    @extend_schema(
        operation_id="billing_policy_retrieve",
        summary="The practice's POLICY settings and the spec's defaults",
        description="A practice that never changed them uses the defaults." + CLOSED_MONTHS_NOTE,
        responses={200: PolicySerializer, **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        return self._answer()

    @extend_schema(
        operation_id="billing_policy_update",
        summary="Replace the practice's POLICY settings (admins; every field required)",
        description="Any invalid or unknown field: 400 and nothing is saved." + CLOSED_MONTHS_NOTE,
        request=PolicyInputSerializer,
        responses={200: PolicySerializer, **error_responses(400, 403)},
    )
    def put(self, request: Request) -> Response:
        data = _validated(PolicyInputSerializer(data=request.data))
        services.policy_update(practice=self.practice, actor=self.membership, data=data)
        return self._answer()
