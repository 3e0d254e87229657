"""Month close: claims with explanations, idempotent, resumable after a crash, one result
from two concurrent closes, the month's time locked, the current month refused."""

import datetime as dt
import re
import threading
from io import StringIO
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from billing import rules
from billing.close import services
from billing.models import Claim, ClaimLine, CloseStatus, MonthClose, Outcome
from tests.billing.conftest import ready_patient
from tests.factories import staff_time
from tests.helpers import at_once
from timelog.services import month_is_locked

OCTOBER = dt.date(2026, 10, 1)
AFTER = dt.datetime(2026, 11, 3, 15, tzinfo=dt.UTC)  # November: October is over


def _cast(practice, physician, coordinator, count=4):
    """Enrolled patients with signed plans (a copy given) and October time: 25, 10, 25..."""
    patients = [ready_patient(practice, physician, coordinator, f"C-{n}") for n in range(count)]
    for n, patient in enumerate(patients):
        staff_time(
            patient,
            coordinator,
            physician,
            dt.datetime(2026, 10, 5, 14, tzinfo=dt.UTC) + dt.timedelta(hours=n),
            10 if n % 2 else 25,
        )
    return patients


def _snapshot(practice):
    claims = sorted(
        (str(c.patient_id), c.date_of_service, str(c.amount), tuple(c.diagnosis_codes))
        for c in Claim.objects.for_practice(practice)
    )
    lines = sorted(
        (str(line.claim.patient_id), line.code, line.units, line.explanation)
        for line in ClaimLine.objects.for_practice(practice).select_related("claim")
    )
    outcomes = sorted(
        (str(o.patient_id), o.billable, tuple(o.blocked_by))
        for o in Outcome.objects.for_practice(practice)
    )
    return claims, lines, outcomes


@pytest.fixture
def cast(practice, physician, coordinator):
    return _cast(practice, physician, coordinator)


def _close(practice):
    with time_machine.travel(AFTER, tick=False):
        return services.month_close(practice_id=practice.pk, month=OCTOBER)


def test_closing_stores_claims_with_explanations_and_locks_the_month(practice, cast):
    close = _close(practice)
    assert close.status == CloseStatus.CLOSED
    assert close.patients_total == close.patients_done == 4
    assert close.claims == 2  # 25 minutes bill 99490 (R19); 10 minutes do not
    line = ClaimLine.objects.for_practice(practice).first()
    assert line.code == "99490"
    assert re.search(r"\bR\d+\b", line.explanation)  # every line cites its rule ids
    not_billed = Outcome.objects.for_practice(practice).filter(billable=False)
    assert not_billed.count() == 2
    assert all(o.minutes_needed == 10 for o in not_billed)
    assert month_is_locked(practice=practice, month=OCTOBER)


def test_closing_twice_yields_the_same_claims(practice, cast):
    _close(practice)
    first = _snapshot(practice)
    again = _close(practice)
    assert again.status == CloseStatus.CLOSED
    assert _snapshot(practice) == first
    assert MonthClose.objects.unscoped().count() == 1


