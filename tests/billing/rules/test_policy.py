"""Every POLICY switch of the spec flips at least one outcome (defaults = the spec's)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from billing.rules import CarePlan, Consent, InitiatingVisit, Policy, evaluate
from billing.rules.codes import QUALIFYING_VISIT_CODES
from tests.billing.rules.builders import codes, doctor, entry, month_facts, patient, staff


def test_defaults_are_the_specs() -> None:
    policy = Policy()
    assert policy.conditions_by_category is True
    assert policy.count_minutes_on_consent_date is True
    assert policy.count_minutes_on_revocation_date is True
    assert policy.visit_year_inclusive is True
    assert "99211" not in policy.qualifying_visit_codes
    assert policy.count_minutes_before_care_plan is True
    assert policy.exclude_all_face_to_face is True
    assert policy.cap_99437 == 2
    assert policy.complex_requires_plan_change_in_month is False
    assert policy.cap_99489 == 10
    assert policy.oversight_blocks_any_practitioner is True
    assert policy.apcm_by_other_practitioner_blocks is True
    assert policy.other_care_management_blocks_apcm is True  # R39
    assert policy.oversight_blocks_apcm is True  # R40
    assert policy.cap_99425 == 2  # R44
    assert policy.cap_99427 == 2  # R44
    assert policy.apcm_by_other_practitioner_blocks_pcm is True  # R45
    assert policy.date_of_service_mode == "last_day_of_month"
    assert policy.place_of_service == "11"
    assert policy.simultaneous_minutes_once is True


def test_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Policy().cap_99437 = 3  # type: ignore[misc]


def test_r4_same_category_counts_once_unless_distinct_codes_are_chosen() -> None:
    facts = month_facts(staff(3, 30), patient=patient(chronic_conditions=("E11.9", "E11.65")))

    assert evaluate(facts).blocked_by == ("R4",)
    assert codes(evaluate(facts, Policy(conditions_by_category=False))) == [("99490", 1)]


def test_r5_minutes_on_the_consent_date_count_unless_switched_off() -> None:
    facts = month_facts(staff(10, 20), patient=patient(consent=Consent(date(2026, 3, 10))))

    assert codes(evaluate(facts)) == [("99490", 1)]
    strict = evaluate(facts, Policy(count_minutes_on_consent_date=False))
    assert strict.lines == ()
    assert set(strict.blocked_by) == {"R5", "R27"}


def test_r7_minutes_on_the_revocation_date_count_unless_switched_off() -> None:
    facts = month_facts(
        staff(14, 20),
        patient=patient(consent=Consent(date(2026, 2, 10), revoked_on=date(2026, 3, 14))),
    )

    assert codes(evaluate(facts)) == [("99490", 1)]
    strict = evaluate(facts, Policy(count_minutes_on_revocation_date=False))
    assert set(strict.blocked_by) == {"R7", "R27"}


def test_r8_a_visit_exactly_one_year_before_consent_is_in_time_unless_exclusive() -> None:
    facts = month_facts(
        staff(3, 25), patient=patient(initiating_visit=InitiatingVisit(date(2025, 2, 10)))
    )

    assert codes(evaluate(facts)) == [("99490", 1)]
    assert evaluate(facts, Policy(visit_year_inclusive=False)).blocked_by == ("R8",)


@pytest.mark.parametrize(
    ("visit_on", "billable"), [(date(2027, 2, 28), True), (date(2027, 2, 27), False)]
)
def test_r8_a_leap_day_consent_looks_back_to_february_28(visit_on: date, billable: bool) -> None:
    facts = month_facts(
        entry("2028-03-03T15:00", 25),
        month=dataclasses.replace(month_facts().month, year=2028),
        patient=patient(
            consent=Consent(date(2028, 2, 29)),
            initiating_visit=InitiatingVisit(visit_on),
        ),
    )

    assert evaluate(facts).billable is billable


def test_r9_the_qualifying_visit_list_is_configurable() -> None:
    facts = month_facts(
        staff(3, 30), patient=patient(initiating_visit=InitiatingVisit(date(2025, 11, 2), "99211"))
    )
    wider = Policy(qualifying_visit_codes=QUALIFYING_VISIT_CODES | {"99211"})

    assert evaluate(facts).blocked_by == ("R9",)
    assert codes(evaluate(facts, wider)) == [("99490", 1)]


def test_r11_minutes_before_the_plan_count_unless_switched_off() -> None:
    facts = month_facts(
        staff(5, 20), staff(20, 5), patient=patient(care_plan=CarePlan(date(2026, 3, 15)))
    )

    assert codes(evaluate(facts)) == [("99490", 1)]
    strict = evaluate(facts, Policy(count_minutes_before_care_plan=False))
    assert set(strict.blocked_by) == {"R11", "R27"}
    assert strict.next_threshold is not None
    assert strict.next_threshold.minutes_needed == 15


def test_r15_face_to_face_outside_a_billed_visit_counts_only_when_switched() -> None:
    outside = staff(3, 20, face_to_face=True, in_billed_visit=False)
    inside = staff(4, 20, face_to_face=True)
    lenient = Policy(exclude_all_face_to_face=False)

    assert evaluate(month_facts(outside)).blocked_by == ("R15", "R27")
    assert codes(evaluate(month_facts(outside), lenient)) == [("99490", 1)]
    assert evaluate(month_facts(inside), lenient).blocked_by == ("R15", "R27")


def test_r22_the_99437_cap_is_configurable() -> None:
    facts = month_facts(doctor(6, 50), doctor(13, 50), doctor(20, 50))  # 150 physician minutes

    assert codes(evaluate(facts)) == [("99491", 1), ("99437", 2)]
    # Priced so that the personal track still wins with one 99437 unit.
    one = evaluate(month_facts(*facts.time_entries, fees={"99437": "100.00"}), Policy(cap_99437=1))
    assert codes(one) == [("99491", 1), ("99437", 1)]
    assert one.blocked_by == ("R22",)


@pytest.mark.parametrize(
    ("name", "value"), [("cap_99437", 3), ("cap_99489", 11), ("cap_99437", -1)]
)
def test_r22_r24_caps_are_never_above_the_spec_limit(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a whole number from 0 to"):
        Policy(**{name: value})


@pytest.mark.parametrize("code", ["00", "1", "28", "AB", ""])
def test_r33_place_of_service_must_be_a_cms_code(code: str) -> None:
    with pytest.raises(ValueError, match="unknown place of service"):
        Policy(place_of_service=code)


def test_r23_plan_change_switch_moves_a_monitored_plan_off_complex() -> None:
    facts = month_facts(
        staff(3, 50),
        staff(17, 45),
        patient=patient(care_plan=CarePlan(date(2025, 6, 1)), mdm="high"),
    )

    assert codes(evaluate(facts)) == [("99487", 1), ("99489", 1)]
    strict = Policy(complex_requires_plan_change_in_month=True)
    assert codes(evaluate(facts, strict)) == [("99490", 1), ("99439", 2)]


def test_r23_plan_change_switch_accepts_a_revision_in_the_month() -> None:
    plan = CarePlan(date(2025, 6, 1), substantially_revised_on=date(2026, 3, 9))
    facts = month_facts(staff(3, 50), staff(17, 45), patient=patient(care_plan=plan, mdm="high"))

    strict = Policy(complex_requires_plan_change_in_month=True)
    assert codes(evaluate(facts, strict)) == [("99487", 1), ("99489", 1)]


def test_r24_the_99489_cap_is_configurable() -> None:
    facts = month_facts(staff(3, 75), staff(17, 75), patient=patient(mdm="moderate"))  # 150

    assert codes(evaluate(facts)) == [("99487", 1), ("99489", 3)]
    capped = evaluate(facts, Policy(cap_99489=1))
    assert codes(capped) == [("99487", 1), ("99489", 1)]
    assert capped.blocked_by == ("R24",)


def _blocks_unless_switched_off(rule: str, theirs: str, ours: str, switched_off: Policy) -> None:
    """Another practitioner's service `theirs` blocks the month under `rule` by default, not
    with the switch off; the billing practitioner's own `ours` blocks it either way."""
    elsewhere = month_facts(staff(3, 30), services=[(theirs, "P2")])
    same = month_facts(staff(3, 30), services=[(ours, "P1")])

    assert evaluate(elsewhere).blocked_by == (rule,)
    assert codes(evaluate(elsewhere, switched_off)) == [("99490", 1)]
    assert evaluate(same, switched_off).blocked_by == (rule,)


