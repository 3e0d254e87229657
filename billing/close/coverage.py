"""Coverage, a gate outside the engine's rules: a patient-month bills only with Medicare
coverage in force in the month (Part B, a Medicare Advantage plan, or another primary insurer
with Medicare secondary), and its claim is stamped with who pays. billing.rules stays as the
spec has it; the close, the re-close, the pre-close check and the chart apply this on top."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from billing import rules
from patients.models import PRIMARY_KINDS, CoverageKind
from patients.selectors import CoverageInForce

# The Outcome's blocked_by entry (beside the engine's rule ids) and the pre-close group key.
COVERAGE = "coverage"
NO_COVERAGE_MESSAGE = (
    "No Medicare coverage in force in {month}: record the patient's Part B, Medicare "
    "Advantage or Medicare-secondary coverage."
)
# 837P SBR01 of the claim's destination: Medicare pays first (P), or second to another (S).
PRIMARY, SECONDARY = "P", "S"


def billable_primary(cover: CoverageInForce) -> bool:
    """Medicare (or an MA plan) is a payer of the month: the primary row in force is Part B,
    Medicare Advantage or another insurer with Medicare secondary (MSP)."""
    return cover.primary is not None and cover.primary.kind in PRIMARY_KINDS


def gate(result: rules.Result, cover: CoverageInForce, month: dt.date) -> rules.Result:
    """The engine's result, or without billable coverage the same minutes not billable:
    no lines, `coverage` added to blocked_by with its reason, and no next threshold (as for
    the engine's own gates, no number of minutes makes the month bill)."""
    if billable_primary(cover):
        return result
    return dataclasses.replace(
        result,
        lines=(),
        blocked_by=(*result.blocked_by, COVERAGE),
        reasons=(*result.reasons, NO_COVERAGE_MESSAGE.format(month=f"{month:%B %Y}")),
        next_threshold=None,
        date_of_service=None,
        place_of_service=None,
        diagnosis_pointers=(),
    )


def claim_stamps(cover: CoverageInForce) -> dict[str, Any]:
    """Who a new (or corrected) claim goes to, from the month's coverage: the primary and
    secondary rows; the MA plan as payer (Part B and MSP claims go to the practice's Medicare
    contractor, payer None); SBR01 S for MSP, whose primary insurer the 837P names in 2320."""
    primary = cover.primary
    kind = primary.kind if primary is not None else None
    return {
        "coverage": primary,
        "secondary_coverage": cover.secondary,
        "payer": primary.payer if primary and kind == CoverageKind.MEDICARE_ADVANTAGE else None,
        "payer_responsibility": SECONDARY if kind == CoverageKind.OTHER_PRIMARY else PRIMARY,
    }


# The stamps' columns, compared and rewritten when a confirmed re-close corrects a claim.
STAMP_FIELDS = ("coverage_id", "secondary_coverage_id", "payer_id", "payer_responsibility")
