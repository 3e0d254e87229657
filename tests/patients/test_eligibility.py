import datetime as dt

from billing.rules.types import Policy
from patients.eligibility import evaluate

VISIT = dt.date(2026, 3, 1)


def _verdict(codes=("E11.9", "I10"), visit=VISIT, code="99214", consent=dt.date(2026, 4, 1), **kw):
    return evaluate(
        chronic_codes=codes,
        initiating_visit_on=visit,
        initiating_visit_code=code,
        consent_given_on=consent,
        **kw,
    )


def test_two_chronic_conditions_and_a_recent_visit_are_eligible():
    verdict = _verdict()
    assert verdict.eligible
    assert [c.rule for c in verdict.checks] == ["R4", "R8", "R9"]


def test_two_codes_of_one_category_count_once_r4():
    verdict = _verdict(codes=("E11.9", "E11.65"))
    assert not verdict.eligible
    assert verdict.failures[0].rule == "R4"
    assert "R4: 1 chronic condition" in verdict.failures[0].sentence


def test_distinct_codes_policy_counts_codes_r4():
    assert _verdict(codes=("E11.9", "E11.65"), policy=Policy(conditions_by_category=False)).eligible


def test_missing_initiating_visit_fails_r8():
    assert [c.rule for c in _verdict(visit=None).failures] == ["R8"]


def test_visit_more_than_a_year_before_consent_fails_r8():
    verdict = _verdict(visit=dt.date(2025, 3, 31), consent=dt.date(2026, 4, 1))
    assert [c.rule for c in verdict.failures] == ["R8"]
    assert _verdict(visit=dt.date(2025, 4, 1), consent=dt.date(2026, 4, 1)).eligible  # inclusive


def test_non_qualifying_visit_code_fails_r9():
    verdict = _verdict(code="99211")
    assert [c.rule for c in verdict.failures] == ["R9"]
    assert "99211 does not qualify" in verdict.failures[0].sentence
