"""Contact attempts (issue 17): recording one, the worklist's last reached contact and
unanswered count, and the one-step paths from the timer's stop and a task's completion."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from ccm.models import AuditEvent
from tests.factories import CareContactFactory, PatientFactory, TaskFactory
from tests.timelog.conftest import NOW
from timelog import contact_services as cs
from timelog import services
from timelog.models import (
    Activity,
    ContactAttempt,
    MonthProgress,
    Outcome,
    Party,
    RunningTimer,
    Task,
    TaskStatus,
    TimeEntry,
)

pytestmark = pytest.mark.usefixtures("frozen", "scoped")
UTC = dt.UTC
OCTOBER, SEPTEMBER = dt.date(2026, 10, 1), dt.date(2026, 9, 1)


def _record(practice, actor, patient, outcome, at=None, **kw):
    return cs.contact_attempt_record(
        practice=practice,
        actor=actor,
        patient=patient,
        data=cs.ContactInput(outcome=outcome, **kw),
        occurred_at=at,
    )


def _progress(practice, patient, month=OCTOBER):
    return MonthProgress.objects.for_practice(practice).get(patient=patient, month=month)


def test_recording_an_attempt_stores_its_local_month_and_an_audit_event(
    practice, coordinator, enrolled
):
    attempt = _record(practice, coordinator, enrolled, Outcome.VOICEMAIL, note=" Left msg ")
    assert (attempt.month, attempt.note, attempt.occurred_at) == (OCTOBER, "Left msg", NOW)
    event = AuditEvent.objects.unscoped().get(action="contactattempt.create")
    assert event.patient_id == enrolled.pk


def test_last_contact_is_the_last_reached_attempt_and_unanswered_count_since_it(
    practice, coordinator, enrolled
):
    reached = dt.datetime(2026, 10, 5, 14, tzinfo=UTC)
    _record(
        practice, coordinator, enrolled, Outcome.NO_ANSWER, dt.datetime(2026, 10, 2, 14, tzinfo=UTC)
    )
    _record(practice, coordinator, enrolled, Outcome.REACHED, reached)
    _record(
        practice, coordinator, enrolled, Outcome.VOICEMAIL, dt.datetime(2026, 10, 8, 14, tzinfo=UTC)
    )
    _record(
        practice, coordinator, enrolled, Outcome.NO_ANSWER, dt.datetime(2026, 10, 9, 14, tzinfo=UTC)
    )
    _record(practice, coordinator, enrolled, Outcome.MESSAGE_SENT)  # neither reached nor unanswered
    row = _progress(practice, enrolled)
    assert (row.last_contact_at, row.unanswered_attempts) == (reached, 2)


def test_a_call_logged_as_time_alone_is_not_a_contact(practice, coordinator, enrolled):
    services.time_entry_create(
        practice=practice,
        actor=coordinator,
        patient=enrolled,
        started_at=dt.datetime(2026, 10, 5, 14, tzinfo=UTC),
        minutes=5,
        activity=Activity.CALL_PATIENT,
    )
    assert _progress(practice, enrolled).last_contact_at is None


def test_a_backdated_reached_contact_updates_later_months(practice, coordinator, enrolled):
    _record(practice, coordinator, enrolled, Outcome.NO_ANSWER)  # October's row exists
    september = dt.datetime(2026, 9, 29, 14, tzinfo=UTC)
    _record(practice, coordinator, enrolled, Outcome.REACHED, september)
    assert _progress(practice, enrolled).last_contact_at == september
    assert _progress(practice, enrolled).unanswered_attempts == 1  # October's, after it
    assert _progress(practice, enrolled, SEPTEMBER).unanswered_attempts == 0


@pytest.mark.parametrize(
    ("moment", "month"),
    [
        # 23:30 on October 31 in New York is November 1 in UTC: still October.
        (dt.datetime(2026, 11, 1, 3, 30, tzinfo=UTC), OCTOBER),
        # The night the clocks go back (November 1, 2026): 01:30 EST is 06:30 UTC.
        (dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC), dt.date(2026, 11, 1)),
        # New Year's Eve evening in New York is January 1 in UTC.
        (dt.datetime(2027, 1, 1, 2, 0, tzinfo=UTC), dt.date(2026, 12, 1)),
    ],
)
def test_the_month_is_the_practices_local_month_at_month_ends_and_dst(
    practice, coordinator, enrolled, moment, month
):
    with time_machine.travel(moment + dt.timedelta(minutes=5), tick=False):
        attempt = _record(practice, coordinator, enrolled, Outcome.REACHED, moment)
    assert attempt.month == month
    assert _progress(practice, enrolled, month).last_contact_at == moment


def test_bad_input_is_refused_and_nothing_is_saved(practice, coordinator, enrolled):
    stranger = CareContactFactory(patient=PatientFactory(practice=practice))
    cases = [
        ({"outcome": "maybe"}, {}, "outcome"),
        ({"outcome": Outcome.REACHED, "channel": "pigeon"}, {}, "channel"),
        ({"outcome": Outcome.REACHED, "contact": stranger}, {}, "contact"),
        ({"outcome": Outcome.REACHED}, {"at": NOW + dt.timedelta(minutes=5)}, "occurred_at"),
    ]
    for data, extra, field in cases:
        with pytest.raises(ValidationError) as caught:
            _record(practice, coordinator, enrolled, **data, **extra)
        assert field in caught.value.message_dict
    assert not ContactAttempt.objects.exists()


def test_a_contact_of_the_patient_sets_the_party(practice, coordinator, enrolled):
    daughter = CareContactFactory(patient=enrolled, relationship="Daughter")
    attempt = _record(practice, coordinator, enrolled, Outcome.REACHED, contact=daughter)
    assert (attempt.party, attempt.contact) == (Party.CAREGIVER, daughter)


def test_a_biller_may_not_record_contacts(practice, biller, enrolled):
    with pytest.raises(PermissionDenied):
        _record(practice, biller, enrolled, Outcome.REACHED)


def test_stopping_the_timer_records_the_entry_and_the_contact_in_one_step(
    practice, coordinator, enrolled, frozen
):
    services.timer_start(practice=practice, actor=coordinator, patient=enrolled)
    frozen.shift(dt.timedelta(minutes=12))
    entry, attempt = cs.contact_timer_stop(
        practice=practice,
        actor=coordinator,
        activity=Activity.CALL_PATIENT,
        note="Talked about diet",
        contact=cs.ContactInput(outcome=Outcome.REACHED),
    )
    assert attempt is not None
    assert (attempt.time_entry, attempt.occurred_at) == (entry, entry.started_at)
    assert _progress(practice, enrolled).last_contact_at == NOW


def test_stopping_the_timer_on_a_call_without_an_outcome_logs_nothing(
    practice, coordinator, enrolled, frozen
):
    services.timer_start(practice=practice, actor=coordinator, patient=enrolled)
    frozen.shift(dt.timedelta(minutes=12))
    with pytest.raises(ValidationError) as caught:
        cs.contact_timer_stop(practice=practice, actor=coordinator, activity=Activity.CALL_PATIENT)
    assert caught.value.message_dict["outcome"] == [cs.OUTCOME_MESSAGE]
    assert RunningTimer.objects.exists()
    assert not TimeEntry.objects.exists()


def test_completing_a_call_task_takes_the_calls_start_time(practice, coordinator, enrolled):
    task = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 20))
    start = dt.datetime(2026, 10, 20, 13, 0, tzinfo=UTC)  # two hours ago
    done, attempt = cs.contact_task_complete(
        practice=practice,
        actor=coordinator,
        task=task,
        note="Reached",
        log_minutes=15,
        log_started_at=start,
        contact=cs.ContactInput(outcome=Outcome.REACHED),
    )
    assert done.status == TaskStatus.DONE
    assert (done.time_entry.started_at, done.time_entry.minutes) == (start, 15)
    assert (attempt.task, attempt.time_entry, attempt.occurred_at) == (done, done.time_entry, start)


def test_a_call_that_would_end_in_the_future_is_refused_and_the_task_stays_open(
    practice, coordinator, enrolled
):
    task = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 20))
    with pytest.raises(ValidationError) as caught:
        cs.contact_task_complete(
            practice=practice,
            actor=coordinator,
            task=task,
            log_minutes=30,
            log_started_at=NOW - dt.timedelta(minutes=10),
            contact=cs.ContactInput(outcome=Outcome.REACHED),
        )
    assert caught.value.message_dict["log_started_at"] == [services.CALL_ENDS_LATER_MESSAGE]
    assert Task.objects.get().status == TaskStatus.OPEN
    assert not ContactAttempt.objects.exists()


def test_completing_a_call_task_needs_an_outcome_but_cancelling_does_not(
    practice, coordinator, enrolled
):
    task = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 20))
    with pytest.raises(ValidationError):
        cs.contact_task_complete(practice=practice, actor=coordinator, task=task)
    cancelled, attempt = cs.contact_task_complete(
        practice=practice, actor=coordinator, task=task, cancel=True
    )
    assert (cancelled.status, attempt) == (TaskStatus.CANCELLED, None)


def test_the_overlap_message_names_the_patient_only_to_who_may_see_them(
    practice, coordinator, enrolled, outsider
):
    start = dt.datetime(2026, 10, 19, 14, 0, tzinfo=UTC)  # 10:00 in New York
    clash = services.time_entry_create(
        practice=practice,
        actor=coordinator,
        patient=enrolled,
        started_at=start,
        minutes=30,
        activity=Activity.CHART_REVIEW,
    )
    named = services._overlap_message(practice, clash, coordinator)
    assert named == services.OVERLAP_PATIENT_MESSAGE.format(
        patient="Ada Lovelace-T-1 (T-1)", start="2026-10-19 10:00", end="10:30", minutes=30
    )
    for viewer in (None, outsider):  # no member, or a member of another practice
        hidden = services._overlap_message(practice, clash, viewer)
        assert "another patient's entry" in hidden
        assert "Lovelace" not in hidden
        assert "T-1" not in hidden
