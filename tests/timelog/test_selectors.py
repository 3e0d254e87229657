"""The worklist: minutes as the engine counts them, next threshold, pace, filters, queries."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.progress import services as progress_services
from patients.models import Consent
from tests.factories import ContactAttemptFactory, TaskFactory, TimeEntryFactory
from tests.timelog.conftest import NOW, make_enrolled
from timelog import selectors
from timelog.models import Activity, MonthProgress

pytestmark = pytest.mark.usefixtures("frozen", "scoped")
OCTOBER = dt.date(2026, 10, 1)
UTC = dt.UTC


def _entry(patient, performer, day, minutes, **kw):
    start = dt.datetime(2026, 10, day, 15, 0, tzinfo=UTC) + dt.timedelta(minutes=kw.pop("at", 0))
    kw.setdefault("practitioner", patient.billing_practitioner)
    return TimeEntryFactory(
        patient=patient, performer=performer, started_at=start, minutes=minutes, **kw
    )


def _reached(patient, at):
    """A reached contact attempt (the worklist's last contact)."""
    return ContactAttemptFactory(patient=patient, occurred_at=at, recorded_by=patient.coordinator)


def _rows(practice, month=OCTOBER, today=None, **kw):
    today = today or NOW.date()
    patients = selectors.worklist(practice=practice, month=month, today=today, **kw)
    return selectors.worklist_rows(patients, month=month, today=today)


def _row(practice, patient, **kw):
    return next(r for r in _rows(practice, **kw) if r.patient.pk == patient.pk)


def test_minutes_and_next_threshold_come_from_the_billing_engine(
    practice, coordinator, physician, enrolled
):
    _entry(enrolled, coordinator, 5, 12)
    _entry(enrolled, physician, 6, 10, performer_kind="physician")
    _entry(enrolled, coordinator, 7, 30, face_to_face=True)  # R15: never counts
    _entry(enrolled, coordinator, 8, 9, activity=Activity.ENROLLMENT_OUTREACH)  # R5
    row = _row(practice, enrolled)
    assert (row.clinical_staff_minutes, row.physician_minutes) == (12, 10)
    # R16: 22 staff-pool minutes bill 99490; the next unit, 99439, needs 40 (R20).
    assert (row.next_code, row.minutes_needed) == ("99439", 18)
    assert row.target == 40
    assert row.percent == 55


def test_minutes_before_consent_do_not_count(practice, physician, coordinator):
    late = make_enrolled(
        practice, physician, coordinator, mrn="T-2", consent_on=dt.date(2026, 10, 10)
    )
    _entry(late, coordinator, 5, 15)
    _entry(late, coordinator, 12, 6)
    row = _row(practice, late)
    assert row.staff_pool == 6
    assert (row.next_code, row.minutes_needed) == ("99490", 14)


def test_pace_flags_patients_behind_given_the_days_left(practice, coordinator, physician, enrolled):
    # Day 20 of 31: 13 minutes (ceil(20 * 20 / 31)) are expected by now.
    _entry(enrolled, coordinator, 3, 12)
    ahead = make_enrolled(practice, physician, coordinator, mrn="T-3")
    _entry(ahead, coordinator, 3, 13, at=60)
    assert _row(practice, enrolled).behind_pace
    assert not _row(practice, ahead).behind_pace
    assert _row(practice, enrolled).days_left == 11
    # A past month: anyone under 20 is behind, no days are left.
    with time_machine.travel(dt.datetime(2026, 11, 3, 15, tzinfo=UTC)):
        row = _row(practice, ahead, today=dt.date(2026, 11, 3))
    assert row.behind_pace
    assert row.days_left == 0


def test_flags_for_missing_consent_and_no_recent_contact(practice, coordinator, enrolled):
    Consent.objects.filter(patient=enrolled).delete()
    row = _row(practice, enrolled)
    assert "No consent on file" in row.flags
    assert "No contact in 30 days" in row.flags
    _entry(enrolled, coordinator, 15, 5, activity=Activity.CALL_PATIENT)
    assert "No contact in 30 days" in _row(practice, enrolled).flags  # time alone: no contact
    _reached(enrolled, dt.datetime(2026, 10, 15, 15, tzinfo=UTC))
    assert "No contact in 30 days" not in _row(practice, enrolled).flags


def test_filters_and_sorts(practice, coordinator, physician, enrolled):
    done = make_enrolled(practice, physician, coordinator, mrn="T-9")
    _entry(done, coordinator, 2, 25)
    _entry(enrolled, coordinator, 2, 5, at=60)
    below = _rows(practice, show="below")
    assert [r.patient.pk for r in below] == [enrolled.pk]
    reached = _rows(practice, show="reached")
    assert [r.patient.pk for r in reached] == [done.pk]
    by_minutes = _rows(practice, sort="minutes")
    assert [r.patient.pk for r in by_minutes] == [enrolled.pk, done.pk]
    assert _rows(practice, coordinator=physician) == []


def test_the_next_task_is_the_soonest_open_one(practice, coordinator, enrolled):
    TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 25), kind="check_in")
    soon = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 21), kind="follow_up_call")
    TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 1), kind="custom", status="done")
    rows = _rows(practice)
    assert rows[0].next_task == soon
    assert rows[0].open_tasks == 2