def test_a_close_killed_half_way_finishes_on_rerun_with_the_same_result(practice, cast):
    # The uninterrupted result first, then the same month from scratch with a crash.
    _close(practice)
    expected = [(c[1], c[2], c[3]) for c in _snapshot(practice)[0]]
    Claim.objects.unscoped().all().delete()
    Outcome.objects.unscoped().all().delete()
    MonthClose.objects.unscoped().all().delete()
    from timelog.models import MonthLock

    MonthLock.objects.unscoped().all().delete()

    real = rules.evaluate
    calls = {"n": 0}

    def dies_on_the_third(facts, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real(facts, *args)

    with (
        mock.patch.object(services, "BATCH", 2),
        mock.patch.object(rules, "evaluate", dies_on_the_third),
        pytest.raises(RuntimeError),
    ):
        _close(practice)
    # The first batch (two patients) committed; the second rolled back whole.
    assert Outcome.objects.unscoped().count() == 2
    assert MonthClose.objects.unscoped().get().status == CloseStatus.RUNNING
    with mock.patch.object(services, "BATCH", 2):
        close = _close(practice)
    assert close.status == CloseStatus.CLOSED
    assert [(c[1], c[2], c[3]) for c in _snapshot(practice)[0]] == expected
    assert Outcome.objects.unscoped().count() == 4


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_closes_yield_one_result(practice, physician, coordinator):
    _cast(practice, physician, coordinator, count=6)

    def run():
        with mock.patch.object(services, "BATCH", 2):
            _close(practice)

    assert at_once(run) == []
    assert Outcome.objects.unscoped().count() == 6
    assert Claim.objects.unscoped().count() == 3
    assert MonthClose.objects.unscoped().get().claims == 3


def test_the_current_month_cannot_be_closed(practice, cast):
    mid_october = dt.datetime(2026, 10, 20, 15, tzinfo=dt.UTC)
    with (
        time_machine.travel(mid_october, tick=False),
        pytest.raises(ValidationError, match="has not ended"),
    ):
        services.month_close(practice_id=practice.pk, month=OCTOBER)
    assert not MonthClose.objects.unscoped().exists()


def test_another_practice_is_never_closed_or_counted(practice, other_practice, cast):
    close = _close(other_practice)
    assert close.patients_total == 0
    assert not Claim.objects.for_practice(practice).exists()


def test_the_command_closes_once_and_prints_a_summary(practice, cast):
    out = StringIO()
    with time_machine.travel(AFTER, tick=False):
        call_command("close_month", "--practice", "sunrise", "--month", "2026-10", stdout=out)
        call_command("close_month", "--practice", "sunrise", "--month", "2026-10", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines[0] == lines[1]
    assert lines[0].startswith("sunrise 2026-10: closed, 4 patient-months, 2 claims, $")
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("close_month", "--practice", "sunrise", "--month", "10/2026")
    with pytest.raises(CommandError, match="No practice"):
        call_command("close_month", "--practice", "nope", "--month", "2026-10")


def _reset(practice):
    for model in (ClaimLine, Claim, Outcome, MonthClose):
        model.objects.for_practice(practice).delete()
    from timelog.models import MonthLock

    MonthLock.objects.for_practice(practice).delete()


def _closed_in_one_thread(practice, physician, coordinator, settings):
    """Seven patients closed in one thread in batches of two: what the threads must give;
    then the month as it was before (not closed)."""
    _cast(practice, physician, coordinator, count=7)
    settings.MONTH_CLOSE_WORKERS = 1
    with mock.patch.object(services, "BATCH", 2):
        _close(practice)
    expected = _snapshot(practice)
    _reset(practice)
    return expected


@pytest.mark.django_db(transaction=True)
def test_a_close_in_threads_gives_what_one_thread_gives(practice, physician, coordinator, settings):
    """MONTH_CLOSE_WORKERS threads each take their own windows of the ids (their batches
    side by side under the close's shared lock); the result is one thread's, to the line."""
    expected = _closed_in_one_thread(practice, physician, coordinator, settings)
    threads = []
    batch = services._close_batch

    def recording(*args):
        done = batch(*args)
        if done:
            threads.append(threading.current_thread().name)
        return done

    settings.MONTH_CLOSE_WORKERS = 2
    with (
        mock.patch.object(services, "BATCH", 2),
        mock.patch.object(services, "_close_batch", recording),
    ):
        close = _close(practice)
    assert _snapshot(practice) == expected
    assert close.status == CloseStatus.CLOSED
    assert close.patients_total == close.patients_done == 7
    # Four windows of two: two threads took two each; the last pass found nothing left.
    assert len(threads) == 4
    assert {name.rsplit("_", 1)[0] for name in threads} == {"month-close"}
    assert len(set(threads)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_thread_that_fails_fails_the_close_and_a_rerun_finishes_it(
    practice, physician, coordinator, settings
):
    expected = _closed_in_one_thread(practice, physician, coordinator, settings)
    batch = services._close_batch
    failed = []

    def second_part_dies(practice_, close_id, month, cursor, *rest):
        if cursor.parts == 2 and cursor.position == 2 and not failed:  # part 1's first window
            failed.append(True)
            raise RuntimeError("worker lost")
        return batch(practice_, close_id, month, cursor, *rest)

    settings.MONTH_CLOSE_WORKERS = 2
    with (
        mock.patch.object(services, "BATCH", 2),
        mock.patch.object(services, "_close_batch", second_part_dies),
        pytest.raises(RuntimeError, match="worker lost"),
    ):
        _close(practice)
    assert MonthClose.objects.for_practice(practice).get().status == CloseStatus.RUNNING
    with mock.patch.object(services, "BATCH", 2):
        close = _close(practice)
    assert close.status == CloseStatus.CLOSED
    assert _snapshot(practice) == expected
    assert close.patients_done == close.patients_total == 7
