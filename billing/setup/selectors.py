"""Reads of the practice's billing setup and usual charges (practice-bound, no writes)."""

from __future__ import annotations

from decimal import Decimal

from billing.fees.selectors import fee_schedule_list
from billing.models import BillingSetup, UsualCharge
from ccm.models import Practice


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
