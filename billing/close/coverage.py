"""Coverage, a gate outside the engine's rules: a patient-month bills only with Medicare
coverage in force in the month (Part B, a Medicare Advantage plan, or another primary insurer
with Medicare secondary), and its claim is stamped with who pays. billing.rules stays as the
spec has it; the close, the re-close, the pre-close check and the chart apply this on top."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from typing import Any, NamedTuple

from django.db.models import Q

from billing import rules
from billing.inputs.loading import between
from ccm.models import Practice
from patients.models import PRIMARY_KINDS, Coverage, CoverageKind, CoveragePriority
from patients.selectors import CoverageInForce

# The Outcome's blocked_by entry (beside the engine's rule ids) and the pre-close group key.
COVERAGE = "coverage"
NO_COVERAGE_MESSAGE = (
    "No Medicare coverage in force in {month}: record the patient's Part B, Medicare "
    "Advantage or Medicare-secondary coverage."
)
# 837P SBR01 of the claim's destination: Medicare pays first (P), or second to another (S).
PRIMARY, SECONDARY = "P", "S"


class Stamp(NamedTuple):
    """What the close reads of a coverage row: the gate's kind, and the claim's stamps."""

    pk: Any
    kind: str
    payer_id: Any


class InForce(NamedTuple):
    """`CoverageInForce` as the month close loads it (`batch_coverage`): plain rows."""

    primary: Stamp | None
    secondary: Stamp | None


Cover = CoverageInForce | InForce
NO_COVER = InForce(None, None)


def batch_coverage(practice: Practice, span: tuple[Any, Any], month: dt.date) -> dict[Any, InForce]:
    """`patients.selectors.coverage_in_force` for a batch of the month close, by its id range
    (first, last): the same rows in force (overlapping the month; of two of a priority the
    later start, then the later created, wins), read as plain tuples (no model instance, no
    timestamp parsed). Patients without coverage are absent: `get(pk, NO_COVER)`."""
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    rows = (
        Coverage.objects.for_practice(practice)
        .filter(**between(span), starts_on__lte=last)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=first))
        .order_by("patient_id", "starts_on", "created_at")
        .values_list("patient_id", "priority", "pk", "kind", "payer_id")
    )
    found: dict[Any, dict[str, Stamp]] = {}
    for patient_id, priority, pk, kind, payer_id in rows:
        # Later starts overwrite earlier ones, as in coverage_in_force.
        found.setdefault(patient_id, {})[priority] = Stamp(pk, kind, payer_id)
    return {
        pk: InForce(by.get(CoveragePriority.PRIMARY), by.get(CoveragePriority.SECONDARY))
        for pk, by in found.items()
    }


def billable_primary(cover: Cover) -> bool:
    """Medicare (or an MA plan) is a payer of the month: the primary row in force is Part B,
    Medicare Advantage or another insurer with Medicare secondary (MSP)."""
    return cover.primary is not None and cover.primary.kind in PRIMARY_KINDS


def gate(result: rules.Result, cover: Cover, month: dt.date) -> rules.Result:
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


def claim_stamps(cover: Cover) -> dict[str, Any]:
    """Who a new (or corrected) claim goes to, from the month's coverage, as the claim's
    columns: the primary and secondary rows; the MA plan as payer (Part B and MSP claims go to
    the practice's Medicare contractor, payer None); SBR01 S for MSP, whose primary insurer
    the 837P names in 2320."""
    primary, secondary = cover.primary, cover.secondary
    kind = primary.kind if primary is not None else None
    advantage = primary is not None and kind == CoverageKind.MEDICARE_ADVANTAGE
    return {
        "coverage_id": primary.pk if primary is not None else None,
        "secondary_coverage_id": secondary.pk if secondary is not None else None,
        "payer_id": primary.payer_id if advantage and primary is not None else None,
        "payer_responsibility": SECONDARY if kind == CoverageKind.OTHER_PRIMARY else PRIMARY,
    }


# The stamps' columns, compared and rewritten when a confirmed re-close corrects a claim.
STAMP_FIELDS = ("coverage_id", "secondary_coverage_id", "payer_id", "payer_responsibility")
