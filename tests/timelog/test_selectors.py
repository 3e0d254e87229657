"""The worklist: minutes as the engine counts them, next threshold, pace, filters, queries."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Consent
from tests.factories import TaskFactory, TimeEntryFactory
from tests.timelog.conftest import NOW, make_enrolled
from timelog import selectors
from timelog.models import Activity

pytestmark = pytest.mark.usefixtures("frozen", "scoped")
OCTOBER = dt.date(2026, 10, 1)
UTC = dt.UTC


def _entry(patient, performer, day, minutes, **kw):
    start = dt.datetime(2026, 10, day, 15, 0, tzinfo=UTC) + dt.timedelta(minutes=kw.pop("at", 0))
    kw.setdefault("practitioner", patient.billing_practitioner)
    return TimeEntryFactory(
        patient=patient, performer=performer, started_at=start, minutes=minutes, **kw
    )


def _rows(practice, month=OCTOBER, today=NOW.date(), **kw):
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
    assert "No contact in 30 days" not in _row(practice, enrolled).flags


def test_filters_and_sorts(practice, coordinator, physician, enrolled):
    done = make_enrolled(practice, physician, coordinator, mrn="T-9")
    _entry(done, coordinator, 2, 25)
    _entry(enrolled, coordinator, 2, 5, at=60)
    below = _rows(practice, show="below")
    assert [r.patient.pk for r in below] == [enrolled.pk]
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
