"""Reads of the practice's fee schedule (R26) and POLICY switches for the pages and the
API (practice-bound, no side effects)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.models import BillingPolicy, FeeSchedule
from billing.rules import codes
from ccm.models import Practice

# Every code a track bills (R19-R25), in table order (R35); a new track appears here itself.
_TRACK_CODES = {code for track in codes.TRACKS for code in (track.base, track.addon)}
FEE_CODES: tuple[codes.CodeRow, ...] = tuple(
    row for row in codes.CODE_TABLE if row.code in _TRACK_CODES
)
FEE_CODE_NAMES: tuple[str, ...] = tuple(row.code for row in FEE_CODES)

# BillingPolicy's POLICY fields, in model order (their verbose names cite the rule ids).
POLICY_FIELDS: tuple[str, ...] = tuple(
    f.name
    for f in BillingPolicy._meta.concrete_fields
    if f.name not in ("id", "practice", "updated_at")
)


@dataclass(frozen=True)
class FeeRow:
    """One code of the fee schedule page: the spec's amount, the practice's, the one used."""

    code: str
    description: str
    reference_amount: Decimal
    amount: Decimal | None  # None: the practice uses the reference amount

    @property
    def effective_amount(self) -> Decimal:
        return self.reference_amount if self.amount is None else self.amount


def _practice_amounts(practice: Practice) -> dict[str, Decimal]:
    rows = FeeSchedule.objects.for_practice(practice)
    return {code: Decimal(amount) for code, amount in rows.values_list("code", "amount")}


def fee_schedule_list(*, practice: Practice) -> list[FeeRow]:
    """Every billed code with its reference and practice amounts (one query, no writes)."""
    amounts = _practice_amounts(practice)
    return [
        FeeRow(
            code=row.code,
            description=row.description,
            reference_amount=row.reference_amount or Decimal("0.00"),
            amount=amounts.get(row.code),
        )
        for row in FEE_CODES
    ]


def policy_get(*, practice: Practice) -> BillingPolicy:
    """The practice's POLICY row, or an unsaved one holding the defaults (never creates)."""
    row = BillingPolicy.objects.for_practice(practice).first()
    return row if row is not None else BillingPolicy(practice=practice)


def policy_values(row: BillingPolicy) -> dict[str, Any]:
    return {name: getattr(row, name) for name in POLICY_FIELDS}
