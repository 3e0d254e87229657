"""The patient's estimated monthly cost share for CCM, for the consent script (patients'
consent page asks patients.hooks.cost_share; billing/panels.py registers this): the Part B
coinsurance on the practice's amount (R26) for the code the patient usually reaches, and what
the month's coverage changes about it. An estimate to explain, never a bill."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

from billing.fees.selectors import fee_schedule_list
from billing.models import ClaimLine, ClaimStatus, CloseStatus, MonthClose
from billing.rules import codes
from ccm.formats import money
from ccm.models import Practice
from patients.hooks import CostShare
from patients.models import PAYS_COINSURANCE, PRIMARY_KINDS, Coverage, CoverageKind, Patient
from patients.selectors import coverage_in_force

COINSURANCE = Decimal("0.20")  # Part B pays 80% of the allowed amount for CCM
CENT = Decimal("0.01")
LOOKBACK = 6  # closed months whose claims show the code the patient usually reaches
DEFAULT_CODE = codes.TRACKS[0].base  # 99490: 20 minutes of clinical staff time
BASE_CODES = tuple(track.base for track in codes.TRACKS)  # in table order: ties go first

NO_COVERAGE = (
    "Record the patient's Medicare coverage first: the cost share depends on it, and the "
    "month does not bill without it."
)
PART_B = "The 20% Part B coinsurance on the practice's {amount} for {code}."
PAID_BY_SECONDARY = "Nothing to pay: {secondary} pays the 20% coinsurance."
ADVANTAGE = "An estimate: the Medicare Advantage plan's own cost sharing applies and may differ."
MSP = (
    "An estimate: the primary insurer pays first, and Medicare, as secondary payer, may pay "
    "what it leaves."
)
WHY_SECONDARY = {
    CoverageKind.QMB: (
        "As a Qualified Medicare Beneficiary the patient owes no Medicare deductible or "
        "coinsurance: Medicaid pays them, and the practice may not bill the patient for them."
    ),
    CoverageKind.MEDICAID: (
        "Medicaid pays the Medicare deductible and coinsurance for the patient."
    ),
    CoverageKind.MEDIGAP: "Medigap (Medicare supplement) plans pay the Part B coinsurance.",
}
PART_B_DEDUCTIBLE = (
    "The Part B deductible applies: until the patient has met this year's deductible, they "
    "may owe up to the full {amount} for a month."
)
MEDIGAP_DEDUCTIBLE = (
    "Most Medigap plans do not pay the Part B deductible: until it is met this year, the "
    "patient may owe up to {amount} for a month."
)
PLAN_DEDUCTIBLE = (
    "If the plan has a deductible the patient has not met this year, they may owe more, up "
    "to the full {amount}."
)


def usual_code(*, practice: Practice, patient: Patient) -> tuple[str, int]:
    """The base CCM code on most of the patient's claims of the practice's last LOOKBACK
    closed months, with how many claims carry it; (99490, 0) when there are none. Withdrawn
    claims do not count. One query, no writes."""
    months = (
        MonthClose.objects.for_practice(practice)
        .filter(status=CloseStatus.CLOSED)
        .order_by("-month")
        .values("month")[:LOOKBACK]
    )
    rows = (
        ClaimLine.objects.for_practice(practice)
        .filter(claim__patient=patient, claim__month__in=months, code__in=BASE_CODES)
        .exclude(claim__status=ClaimStatus.WITHDRAWN)
        .values_list("code", flat=True)
    )
    counts = Counter(rows)
    if not counts:
        return DEFAULT_CODE, 0
    code = max(BASE_CODES, key=lambda c: (counts[c], -BASE_CODES.index(c)))
    return code, counts[code]


def _basis(code: str, claims: int) -> str:
    if not claims:
        return (
            f"No CCM claims in the last {LOOKBACK} closed months: the estimate is for "
            f"{DEFAULT_CODE}, the first CCM code (20 minutes of care-team time)."
        )
    return (
        f"{code} is the code the patient usually reaches ({claims} of their claims in the "
        f"last {LOOKBACK} closed months)."
    )


def _plan(row: Coverage) -> str:
    if row.payer_id is not None and row.payer is not None:
        return row.payer.name
    return row.plan_name or row.get_kind_display()


def cost_share_estimate(*, practice: Practice, patient: Patient, month: dt.date) -> CostShare:
    """The patient's estimated CCM cost share a month under the coverage in force in `month`
    (three queries: the usual code, the fee schedule, the coverage; no writes)."""
    code, claims = usual_code(practice=practice, patient=patient)
    fees = {row.code: row.effective_amount for row in fee_schedule_list(practice=practice)}
    amount = fees[code]
    share = (amount * COINSURANCE).quantize(CENT, rounding=ROUND_HALF_UP)
    cover = coverage_in_force(practice=practice, patient_ids=[patient.pk], month=month)[patient.pk]
    primary, secondary = cover.primary, cover.secondary
    basis = _basis(code, claims)
    words = {"share": money(share), "amount": money(amount), "code": code}
    if primary is None or primary.kind not in PRIMARY_KINDS:
        missing = (f"No Medicare coverage is recorded for {month:%B %Y}.",)
        return CostShare(code, amount, None, NO_COVERAGE, missing)
    if secondary is not None and secondary.kind in PAYS_COINSURANCE:
        kind = CoverageKind(secondary.kind)
        why_paid = [WHY_SECONDARY[kind], basis]
        if kind == CoverageKind.MEDIGAP:
            why_paid.append(MEDIGAP_DEDUCTIBLE.format(**words))
        headline = PAID_BY_SECONDARY.format(secondary=_plan(secondary))
        return CostShare(code, amount, Decimal("0.00"), headline, tuple(why_paid))
    if primary.kind == CoverageKind.MEDICARE_ADVANTAGE:
        why = (
            f"{_plan(primary)} sets its own copay or coinsurance for this service; 20% of the "
            f"practice's {words['amount']} for {code} is shown as an estimate.",
            basis,
            PLAN_DEDUCTIBLE.format(**words),
        )
        return CostShare(code, amount, share, ADVANTAGE.format(**words), why)
    deductible = PART_B_DEDUCTIBLE.format(**words)
    if primary.kind == CoverageKind.OTHER_PRIMARY:
        why = (
            f"{_plan(primary)} is the primary insurer (Medicare secondary payer): what the "
            "patient owes depends on that plan and on what Medicare then pays; 20% of the "
            f"practice's {words['amount']} for {code} is shown as an estimate.",
            basis,
            deductible,
        )
        return CostShare(code, amount, share, MSP.format(**words), why)
    why_b = ["Medicare Part B pays 80% of the practice's amount; the patient owes the rest.", basis]
    if secondary is not None:  # other secondary insurance: it may pay some of it
        why_b.append(f"{_plan(secondary)} (secondary) may pay some or all of the coinsurance.")
    why_b.append(deductible)
    return CostShare(code, amount, share, PART_B.format(**words), tuple(why_b))