def test_r28_oversight_by_another_practitioner_blocks_unless_same_practitioner_only() -> None:
    narrow = Policy(oversight_blocks_any_practitioner=False)
    _blocks_unless_switched_off("R28", "G0181", "90966", narrow)


def test_r30_apcm_by_another_practitioner_blocks_unless_switched_off() -> None:
    lenient = Policy(apcm_by_other_practitioner_blocks=False)
    _blocks_unless_switched_off("R30", "G0556", "G0558", lenient)


def test_r32_threshold_date_mode_dates_the_claim_when_the_threshold_was_met() -> None:
    facts = month_facts(staff(4, 12), staff(18, 8), staff(25, 30))
    by_threshold = Policy(date_of_service_mode="threshold_date")

    assert evaluate(facts).date_of_service == date(2026, 3, 31)
    # 12 + 8 = 20 on March 18 meet 99490; + 30 = 50 on March 25 meet 99439's 40, the highest.
    result = evaluate(facts, by_threshold)
    assert codes(result) == [("99490", 1), ("99439", 1)]
    assert result.date_of_service == date(2026, 3, 25)


def test_r32_threshold_date_is_the_local_date_of_the_completing_entry() -> None:
    # 03:30 UTC on April 1 is 23:30 on March 31 in New York.
    facts = month_facts(staff(2, 10), entry("2026-04-01T03:30", 10))

    result = evaluate(facts, Policy(date_of_service_mode="threshold_date"))
    assert result.date_of_service == date(2026, 3, 31)