def _queries(practice) -> int:
    with CaptureQueriesContext(connection) as ctx:
        patients = selectors.worklist(practice=practice, month=OCTOBER, today=NOW.date())
        selectors.worklist_rows(patients[:25], month=OCTOBER, today=NOW.date())
    return len(ctx.captured_queries)


def test_the_worklist_runs_a_fixed_number_of_queries(practice, coordinator, physician):
    def grow(first, count):
        for n in range(first, first + count):
            patient = make_enrolled(practice, physician, coordinator, mrn=f"Q-{n}")
            _entry(patient, coordinator, 2, 5, at=n * 10)
            TaskFactory(patient=patient, due_on=dt.date(2026, 10, 21))

    grow(0, 3)
    few = _queries(practice)
    grow(3, 27)
    assert _queries(practice) == few == 2


def test_a_patient_without_time_this_month_shows_zero_and_the_last_call_before_it(
    practice, coordinator, enrolled
):
    call = dt.datetime(2026, 9, 28, 15, 0, tzinfo=UTC)
    TimeEntryFactory(
        patient=enrolled, performer=coordinator, started_at=call, minutes=5, activity="call_patient"
    )
    _reached(enrolled, call)
    # No October row (before the hourly job adds one): zero minutes, the call looked up.
    MonthProgress.objects.unscoped().filter(month=OCTOBER).delete()
    row = _row(practice, enrolled)
    assert (row.staff_pool, row.next_code, row.minutes_needed) == (0, "99490", 20)
    assert row.last_contact == call
    # With the row the page reads the same from it.
    progress_services.progress_reconcile(practice_id=practice.pk, months=[OCTOBER])
    assert MonthProgress.objects.unscoped().filter(month=OCTOBER).exists()
    stored = _row(practice, enrolled)
    assert (stored.staff_pool, stored.minutes_needed, stored.last_contact) == (0, 20, call)


def test_no_contact_filter_and_contact_sort_put_the_never_contacted_first(
    practice, coordinator, physician, enrolled
):
    recent = make_enrolled(practice, physician, coordinator, mrn="T-4")
    _reached(recent, dt.datetime(2026, 10, 15, 15, tzinfo=UTC))
    old = make_enrolled(practice, physician, coordinator, mrn="T-5")
    _reached(old, dt.datetime(2026, 9, 2, 15, tzinfo=UTC))
    by_contact = [r.patient.pk for r in _rows(practice, sort="contact")]
    assert by_contact == [enrolled.pk, old.pk, recent.pk]
    no_contact = [r.patient.pk for r in _rows(practice, show="no_contact")]
    assert no_contact == [enrolled.pk, old.pk]  # alphabetical: Lovelace-T-1, Lovelace-T-5


def test_sorting_by_next_threshold_and_by_due_task_puts_nothing_last(
    practice, coordinator, physician, enrolled
):
    finished = make_enrolled(practice, physician, coordinator, mrn="T-6")
    for day, minutes in ((2, 60), (3, 60), (4, 60)):
        _entry(finished, coordinator, day, minutes)  # R27: past every 99439 unit
    close = make_enrolled(practice, physician, coordinator, mrn="T-7")
    _entry(close, coordinator, 5, 18)
    needed = [(r.patient.pk, r.minutes_needed) for r in _rows(practice, sort="needed")]
    assert needed == [(close.pk, 2), (enrolled.pk, 20), (finished.pk, None)]
    TaskFactory(patient=finished, due_on=dt.date(2026, 10, 22))
    TaskFactory(patient=close, due_on=dt.date(2026, 10, 21))
    by_due = [r.patient.pk for r in _rows(practice, sort="due")]
    assert by_due == [close.pk, finished.pk, enrolled.pk]


def test_the_worklist_never_shows_or_counts_another_practices_patients(
    practice, other_practice, coordinator, physician, enrolled
):
    from tests.factories import MembershipFactory

    foreign = make_enrolled(
        other_practice,
        MembershipFactory(practice=other_practice, role="physician"),
        MembershipFactory(practice=other_practice, role="coordinator"),
        mrn="T-1",
    )
    assert [r.patient.pk for r in _rows(practice)] == [enrolled.pk]
    patients = selectors.worklist(practice=practice, month=OCTOBER, today=NOW.date())
    assert patients.count() == 1
    assert foreign.pk not in {p.pk for p in patients}
