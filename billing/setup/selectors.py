"""Reads of the practice's billing setup and usual charges (practice-bound, no writes)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.fees.selectors import fee_schedule_list
from billing.models import BillingSetup, UsualCharge
from ccm.models import Membership, Practice
from ccm.roles import Capability, roles_with
from ccm.tenancy import TenantQuerySet
from patients.models import Payer, PayerKind


def billing_setup(practice: Practice) -> BillingSetup | None:
    """The practice's setup (None until an admin saves it: no 837 can be built then)."""
    return (
        BillingSetup.objects.for_practice(practice)
        .select_related("medicare_payer", "individual_practitioner__user")
        .first()
    )


def usual_charges(practice: Practice) -> dict[str, Decimal]:
    """The charge per code on a claim (837P SV102): the practice's usual charge, else the
    fee schedule amount (R26: the practice's amount, else the spec's reference amount)."""
    amounts = {row.code: row.effective_amount for row in fee_schedule_list(practice=practice)}
    rows = UsualCharge.objects.for_practice(practice).values_list("code", "amount")
    amounts.update({code: Decimal(amount) for code, amount in rows})
    return amounts


@dataclass(frozen=True)
class UsualChargeRow:
    """One billed code on the usual charges page: the fee schedule amount and the practice's
    usual charge (None: the fee schedule amount is charged)."""

    code: str
    description: str
    fee_amount: Decimal
    amount: Decimal | None

    @property
    def effective_amount(self) -> Decimal:
        return self.fee_amount if self.amount is None else self.amount


def usual_charge_list(*, practice: Practice) -> list[UsualChargeRow]:
    """Every billed code with its fee schedule amount and usual charge (two queries)."""
    rows = UsualCharge.objects.for_practice(practice).values_list("code", "amount")
    charges = {code: Decimal(amount) for code, amount in rows}
    return [
        UsualChargeRow(
            code=row.code,
            description=row.description,
            fee_amount=row.effective_amount,
            amount=charges.get(row.code),
        )
        for row in fee_schedule_list(practice=practice)
    ]


def payer_list(*, practice: Practice) -> TenantQuerySet[Payer]:
    """The practice's payers, active first, then by name (one query, no writes)."""
    return Payer.objects.for_practice(practice).order_by("-is_active", "name", "payer_id")


def medicare_payer_choices(*, practice: Practice) -> TenantQuerySet[Payer]:
    """The payers a setup may send Part B claims to: active, of the Medicare kind."""
    payers = Payer.objects.for_practice(practice).filter(is_active=True, kind=PayerKind.MEDICARE)
    return payers.order_by("name")


def practitioner_choices(*, practice: Practice) -> TenantQuerySet[Membership]:
    """The members who may be an individual billing provider: active physicians with an NPI."""
    members = Membership.objects.for_practice(practice).filter(
        is_active=True, role__in=roles_with(Capability.BILL_AS_PRACTITIONER)
    )
    return members.exclude(npi="").select_related("user").order_by("user__full_name")
