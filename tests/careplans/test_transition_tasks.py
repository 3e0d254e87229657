"""The follow-up work of a care transition (timelog.transition_tasks, run through
careplans.hooks.transition_recorded): due dates in business days over weekends and a month's
end, today when recorded late, one task of each kind per transition however often it runs,
who gets them, the specialist visit's review task."""

import datetime as dt

import pytest
import time_machine

from careplans import transition_services as ts
from careplans.hooks import transition_recorded
from ccm.tenancy import practice_scope
from tests.factories import CareTransitionFactory
from tests.helpers import audited
from timelog import transition_tasks as tt
from timelog.models import Task, TaskKind

pytestmark = pytest.mark.usefixtures("media")


def _at(day: dt.date) -> dt.datetime:
    """Mid-afternoon of `day` in New York (the practice's zone), in UTC."""
    return dt.datetime(day.year, day.month, day.day, 19, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (dt.date(2026, 10, 20), 2, dt.date(2026, 10, 22)),  # Tuesday → Thursday
        (dt.date(2026, 10, 22), 2, dt.date(2026, 10, 26)),  # Thursday → Monday
        (dt.date(2026, 10, 23), 2, dt.date(2026, 10, 27)),  # Friday → Tuesday
        (dt.date(2026, 10, 24), 2, dt.date(2026, 10, 27)),  # Saturday → Tuesday
        (dt.date(2026, 10, 25), 2, dt.date(2026, 10, 27)),  # Sunday → Tuesday
        (dt.date(2026, 10, 30), 2, dt.date(2026, 11, 3)),  # Friday at the month's end
        (dt.date(2026, 12, 31), 2, dt.date(2027, 1, 4)),  # Thursday at New Year
        (dt.date(2026, 10, 20), 5, dt.date(2026, 10, 27)),
    ],
)
def test_business_days_skip_the_weekend(start, days, expected):
    assert tt.add_business_days(start, days) == expected


def record(practice, actor, patient, occurred_on, kind="hospital_discharge"):
    with practice_scope(practice):
        return ts.transition_record(
            practice=practice,
            actor=actor,
            patient=patient,
            kind=kind,
            occurred_on=occurred_on,
            facility="Mercy General Hospital",
        )


def tasks_of(transition):
    return {t.kind: t for t in Task.objects.unscoped().filter(transition=transition)}


def test_a_friday_discharge_at_the_months_end_is_followed_up_on_tuesday(
    practice, coordinator, patient
):
    friday = dt.date(2026, 10, 30)
    with time_machine.travel(_at(friday), tick=False):
        transition = record(practice, coordinator, patient, friday)
    tasks = tasks_of(transition)
    assert set(tasks) == {TaskKind.TRANSITION_FOLLOW_UP, TaskKind.MEDICATION_RECONCILIATION}
    for task in tasks.values():
        assert task.due_on == dt.date(2026, 11, 3)
        assert task.month == dt.date(2026, 11, 1)
        assert task.assignee == coordinator  # the patient's coordinator
        assert task.reason == "Hospital discharge on 2026-10-30"
        assert audited("task.create", object_id=str(task.pk))


def test_a_discharge_recorded_late_is_due_today(practice, coordinator, patient):
    monday = dt.date(2026, 11, 9)
    with time_machine.travel(_at(monday), tick=False):
        transition = record(practice, coordinator, patient, dt.date(2026, 10, 30))
    assert {t.due_on for t in tasks_of(transition).values()} == {monday}


def test_the_due_date_follows_the_practices_day_not_utcs(practice, coordinator, patient):
    # 02:00 UTC on Saturday is still Friday evening in New York.
    with time_machine.travel(dt.datetime(2026, 10, 24, 2, 0, tzinfo=dt.UTC), tick=False):
        transition = record(practice, coordinator, patient, dt.date(2026, 10, 23))
    assert {t.due_on for t in tasks_of(transition).values()} == {dt.date(2026, 10, 27)}


def test_an_ed_visit_is_followed_up_like_a_discharge(practice, coordinator, patient):
    with time_machine.travel(_at(dt.date(2026, 10, 20)), tick=False):
        transition = record(practice, coordinator, patient, dt.date(2026, 10, 19), "ed_visit")
    titles = {t.title for t in tasks_of(transition).values()}
    assert titles == {"Follow-up call after ED visit", "Reconcile medicines after ED visit"}


def test_a_specialist_visit_gets_a_notes_review_within_five_business_days(
    practice, coordinator, patient
):
    with time_machine.travel(_at(dt.date(2026, 10, 20)), tick=False):
        transition = record(
            practice, coordinator, patient, dt.date(2026, 10, 16), "specialist_visit"
        )
    tasks = tasks_of(transition)
    assert set(tasks) == {TaskKind.TRANSITION_FOLLOW_UP}
    assert tasks[TaskKind.TRANSITION_FOLLOW_UP].title == "Review the specialist's visit notes"
    assert tasks[TaskKind.TRANSITION_FOLLOW_UP].due_on == dt.date(2026, 10, 23)


def test_following_up_again_creates_no_second_task(practice, coordinator, patient):
    with time_machine.travel(_at(dt.date(2026, 10, 20)), tick=False):
        transition = record(practice, coordinator, patient, dt.date(2026, 10, 19))
        with practice_scope(practice):
            for handler in transition_recorded:
                handler(practice, coordinator, transition)
            again = tt.follow_up_create(practice=practice, actor=coordinator, transition=transition)
    assert again == []
    assert Task.objects.unscoped().filter(transition=transition).count() == 2


def test_a_closed_follow_up_is_not_recreated(practice, coordinator, patient):
    with time_machine.travel(_at(dt.date(2026, 10, 20)), tick=False):
        transition = record(practice, coordinator, patient, dt.date(2026, 10, 19))
        Task.objects.unscoped().filter(transition=transition).update(status="done")
        with practice_scope(practice):
            tt.follow_up_create(practice=practice, actor=coordinator, transition=transition)
    assert Task.objects.unscoped().filter(transition=transition).count() == 2


def test_a_transition_without_tasks_gets_them_when_followed_up(practice, coordinator, patient):
    # A row written before this part existed (or by the demo) is completed, not duplicated.
    transition = CareTransitionFactory(patient=patient, recorded_by=coordinator)
    with time_machine.travel(_at(dt.date(2026, 10, 20)), tick=False), practice_scope(practice):
        created = tt.follow_up_create(practice=practice, actor=coordinator, transition=transition)
    assert len(created) == 2
    assert {t.due_on for t in created} == {dt.date(2026, 10, 20)}  # the 15th's +2 is past


def test_the_recorder_gets_the_tasks_when_the_patient_has_no_coordinator(
    practice, physician, coordinator, patient
):
    patient.coordinator = None
    patient.save(update_fields=["coordinator"])
    with time_machine.travel(_at(dt.date(2026, 10, 20)), tick=False):
        transition = record(practice, physician, patient, dt.date(2026, 10, 19))
    assert {t.assignee for t in tasks_of(transition).values()} == {physician}
