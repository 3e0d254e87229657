"""R37: simultaneous minutes count once per pool (cases B60-B62 run in test_cases.py)."""

from __future__ import annotations

from datetime import date

from billing.rules import Policy, evaluate
from billing.rules.engine import simultaneous_entries
from billing.rules.progress import progress
from tests.billing.rules.builders import codes, entry, month_facts


def test_two_coordinators_in_one_huddle_give_the_staff_pool_one_persons_minutes() -> None:
    facts = month_facts(entry("2026-03-05T15:00", 15), entry("2026-03-05T15:00", 15))

    result = evaluate(facts)

    assert result.minutes.staff_pool == 15
    assert result.blocked_by == ("R27", "R37")
    assert "R37: 15 simultaneous minutes counted once in the staff pool." in result.reasons


def test_physician_and_nurse_on_one_call_bill_99491_not_99490_with_add_ons() -> None:
    call = "2026-03-10T15:00"
    facts = month_facts(entry(call, 30, "physician"), entry(call, 30))

    result = evaluate(facts)

    assert codes(result) == [("99491", 1)]
    assert (result.minutes.clinical_staff, result.minutes.physician) == (0, 30)
    assert "R37: 30 simultaneous minutes counted once in the staff pool." in (
        result.lines[0].explanation
    )
    assert codes(evaluate(facts, Policy(simultaneous_minutes_once=False))) == [
        ("99490", 1),
        ("99439", 2),
    ]


def test_a_physicians_own_overlapping_entries_count_once_in_the_physician_pool() -> None:
    facts = month_facts(
        entry("2026-03-10T15:00", 30, "physician"), entry("2026-03-10T15:20", 30, "physician")
    )

    result = evaluate(facts)

    assert result.minutes.physician_pool == 50
    assert "10 in the physician pool" in result.reasons[-1]


def test_seconds_are_dropped_so_back_to_back_entries_do_not_overlap() -> None:
    facts = month_facts(entry("2026-03-04T15:00:59", 10), entry("2026-03-04T15:10", 10))

    assert evaluate(facts).minutes.staff_pool == 20
    assert simultaneous_entries(facts) == ()


def test_an_excluded_entry_occupies_no_minute() -> None:
    facts = month_facts(
        entry("2026-03-05T15:00", 20), entry("2026-03-05T15:00", 20, face_to_face=True)
    )

    result = evaluate(facts)

    assert result.minutes.staff_pool == 20
    assert "R37" not in result.blocked_by
    assert simultaneous_entries(facts) == ()


def test_gate_failures_stop_before_r37() -> None:
    facts = month_facts(
        entry("2026-03-05T15:00", 15), entry("2026-03-05T15:00", 15), services=[("99490", "P2")]
    )

    assert evaluate(facts).blocked_by == ("R3",)


def test_the_chart_learns_which_entries_overlapped() -> None:
    facts = month_facts(
        entry("2026-03-05T15:00", 15),
        entry("2026-03-09T15:00", 10),
        entry("2026-03-05T15:14", 3),
        entry("2026-03-05T15:30", 5),
    )

    assert simultaneous_entries(facts) == (0, 2)
    assert simultaneous_entries(facts, Policy(simultaneous_minutes_once=False)) == ()


def test_progress_counts_simultaneous_minutes_once_too() -> None:
    facts = month_facts(entry("2026-03-05T15:00", 15), entry("2026-03-05T15:05", 10))

    assert progress(facts).minutes.staff_pool == 15
    assert progress(facts).next_threshold.minutes_needed == 5  # type: ignore[union-attr]


def test_threshold_date_is_the_local_day_of_the_minute_reaching_the_threshold() -> None:
    # 23:50 New York on March 9 = 03:50 UTC March 10; 10 minutes the day before, then a
    # 15-minute entry that is simultaneous for its first 5: the 20th distinct minute is
    # 00:04 on March 10 in New York, although the entry started on March 9.
    facts = month_facts(
        entry("2026-03-10T03:45", 10),  # 23:45-23:54 March 9 local
        entry("2026-03-10T03:50", 15),  # 23:50-00:04 local, first 5 shared
    )
    threshold = Policy(date_of_service_mode="threshold_date")

    result = evaluate(facts, threshold)

    assert codes(result) == [("99490", 1)]
    assert result.minutes.staff_pool == 20
    assert result.date_of_service == date(2026, 3, 10)
