"""Part II (R38-R46): PCM and APCM months, the edges beyond the worked cases. No database."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import Any

import pytest

from billing.rules import CarePlan, Consent, InitiatingVisit, Policy, evaluate
from billing.rules.codes import APCM_BUNDLED_FAMILIES
from billing.rules.progress import progress
from tests.billing.rules.builders import codes, doctor, month_facts, patient, staff

APCM_FEES = {"G0556": "15.20", "G0557": "48.84", "G0558": "107.07"}
PCM_FEES = {"99424": "87.51", "99425": "61.46", "99426": "60.00", "99427": "45.42"}


def apcm(*entries: Any, **changes: Any) -> Any:
    """An attested, eligible APCM month (as P01): two conditions, visit two years back."""
    base_patient = patient(initiating_visit=InitiatingVisit(date(2024, 3, 1)))
    changes.setdefault("patient", base_patient)
    changes.setdefault("fees", APCM_FEES)
    return month_facts(*entries, program="apcm", apcm_attested=True, **changes)


def apcm_patient(**changes: Any) -> Any:
    return dataclasses.replace(
        patient(initiating_visit=InitiatingVisit(date(2024, 3, 1))), **changes
    )


def pcm(*entries: Any, **changes: Any) -> Any:
    """An eligible PCM month (as P09) for E11.9."""
    changes.setdefault("patient", patient(pcm_condition="E11.9"))
    changes.setdefault("fees", PCM_FEES)
    return month_facts(*entries, program="pcm", **changes)


# --- R38: one program per month ---


def test_r38_a_month_is_ccm_unless_it_says_otherwise() -> None:
    assert codes(evaluate(month_facts(staff(3, 20)))) == [("99490", 1)]


def test_r38_a_pcm_month_never_bills_ccm_codes() -> None:
    # 60 staff minutes would be 99490 + 99439 under CCM; PCM bills its own codes only.
    result = evaluate(pcm(staff(3, 60)))

    assert codes(result) == [("99426", 1), ("99427", 1)]


def test_r38_an_apcm_month_never_bills_minutes() -> None:
    result = evaluate(apcm(staff(3, 60), doctor(4, 40)))

    assert codes(result) == [("G0557", 1)]
    assert result.lines[0].minutes == 0


def test_r38_the_program_must_be_known() -> None:
    with pytest.raises(ValueError, match="unknown program"):
        month_facts(program="rpm")


# --- R39: who may bill APCM ---


def test_r39_without_the_attestation_nothing_is_billable() -> None:
    result = evaluate(dataclasses.replace(apcm(), apcm_attested=False))

    assert result.lines == ()
    assert result.blocked_by == ("R39",)
    assert "attestation" in result.reasons[0]


@pytest.mark.parametrize("code", ["G0556", "G0557", "G0558", "G0568", "G0569", "G0570"])
def test_r39_apcm_by_another_practitioner_blocks(code: str) -> None:
    result = evaluate(apcm(services=[(code, "P2")]))

    assert result.blocked_by == ("R39",)
    assert code in result.reasons[0]


def test_r39_the_billing_practitioners_own_apcm_codes_are_ignored() -> None:
    # As R3: our own G0557 in other_services is this engine's earlier output.
    result = evaluate(apcm(services=[("G0557", "P1"), ("G0556", "P1")]))

    assert codes(result) == [("G0557", 1)]


@pytest.mark.parametrize("code", ["99490", "99487", "99424", "99427"])
def test_r39_ccm_or_pcm_by_another_practitioner_blocks_unless_switched_off(code: str) -> None:
    facts = apcm(services=[(code, "P2")])

    assert evaluate(facts).blocked_by == ("R39",)
    lenient = Policy(other_care_management_blocks_apcm=False)
    assert codes(evaluate(facts, lenient)) == [("G0557", 1)]


def test_r39_ccm_billed_elsewhere_blocks_unless_switched_off() -> None:
    facts = apcm(ccm_billed_elsewhere=True)

    assert evaluate(facts).blocked_by == ("R39",)
    lenient = Policy(other_care_management_blocks_apcm=False)
    assert codes(evaluate(facts, lenient)) == [("G0557", 1)]


# --- R40: consent, initiating visit, care plan (reported under their own ids) ---


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"consent": Consent(None)}, "R5"),
        ({"consent": Consent(date(2026, 4, 2))}, "R5"),
        ({"consent": Consent(date(2025, 6, 1), revoked_on=date(2026, 2, 20))}, "R7"),
        ({"initiating_visit": InitiatingVisit(None)}, "R8"),
        ({"initiating_visit": InitiatingVisit(date(2024, 3, 1), "99211")}, "R9"),
        ({"care_plan": CarePlan(None)}, "R11"),
        ({"care_plan": CarePlan(date(2026, 2, 12), shared_with_patient=False)}, "R11"),
    ],
)
def test_r40_each_ccm_gate_applies_to_apcm_under_its_own_id(
    changes: dict[str, Any], rule: str
) -> None:
    result = evaluate(apcm(patient=apcm_patient(**changes)))

    assert result.lines == ()
    assert result.blocked_by == (rule,)
    assert "R40" not in result.blocked_by


def test_r40_the_apcm_consent_is_named_as_such() -> None:
    result = evaluate(apcm(patient=apcm_patient(consent=Consent(None))))

    assert result.reasons == ("R5: no APCM consent is on file.",)


def test_r40_a_visit_exactly_three_years_before_consent_is_in_time() -> None:
    # Consent 2026-02-10: 2023-02-10 is in time (R8 POLICY, inclusive), the day before is not.
    in_time = apcm(patient=apcm_patient(initiating_visit=InitiatingVisit(date(2023, 2, 10))))
    too_old = apcm(patient=apcm_patient(initiating_visit=InitiatingVisit(date(2023, 2, 9))))

    assert codes(evaluate(in_time)) == [("G0557", 1)]
    assert evaluate(too_old).blocked_by == ("R8",)
    assert "more than three years" in evaluate(too_old).reasons[0]
    assert evaluate(in_time, Policy(visit_year_inclusive=False)).blocked_by == ("R8",)


def test_r40_ccm_keeps_its_one_year_look_back() -> None:
    facts = month_facts(staff(3, 20), patient=apcm_patient())  # visit two years back

    assert evaluate(facts).blocked_by == ("R8",)


def test_r40_oversight_blocks_apcm_unless_switched_off() -> None:
    facts = apcm(services=[("G0181", "P2")])

    assert evaluate(facts).blocked_by == ("R28",)
    assert codes(evaluate(facts, Policy(oversight_blocks_apcm=False))) == [("G0557", 1)]


def test_r40_oversight_by_another_practitioner_follows_r28s_own_policy() -> None:
    facts = apcm(services=[("90960", "P2")])

    same_only = Policy(oversight_blocks_any_practitioner=False)
    assert codes(evaluate(facts, same_only)) == [("G0557", 1)]


def test_apcm_gates_are_all_collected() -> None:
    facts = dataclasses.replace(
        apcm(services=[("99495", "P1")], patient=apcm_patient(consent=Consent(None))),
        apcm_attested=False,
    )

    assert evaluate(facts).blocked_by == ("R5", "R39", "R42")


# --- R41: APCM level ---


def test_r41_zero_conditions_block_with_r41_only() -> None:
    # No condition: no diagnosis for the claim. R11 is not evaluated without a condition.
    facts = apcm(patient=apcm_patient(chronic_conditions=(), care_plan=CarePlan(None)))

    result = evaluate(facts)

    assert result.lines == ()
    assert result.blocked_by == ("R41",)
    assert result.next_threshold is None


def test_r41_zero_conditions_with_a_plan_also_block() -> None:
    assert evaluate(apcm(patient=apcm_patient(chronic_conditions=()))).blocked_by == ("R41",)


def test_r41_conditions_are_counted_as_r4_does() -> None:
    facts = apcm(patient=apcm_patient(chronic_conditions=("E11.9", "E11.65")))

    assert codes(evaluate(facts)) == [("G0556", 1)]  # one category
    assert codes(evaluate(facts, Policy(conditions_by_category=False))) == [("G0557", 1)]


def test_r41_qmb_with_one_condition_is_still_g0556() -> None:
    facts = apcm(patient=apcm_patient(chronic_conditions=("I10",), qmb=True))

    assert codes(evaluate(facts)) == [("G0556", 1)]


def test_r41_qmb_with_two_conditions_is_g0558() -> None:
    assert codes(evaluate(apcm(patient=apcm_patient(qmb=True)))) == [("G0558", 1)]


def test_r41_time_entries_are_not_evaluated() -> None:
    # Another practitioner's and face-to-face minutes would be R14 and R15 under CCM.
    facts = apcm(staff(3, 30, practitioner="P2"), staff(4, 5, face_to_face=True))

    result = evaluate(facts)

    assert codes(result) == [("G0557", 1)]
    assert result.blocked_by == ()
    assert result.minutes.staff_pool == 0
    assert result.next_threshold is None


def test_r41_the_date_of_service_is_the_last_day_in_every_mode() -> None:
    result = evaluate(apcm(), Policy(date_of_service_mode="threshold_date"))

    assert result.date_of_service == date(2026, 3, 31)
    assert result.place_of_service == "11"
    assert result.diagnosis_pointers == ("E11.9", "I10")


def test_r41_the_fee_schedule_prices_the_line() -> None:
    result = evaluate(apcm(fees={"G0557": "50.00"}))

    assert str(result.total) == "50.00"


# --- R42: APCM bundles other care management by the same practitioner ---

# Sorted: a frozenset's order differs between processes, and xdist workers must agree.
BUNDLED = [
    (family, code) for family, codes_ in APCM_BUNDLED_FAMILIES.items() for code in sorted(codes_)
]


@pytest.mark.parametrize(("family", "code"), BUNDLED, ids=[code for _f, code in BUNDLED])
def test_r42_each_bundled_code_by_the_same_practitioner_blocks(family: str, code: str) -> None:
    result = evaluate(apcm(services=[(code, "P1")]))

    assert result.lines == ()
    assert "R42" in result.blocked_by
    reason = result.reasons[result.blocked_by.index("R42")]
    assert family in reason
    assert code in reason


def test_r42_covers_every_family_the_spec_names() -> None:
    expected = {
        "99490", "99439", "99491", "99437", "99487", "99489",
        "99424", "99425", "99426", "99427",
        "99495", "99496",
        "99446", "99447", "99448", "99449", "99451", "99452",
        "G2250", "G2251", "G2252",
        "98970", "98971", "98972", "99421", "99422", "99423",
    }  # fmt: skip
    assert {code for _family, code in BUNDLED} == expected


def test_r42_tcm_by_another_practitioner_does_not_block() -> None:
    assert codes(evaluate(apcm(services=[("99495", "P2")]))) == [("G0557", 1)]


@pytest.mark.parametrize("code", ["G0568", "G0569", "G0570"])
def test_r42_behavioural_health_add_ons_by_the_same_practitioner_never_block(code: str) -> None:
    result = evaluate(apcm(services=[(code, "P1")]))

    assert codes(result) == [("G0557", 1)]


# --- R43: PCM eligibility ---


def test_r43_no_principal_condition_blocks() -> None:
    result = evaluate(pcm(staff(3, 40), patient=patient()))

    assert result.blocked_by == ("R43",)
    assert result.next_threshold is None


def test_r43_the_principal_condition_is_compared_normalised() -> None:
    facts = pcm(staff(3, 40), patient=patient(pcm_condition=" e11.9 "))

    assert codes(evaluate(facts)) == [("99426", 1)]


def test_r43_r4_does_not_apply_to_pcm() -> None:
    facts = pcm(staff(3, 40), patient=patient(chronic_conditions=("E11.9",), pcm_condition="E11.9"))

    assert codes(evaluate(facts)) == [("99426", 1)]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"consent": Consent(None)}, "R5"),
        ({"initiating_visit": InitiatingVisit(date(2024, 3, 1))}, "R8"),  # one year for PCM
        ({"care_plan": CarePlan(None)}, "R11"),
    ],
)
def test_r43_the_ccm_gates_apply_to_pcm(changes: dict[str, Any], rule: str) -> None:
    facts = pcm(staff(3, 40), patient=patient(pcm_condition="E11.9", **changes))

    assert rule in evaluate(facts).blocked_by
    assert evaluate(facts).lines == ()


def test_r43_another_practitioners_minutes_do_not_count() -> None:
    result = evaluate(pcm(staff(3, 25), staff(4, 10, practitioner="P2")))

    assert set(result.blocked_by) == {"R14", "R27"}
    assert result.next_threshold is not None
    assert (result.next_threshold.code, result.next_threshold.minutes_needed) == ("99426", 5)


def test_r43_simultaneous_minutes_count_once_in_pcm() -> None:
    # Two staff members on one 30-minute call: 30 distinct minutes, 99426 (R37).
    result = evaluate(pcm(staff(3, 30), staff(3, 30)))

    assert codes(result) == [("99426", 1)]
    assert "R37" in result.blocked_by


# --- R44: PCM codes ---


def test_r44_29_physician_minutes_bill_nothing_and_need_one_more() -> None:
    result = evaluate(pcm(doctor(3, 29)))

    assert result.blocked_by == ("R27",)
    assert result.next_threshold is not None
    assert (result.next_threshold.code, result.next_threshold.minutes_needed) == ("99426", 1)


def test_r44_the_physician_add_on_cap_withholds_units() -> None:
    # 130 physician minutes earn 99425 x 3; the cap of 2 withholds one.
    result = evaluate(pcm(doctor(3, 130)))

    assert codes(result) == [("99424", 1), ("99425", 2)]
    assert result.blocked_by == ("R44",)
    assert result.next_threshold is None


def test_r44_the_caps_are_policy() -> None:
    result = evaluate(pcm(staff(3, 130)), Policy(cap_99427=1))

    assert codes(result) == [("99426", 1), ("99427", 1)]
    assert result.blocked_by == ("R44",)


def test_r44_no_r44_when_the_cap_withholds_nothing() -> None:
    result = evaluate(pcm(staff(3, 90)))

    assert codes(result) == [("99426", 1), ("99427", 2)]
    assert result.blocked_by == ()


def test_r44_caps_refuse_more_than_two() -> None:
    with pytest.raises(ValueError, match="cap_99425"):
        Policy(cap_99425=3)


def test_r44_next_threshold_is_the_chosen_tracks_next_add_on() -> None:
    result = evaluate(pcm(staff(3, 45)))

    assert result.next_threshold is not None
    assert (result.next_threshold.code, result.next_threshold.minutes_needed) == ("99427", 15)


def test_r44_the_pcm_condition_is_the_first_pointer() -> None:
    conditions = ("I10", "N18.4", "I10", "E11.9", "J44.9", "F33.1")
    facts = pcm(staff(3, 40), patient=patient(chronic_conditions=conditions, pcm_condition="E11.9"))

    assert evaluate(facts).diagnosis_pointers == ("E11.9", "I10", "N18.4", "J44.9")


def test_r44_the_tracks_are_chosen_by_r26() -> None:
    # 40 physician minutes: 99424 ($87.51) beats 99426 ($60.00); priced the other way round,
    # the staff track wins.
    assert codes(evaluate(pcm(doctor(3, 40)))) == [("99424", 1)]
    cheap = {**PCM_FEES, "99424": "10.00"}
    assert codes(evaluate(pcm(doctor(3, 40), fees=cheap))) == [("99426", 1)]


# --- R45: PCM conflicts ---


@pytest.mark.parametrize("code", ["99490", "99439", "99491", "99437", "99487", "99489"])
def test_r45_ccm_by_the_same_practitioner_blocks(code: str) -> None:
    assert evaluate(pcm(staff(3, 40), services=[(code, "P1")])).blocked_by == ("R45",)


def test_r45_ccm_by_another_practitioner_does_not_block() -> None:
    facts = pcm(staff(3, 40), services=[("99490", "P2")], ccm_billed_elsewhere=True)

    assert codes(evaluate(facts)) == [("99426", 1)]


def test_r45_pcm_by_another_practitioner_does_not_block() -> None:
    assert codes(evaluate(pcm(staff(3, 40), services=[("99426", "P2")]))) == [("99426", 1)]


@pytest.mark.parametrize("code", ["G0556", "G0557", "G0558", "G0568"])
def test_r45_apcm_by_another_practitioner_blocks_unless_switched_off(code: str) -> None:
    facts = pcm(staff(3, 40), services=[(code, "P2")])

    assert evaluate(facts).blocked_by == ("R45",)
    lenient = Policy(apcm_by_other_practitioner_blocks_pcm=False)
    assert codes(evaluate(facts, lenient)) == [("99426", 1)]


def test_r45_apcm_by_the_same_practitioner_blocks_even_with_the_policy_off() -> None:
    facts = pcm(staff(3, 40), services=[("G0557", "P1")])
    lenient = Policy(apcm_by_other_practitioner_blocks_pcm=False)

    assert evaluate(facts, lenient).blocked_by == ("R45",)


def test_r45_r28_applies_to_pcm() -> None:
    assert evaluate(pcm(staff(3, 40), services=[("G0182", "P2")])).blocked_by == ("R28",)


def test_ccm_ignores_the_new_pcm_and_apcm_policy_switches() -> None:
    # R30 stays the CCM rule: the R45 switch does not touch a CCM month.
    facts = month_facts(staff(3, 20), services=[("G0557", "P2")])

    assert evaluate(facts).blocked_by == ("R30",)
    assert evaluate(facts, Policy(apcm_by_other_practitioner_blocks_pcm=False)).blocked_by == (
        "R30",
    )


# --- R46: explanations in every program ---


@pytest.mark.parametrize(
    "facts",
    [apcm(), apcm(patient=apcm_patient(qmb=True)), pcm(staff(3, 70)), pcm(doctor(3, 65))],
    ids=["G0557", "G0558", "99426+99427", "99424+99425"],
)
def test_r46_every_line_explains_itself_citing_rule_ids(facts: Any) -> None:
    result = evaluate(facts)

    assert result.lines
    for line in result.lines:
        assert re.match(r"R\d+(, R\d+)*: ", line.explanation), line.explanation


def test_r46_the_apcm_explanation_names_conditions_consent_and_visit() -> None:
    text = evaluate(apcm()).lines[0].explanation

    assert text.startswith("R39, R40, R41: ")
    for part in ("2 chronic conditions", "E11.9, I10", "G0557", "2026-02-10", "2024-03-01"):
        assert part in text


def test_r46_the_pcm_explanation_names_the_condition_and_the_choice() -> None:
    text = evaluate(pcm(doctor(3, 65))).lines[0].explanation

    assert "R43: principal care management of E11.9" in text
    assert "R44, R26: pays $148.97" in text


# --- progress (the worklist's view) ---


def test_progress_of_a_pcm_month_is_toward_99426() -> None:
    now = progress(pcm(staff(3, 12)))

    assert now.next_threshold is not None
    assert (now.next_threshold.code, now.next_threshold.minutes_needed) == ("99426", 18)


def test_progress_of_an_apcm_month_has_no_threshold() -> None:
    assert progress(apcm(staff(3, 12))).next_threshold is None
