"""Engine unit tests beyond the worked cases: month edges, DST, rules, explanations, money."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.rules import (
    CarePlan,
    Consent,
    FeeSchedule,
    InitiatingVisit,
    Month,
    Policy,
    TimeEntry,
    evaluate,
)
from billing.rules.codes import CODE_TABLE, TABLE_ORDER
from billing.rules.engine import month_frame, one_year_before
from tests.billing.rules.builders import codes, doctor, entry, month_facts, patient, staff


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- R1: month bounds in the practice time zone ---


@pytest.mark.parametrize(
    ("month", "zone", "start", "end"),
    [
        (Month(2026, 3), "America/New_York", "2026-03-01T05:00", "2026-04-01T04:00"),
        (Month(2026, 11), "America/New_York", "2026-11-01T04:00", "2026-12-01T05:00"),
        (Month(2026, 12), "America/Los_Angeles", "2026-12-01T08:00", "2027-01-01T08:00"),
        (Month(2026, 3), "UTC", "2026-03-01T00:00", "2026-04-01T00:00"),
        # Chile springs forward at local midnight: Sept 6 2026 starts at 01:00 (UTC-3).
        (Month(2026, 9), "America/Santiago", "2026-09-01T04:00", "2026-10-01T03:00"),
        # Lord Howe moves by 30 minutes.
        (Month(2026, 4), "Australia/Lord_Howe", "2026-03-31T13:00", "2026-04-30T13:30"),
    ],
)
def test_month_bounds_follow_the_practice_zone(
    month: Month, zone: str, start: str, end: str
) -> None:
    frame = month_frame(month, zone)

    assert (frame.start, frame.end) == (_utc(start), _utc(end))


def test_a_day_that_starts_at_a_dst_gap_begins_at_the_transition() -> None:
    frame = month_frame(Month(2026, 9), "America/Santiago")

    # 00:00 on Sept 6 does not exist in Santiago; the day begins at 04:00 UTC (01:00 -03).
    assert frame.instant(date(2026, 9, 6)) == _utc("2026-09-06T04:00")
    assert frame.instant(date(2026, 9, 7)) == _utc("2026-09-07T03:00")


def test_leap_february_and_december_end_correctly() -> None:
    assert month_frame(Month(2028, 2), "UTC").last_day == date(2028, 2, 29)
    assert month_frame(Month(2026, 12), "UTC").last_day == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("started", "counts"),
    [
        ("2026-03-01T04:59", False),  # Feb 28, 23:59 EST
        ("2026-03-01T05:00", True),  # Mar 1, 00:00 EST
        ("2026-03-08T07:30", True),  # 03:30 EDT on the spring-forward day
        ("2026-04-01T03:59", True),  # Mar 31, 23:59 EDT
        ("2026-04-01T04:00", False),  # Apr 1, 00:00 EDT
    ],
)
def test_entries_belong_to_the_month_of_their_local_start(started: str, counts: bool) -> None:
    result = evaluate(month_facts(entry(started, 20)))

    assert result.billable is counts
    assert result.minutes.staff_pool == (20 if counts else 0)


def test_an_entry_running_past_midnight_counts_whole_in_its_start_month() -> None:
    result = evaluate(month_facts(entry("2026-04-01T03:50", 45)))  # 23:50 on Mar 31

    assert result.minutes.staff_pool == 45


def test_month_parse_rejects_bad_months() -> None:
    assert Month.parse("2026-03") == Month(2026, 3)
    for text in ("2026-13", "2026-00", "2026-3", "26-03", "2026/03"):
        with pytest.raises(ValueError, match="month"):
            Month.parse(text)


# --- Gates and exclusions ---


def test_r3_ccm_by_another_practitioner_blocks_but_our_own_earlier_output_does_not() -> None:
    theirs = month_facts(staff(3, 30), services=[("99490", "P2")])
    ours = month_facts(staff(3, 30), services=[("99490", "P1"), ("99439", "P1")])

    assert evaluate(theirs).blocked_by == ("R3",)
    assert codes(evaluate(ours)) == [("99490", 1)]


def test_r10_g0506_in_other_services_has_no_effect() -> None:
    result = evaluate(month_facts(staff(3, 30), services=[("G0506", "P1")]))

    assert codes(result) == [("99490", 1)]
    assert all(line.code != "G0506" for line in result.lines)


def test_r11_a_plan_not_shared_with_the_patient_blocks() -> None:
    plan = CarePlan(date(2026, 2, 12), shared_with_patient=False)

    assert evaluate(month_facts(staff(3, 30), patient=patient(care_plan=plan))).blocked_by == (
        "R11",
    )


def test_r8_visit_after_the_month_blocks() -> None:
    facts = month_facts(
        staff(3, 30), patient=patient(initiating_visit=InitiatingVisit(date(2026, 4, 2)))
    )

    assert evaluate(facts).blocked_by == ("R8",)


def test_one_year_before_handles_leap_days() -> None:
    assert one_year_before(date(2028, 2, 29)) == date(2027, 2, 28)
    assert one_year_before(date(2026, 3, 1)) == date(2025, 3, 1)


def test_an_entry_matching_several_exclusions_reports_every_rule() -> None:
    bad = staff(5, 30, practitioner="P2", face_to_face=True)
    facts = month_facts(bad, staff(20, 20), patient=patient(consent=Consent(date(2026, 3, 10))))

    result = evaluate(facts)

    assert result.blocked_by == ("R5", "R14", "R15")
    assert codes(result) == [("99490", 1)]
    assert result.minutes.staff_pool == 20


def test_gate_failures_and_exclusions_are_reported_together() -> None:
    facts = month_facts(
        staff(5, 30, practitioner="P2"),
        patient=patient(chronic_conditions=("I10",), care_plan=CarePlan(None)),
    )

    result = evaluate(facts)

    assert result.blocked_by == ("R4", "R11", "R14")
    assert result.next_threshold is None  # no number of minutes fixes a failed gate


def test_zero_minute_entries_are_ignored_silently() -> None:
    result = evaluate(month_facts(staff(3, 0, practitioner="P2"), staff(4, 20)))

    assert result.blocked_by == ()
    assert codes(result) == [("99490", 1)]


# --- Choosing and pricing ---


def test_r27_next_threshold_in_a_billable_month_is_the_next_add_on() -> None:
    result = evaluate(month_facts(staff(3, 25)))

    assert result.next_threshold is not None
    assert (result.next_threshold.code, result.next_threshold.minutes_needed) == ("99439", 15)


def test_r27_next_threshold_is_null_when_the_cap_is_reached() -> None:
    assert evaluate(month_facts(staff(3, 60))).next_threshold is None


def test_lines_are_in_table_order_and_carry_exact_cent_amounts() -> None:
    result = evaluate(month_facts(staff(3, 40), staff(10, 25)))

    assert codes(result) == [("99490", 1), ("99439", 2)]
    order = [TABLE_ORDER[line.code] for line in result.lines]
    assert order == sorted(order)
    assert [line.amount for line in result.lines] == [Decimal("66.13"), Decimal("100.88")]
    assert result.total == Decimal("167.01")


def test_line_minutes_partition_the_pool() -> None:
    result = evaluate(month_facts(staff(3, 47)))

    assert [(line.code, line.minutes) for line in result.lines] == [("99490", 27), ("99439", 20)]


def test_fee_schedule_overrides_reference_amounts_per_code() -> None:
    fees = FeeSchedule({"99490": Decimal("70.00")})

    assert fees.amount("99490") == Decimal("70.00")
    assert fees.amount("99439") == Decimal("50.44")
    assert fees.amount("G0506") == Decimal("0.00")  # no verified amount in the spec


@pytest.mark.parametrize("amount", [66.13, Decimal("-1.00"), Decimal("1.001"), Decimal("NaN")])
def test_fee_schedule_refuses_floats_negatives_and_fractions_of_a_cent(amount: object) -> None:
    with pytest.raises(ValueError, match="fee for 99490"):
        FeeSchedule({"99490": amount})  # type: ignore[dict-item]


def test_a_tie_across_tracks_goes_to_table_order() -> None:
    # 30 physician minutes: 99490 and 99491 priced equal, one line and one unit each.
    facts = month_facts(doctor(6, 30), fees={"99491": "66.13"})

    assert codes(evaluate(facts)) == [("99490", 1)]


def test_the_code_table_lists_the_spec_rows_in_order() -> None:
    assert [row.code for row in CODE_TABLE] == [
        "99490", "99439", "99491", "99437", "99487", "99489",
        "G0506", "99424", "99425", "99426", "99427", "G0556", "G0557", "G0558",
    ]  # fmt: skip


# --- Claim fields and explanations ---


def test_r34_pointers_are_the_first_four_distinct_codes() -> None:
    conditions = ("I50.22", "I50.22", "N18.4", "E11.22", "J44.9", "F33.1")
    result = evaluate(month_facts(staff(3, 20), patient=patient(chronic_conditions=conditions)))

    assert result.diagnosis_pointers == ("I50.22", "N18.4", "E11.22", "J44.9")


def test_a_month_that_bills_nothing_has_no_claim_fields() -> None:
    result = evaluate(month_facts(staff(3, 5)))

    assert (result.date_of_service, result.place_of_service, result.diagnosis_pointers) == (
        None,
        None,
        (),
    )


def test_explanations_cite_rule_ids_and_read_like_the_spec_example() -> None:
    result = evaluate(month_facts(staff(3, 35), doctor(10, 12)))

    base, addon = result.lines
    assert base.explanation.startswith(
        "R16, R19: 47 countable staff-pool minutes (clinical staff 35, billing practitioner 12)"
        " → 99490 for the first 20."
    )
    assert addon.explanation == (
        "R20: 99439 x 1 for 1 full 20-minute increment after the first 20 (minutes 21-40); "
        "7 minutes do not reach another unit."
    )


def test_explanations_name_the_alternative_that_lost() -> None:
    result = evaluate(month_facts(doctor(6, 45), doctor(20, 45)))  # 90 physician minutes

    assert "more than 99490 + 99439 x 2 ($167.01)" in result.lines[0].explanation


def test_every_reason_starts_with_its_rule_id() -> None:
    facts = month_facts(
        staff(3, 10, face_to_face=True),
        patient=patient(chronic_conditions=("I10",), consent=Consent(None)),
        services=[("G0182", "P2"), ("99426", "P1"), ("G0557", "P1"), ("99491", "P9")],
        ccm_billed_elsewhere=True,
    )

    result = evaluate(facts)

    assert result.blocked_by == ("R3", "R4", "R5", "R15", "R28", "R29", "R30")
    for rule, reason in zip(result.blocked_by, result.reasons, strict=True):
        assert re.match(rf"{rule}: \S", reason), reason


# --- Types ---


def test_results_and_facts_are_frozen() -> None:
    result = evaluate(month_facts(staff(3, 20)))

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.lines = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.lines[0].units = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"minutes": -1}, "minutes"),
        ({"performer": "nurse"}, "performer"),
        ({"started_at": datetime(2026, 3, 3, 15)}, "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_time_entry_refuses_invalid_values(changes: dict[str, object], message: str) -> None:
    good = {
        "started_at": _utc("2026-03-03T15:00"),
        "minutes": 5,
        "performer": "physician",
        "practitioner": "P1",
    }

    with pytest.raises(ValueError, match=message):
        TimeEntry(**{**good, **changes})  # type: ignore[arg-type]


def test_evaluation_is_pure_same_facts_same_result() -> None:
    facts = month_facts(staff(3, 35), doctor(10, 12))

    assert evaluate(facts) == evaluate(facts) == evaluate(facts, Policy())
