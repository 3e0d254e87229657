"""CCM eligibility of a patient, as the billing spec's rules say, with the rule ids.

The checks reuse the billing engine's own definitions (condition counting R4, the one-year
rule R8, the qualifying visit list R9) so there is one copy of each rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from billing.rules.codes import MIN_CHRONIC_CONDITIONS
from billing.rules.engine import condition_count, one_year_before
from billing.rules.types import DEFAULT_POLICY, Policy


@dataclass(frozen=True)
class Check:
    rule: str
    ok: bool
    sentence: str


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def eligible(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)


def evaluate(
    *,
    chronic_codes: Iterable[str],
    initiating_visit_on: dt.date | None,
    initiating_visit_code: str,
    consent_given_on: dt.date | None,
    policy: Policy = DEFAULT_POLICY,
) -> Verdict:
    """Eligibility for CCM enrollment: R4 (conditions), R8 (initiating visit), R9 (its code)."""
    return Verdict(
        (
            _r4(tuple(chronic_codes), policy),
            _r8(initiating_visit_on, consent_given_on, policy),
            _r9(initiating_visit_code, policy),
        )
    )


def _r4(codes: tuple[str, ...], policy: Policy) -> Check:
    count = condition_count(codes, policy.conditions_by_category)
    unit = "ICD-10-CM categories" if policy.conditions_by_category else "distinct codes"
    if count >= MIN_CHRONIC_CONDITIONS:
        return Check("R4", True, f"R4: {count} chronic conditions ({unit}); 2 are needed.")
    return Check(
        "R4",
        False,
        f"R4: {count} chronic condition{'s' if count != 1 else ''} ({unit}); "
        "CCM needs at least 2 expected to last 12 months or more.",
    )


def _r8(visit_on: dt.date | None, consent_on: dt.date | None, policy: Policy) -> Check:
    if visit_on is None:
        return Check(
            "R8",
            False,
            "R8: no initiating visit recorded; CCM starts after a face-to-face visit with the "
            "billing practitioner within the year before consent.",
        )
    if consent_on is not None:
        earliest = one_year_before(consent_on)
        too_old = visit_on < earliest if policy.visit_year_inclusive else visit_on <= earliest
        if too_old:
            return Check(
                "R8",
                False,
                f"R8: the initiating visit ({visit_on:%Y-%m-%d}) is more than a year before "
                f"consent ({consent_on:%Y-%m-%d}); a new face-to-face visit is needed.",
            )
    return Check("R8", True, f"R8: initiating visit on {visit_on:%Y-%m-%d}.")


def _r9(code: str, policy: Policy) -> Check:
    if not code:
        return Check("R9", True, "R9: no visit code recorded (not checked).")
    if code.upper() in policy.qualifying_visit_codes:
        return Check("R9", True, f"R9: {code} is a qualifying initiating visit.")
    return Check(
        "R9",
        False,
        f"R9: {code} does not qualify as an initiating visit (office/home E/M level 2-5, "
        "AWV, IPPE or TCM do).",
    )