def test_r32_threshold_date_uses_only_the_physician_pool_for_99491() -> None:
    # The staff pool reaches 90 on March 9, the physician pool only on March 23.
    facts = month_facts(staff(2, 50), doctor(9, 45), doctor(23, 50))  # 99491 + 99437 x 2

    result = evaluate(facts, Policy(date_of_service_mode="threshold_date"))
    assert codes(result) == [("99491", 1), ("99437", 2)]
    assert result.date_of_service == date(2026, 3, 23)


def test_r33_place_of_service_comes_from_the_practice() -> None:
    facts = month_facts(staff(3, 20))

    assert evaluate(facts).place_of_service == "11"
    assert evaluate(facts, Policy(place_of_service="22")).place_of_service == "22"


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="cap_99489 must be a whole number from 0 to 10"):
        Policy(cap_99489=-1)
    with pytest.raises(ValueError, match="date_of_service_mode"):
        Policy(date_of_service_mode="whenever")  # type: ignore[arg-type]


def test_r37_off_sums_simultaneous_minutes_as_before() -> None:
    huddle = month_facts(staff(5, 15), entry("2026-03-05T15:05", 10))  # 10 inside the 15
    summed = Policy(simultaneous_minutes_once=False)

    assert evaluate(huddle).minutes.staff_pool == 15
    assert evaluate(huddle, summed).minutes.staff_pool == 25
    assert codes(evaluate(huddle, summed)) == [("99490", 1)]
    assert "R37" not in evaluate(huddle, summed).blocked_by
