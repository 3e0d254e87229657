"""Time entry, lock, adjustment, timer and task services: the rules and their messages."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from ccm.api_auth import ApplicationError
from ccm.models import AuditEvent
from patients.models import Status
from tests.factories import MembershipFactory, PatientFactory
from tests.timelog.conftest import NOW
from timelog import services
from timelog.models import (
    Activity,
    MonthLock,
    PerformerKind,
    RunningTimer,
    Task,
    TaskKind,
    TaskStatus,
    TimeAdjustment,
    TimeEntry,
)

pytestmark = pytest.mark.usefixtures("frozen", "scoped")
UTC = dt.UTC


def _log(practice, actor, patient, *, start=None, minutes=15, activity=Activity.CALL_PATIENT, **kw):
    return services.time_entry_create(
        practice=practice,
        actor=actor,
        patient=patient,
        started_at=start or NOW - dt.timedelta(hours=2),
        minutes=minutes,
        activity=activity,
        **kw,
    )


def test_logging_time_records_performer_kind_month_and_an_audit_event(
    practice, coordinator, physician, enrolled
):
    entry = _log(practice, coordinator, enrolled, note="Called about refills")
    assert entry.performer_kind == PerformerKind.CLINICAL_STAFF
    assert entry.practitioner_id == physician.pk  # R14: logged under the billing practitioner
    assert entry.billing_month == dt.date(2026, 10, 1)
    assert entry.ended_at == entry.started_at + dt.timedelta(minutes=15)
    own = _log(practice, physician, enrolled, start=NOW - dt.timedelta(hours=5))
    assert own.performer_kind == PerformerKind.PHYSICIAN
    event = AuditEvent.objects.unscoped().get(action="timeentry.create", object_id=str(entry.pk))
    assert event.patient_id == enrolled.pk


def test_the_billing_month_is_the_practices_local_month(practice, coordinator, enrolled):
    # 01:30 UTC on October 1 is still September 30 in New York.
    entry = _log(practice, coordinator, enrolled, start=dt.datetime(2026, 10, 1, 1, 30, tzinfo=UTC))
    assert entry.billing_month == dt.date(2026, 9, 1)
    later = _log(practice, coordinator, enrolled, start=dt.datetime(2026, 10, 1, 4, 0, tzinfo=UTC))
    assert later.billing_month == dt.date(2026, 10, 1)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"minutes": 0}, "minutes", services.MINUTES_MESSAGE),
        ({"minutes": 241}, "minutes", services.MINUTES_MESSAGE),
        ({"start": NOW + dt.timedelta(minutes=5)}, "started_at", services.FUTURE_MESSAGE),
        (
            {"start": dt.datetime(2026, 1, 2, 15, tzinfo=UTC)},
            "started_at",
            "before this patient was added",
        ),
        (
            {"activity": Activity.ENROLLMENT_OUTREACH},
            "activity",
            services.OUTREACH_ENROLLED_MESSAGE,
        ),
    ],
)
def test_bad_entries_are_refused_with_a_clear_message_and_nothing_saved(
    practice, coordinator, enrolled, kwargs, field, message
):
    with pytest.raises(ValidationError) as caught:
        _log(practice, coordinator, enrolled, **kwargs)
    assert message in " ".join(caught.value.message_dict[field])
    assert not TimeEntry.objects.exists()
    assert not AuditEvent.objects.unscoped().filter(action="timeentry.create").exists()


def test_a_candidate_only_gets_enrollment_outreach(practice, coordinator):
    candidate = PatientFactory(practice=practice, created_at=dt.datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError) as caught:
        _log(practice, coordinator, candidate)
    assert caught.value.message_dict["activity"] == [services.CANDIDATE_ACTIVITY_MESSAGE]
    entry = _log(practice, coordinator, candidate, activity=Activity.ENROLLMENT_OUTREACH)
    assert not entry.counts_toward_billing


def test_a_disenrolled_patient_takes_time_only_up_to_the_day_they_left(
    practice, coordinator, enrolled
):
    enrolled.status, enrolled.status_on = Status.DISENROLLED, dt.date(2026, 10, 10)
    enrolled.save()
    _log(practice, coordinator, enrolled, start=dt.datetime(2026, 10, 9, 15, tzinfo=UTC))
    with pytest.raises(ValidationError, match="left CCM on 2026-10-10"):
        _log(practice, coordinator, enrolled, start=dt.datetime(2026, 10, 11, 15, tzinfo=UTC))
    enrolled.status = Status.DECLINED
    enrolled.save()
    with pytest.raises(ValidationError, match="only be logged for enrolled"):
        _log(practice, coordinator, enrolled, start=dt.datetime(2026, 10, 9, 17, tzinfo=UTC))


def test_overlapping_entries_of_one_person_are_refused_naming_the_overlap(
    practice, coordinator, physician, enrolled
):
    start = dt.datetime(2026, 10, 19, 14, 0, tzinfo=UTC)  # 10:00 in New York
    _log(practice, coordinator, enrolled, start=start, minutes=30)
    with pytest.raises(ValidationError) as caught:
        _log(practice, coordinator, enrolled, start=start + dt.timedelta(minutes=29))
    assert (
        "overlaps your entry for Ada Lovelace-T-1 (T-1) of 2026-10-19 10:00 to 10:30 (30 min)"
        in caught.value.messages[0]
    )
    # Back to back is fine, and another person may work at the same time.
    _log(practice, coordinator, enrolled, start=start + dt.timedelta(minutes=30))
    _log(practice, physician, enrolled, start=start)
    assert TimeEntry.objects.count() == 3


def test_the_database_refuses_overlaps_the_service_did_not_see(practice, coordinator, enrolled):
    entry = _log(practice, coordinator, enrolled, minutes=30)
    twin = TimeEntry.objects.get(pk=entry.pk)
    twin.pk = None
    twin.id = None
    with pytest.raises(IntegrityError, match="no_overlap"), transaction.atomic():
        TimeEntry.objects.bulk_create([twin])


def test_month_lock_is_idempotent_and_makes_the_months_time_read_only(
    practice, coordinator, admin, enrolled
):
    entry = _log(practice, coordinator, enrolled)
    first = services.month_lock(practice=practice, month=dt.date(2026, 10, 1), actor=admin)
    again = services.month_lock(practice=practice, month=dt.date(2026, 10, 15), actor=admin)
    assert first.pk == again.pk
    assert MonthLock.objects.count() == 1
    assert AuditEvent.objects.unscoped().filter(action="month.lock").count() == 1
    with pytest.raises(services.MonthLocked, match="2026-10 is closed"):
        _log(practice, coordinator, enrolled, start=NOW - dt.timedelta(hours=8))
    with pytest.raises(services.MonthLocked):
        services.time_entry_update(
            practice=practice, actor=coordinator, entry=entry, data={"minutes": 40}
        )
    with pytest.raises(services.MonthLocked):
        services.time_entry_delete(practice=practice, actor=coordinator, entry=entry)
    entry.refresh_from_db()
    assert entry.minutes == 15
    assert TimeEntry.objects.count() == 1


def test_an_entry_cannot_be_moved_into_a_closed_month(practice, coordinator, enrolled):
    entry = _log(practice, coordinator, enrolled)
    services.month_lock(practice=practice, month=dt.date(2026, 9, 1))
    with pytest.raises(services.MonthLocked):
        services.time_entry_update(
            practice=practice,
            actor=coordinator,
            entry=entry,
            data={"started_at": dt.datetime(2026, 9, 20, 15, tzinfo=UTC)},
        )


def test_a_closed_month_is_corrected_by_an_audited_adjustment_with_a_reason(
    practice, coordinator, enrolled
):
    entry = _log(practice, coordinator, enrolled, minutes=25)
    with pytest.raises(ValidationError, match="still open"):
        services.time_adjust(
            practice=practice, actor=coordinator, entry=entry, corrected_minutes=20, reason="typo"
        )
    services.month_lock(practice=practice, month=dt.date(2026, 10, 1))
    with pytest.raises(ValidationError) as caught:
        services.time_adjust(
            practice=practice, actor=coordinator, entry=entry, corrected_minutes=20, reason=" "
        )
    assert caught.value.message_dict["reason"] == [services.ADJUST_REASON_MESSAGE]
    adjustment = services.time_adjust(
        practice=practice, actor=coordinator, entry=entry, corrected_minutes=20, reason="typo"
    )
    assert adjustment.minutes_delta == -5
    assert services.effective_minutes(entry) == 20
    entry.refresh_from_db()
    assert entry.minutes == 25  # the entry itself stays as logged
    assert AuditEvent.objects.unscoped().filter(action="timeadjustment.create").count() == 1


def test_only_the_performer_or_an_admin_changes_an_entry(
    practice, coordinator, admin, physician, enrolled
):
    entry = _log(practice, coordinator, enrolled)
    with pytest.raises(PermissionDenied):
        services.time_entry_update(
            practice=practice, actor=physician, entry=entry, data={"minutes": 5}
        )
    services.time_entry_update(practice=practice, actor=admin, entry=entry, data={"minutes": 5})
    entry.refresh_from_db()
    assert entry.minutes == 5


def test_a_biller_logs_no_time(practice, biller, enrolled):
    with pytest.raises(PermissionDenied):
        _log(practice, biller, enrolled)


# --- Timer ---------------------------------------------------------------------------------


def test_the_timer_turns_into_an_entry_of_whole_minutes_never_rounded_up(
    practice, coordinator, enrolled, frozen
):
    services.timer_start(
        practice=practice, actor=coordinator, patient=enrolled, activity=Activity.MEDICATION
    )
    with pytest.raises(ValidationError, match="already running"):
        services.timer_start(practice=practice, actor=coordinator, patient=enrolled)
    frozen.shift(dt.timedelta(minutes=12, seconds=59))
    entry = services.timer_stop(
        practice=practice, actor=coordinator, activity=Activity.MEDICATION, note="Reconciled"
    )
    assert entry.minutes == 12
    assert entry.source == "timer"
    assert entry.started_at == NOW
    assert not RunningTimer.objects.exists()


def test_a_timer_past_the_practice_limit_needs_confirmation_and_may_be_lowered(
    practice, coordinator, enrolled, frozen
):
    services.timer_start(practice=practice, actor=coordinator, patient=enrolled)
    frozen.shift(dt.timedelta(minutes=practice.timer_confirm_minutes + 30))
    with pytest.raises(ValidationError, match="longer than the practice's 120-minute limit"):
        services.timer_stop(practice=practice, actor=coordinator, activity=Activity.OTHER)
    assert RunningTimer.objects.exists()
    assert not TimeEntry.objects.exists()
    entry = services.timer_stop(
        practice=practice, actor=coordinator, activity=Activity.OTHER, minutes=35, confirmed=True
    )
    assert entry.minutes == 35


def test_a_timer_under_a_minute_logs_nothing_and_can_be_discarded(
    practice, coordinator, enrolled, frozen
):
    services.timer_start(practice=practice, actor=coordinator, patient=enrolled)
    frozen.shift(dt.timedelta(seconds=50))
    with pytest.raises(ValidationError, match="Less than a minute"):
        services.timer_stop(practice=practice, actor=coordinator, activity=Activity.OTHER)
    services.timer_discard(practice=practice, actor=coordinator)
    assert not RunningTimer.objects.exists()
    assert not TimeEntry.objects.exists()


# --- Tasks ---------------------------------------------------------------------------------


def test_one_open_task_per_patient_kind_and_month(practice, coordinator, enrolled):
    kwargs = {
        "practice": practice,
        "actor": coordinator,
        "patient": enrolled,
        "kind": TaskKind.FOLLOW_UP_CALL,
        "due_on": dt.date(2026, 10, 22),
    }
    services.task_create(**kwargs, assignee=coordinator)
    with pytest.raises(ValidationError, match="already exists"):
        services.task_create(**kwargs)
    assert Task.objects.count() == 1
    with pytest.raises(ValidationError) as caught:
        services.task_create(**{**kwargs, "kind": TaskKind.CUSTOM})
    assert caught.value.message_dict["title"] == [services.TASK_TITLE_MESSAGE]


def _check_in(practice, coordinator, patient, **kw):
    """A check-in call task due on 20 October."""
    return services.task_create(
        practice=practice,
        actor=coordinator,
        patient=patient,
        kind=TaskKind.CHECK_IN,
        due_on=dt.date(2026, 10, 20),
        **kw,
    )


def test_completing_a_call_task_logs_its_minutes_in_the_same_step(practice, coordinator, enrolled):
    task = _check_in(practice, coordinator, enrolled, assignee=coordinator)
    done = services.task_complete(
        practice=practice, actor=coordinator, task=task, note="Doing well", log_minutes=14
    )
    assert done.status == TaskStatus.DONE
    assert done.time_entry.minutes == 14
    assert done.time_entry.activity == Activity.CALL_PATIENT
    with pytest.raises(ApplicationError, match="already closed"):
        services.task_complete(practice=practice, actor=coordinator, task=task)


def test_a_failed_time_entry_leaves_the_task_open(practice, coordinator, enrolled):
    task = _check_in(practice, coordinator, enrolled)
    with pytest.raises(ValidationError), transaction.atomic():
        services.task_complete(practice=practice, actor=coordinator, task=task, log_minutes=500)
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    assert not TimeEntry.objects.exists()


def test_tasks_go_only_to_clinical_members_of_the_practice(
    practice, coordinator, biller, outsider, enrolled
):
    task = _check_in(practice, coordinator, enrolled)
    for wrong in (biller, outsider):
        with pytest.raises(ValidationError, match="active clinical member"):
            services.task_reassign(practice=practice, actor=coordinator, task=task, assignee=wrong)
    nurse = MembershipFactory(practice=practice, role="coordinator")
    assert (
        services.task_reassign(
            practice=practice, actor=coordinator, task=task, assignee=nurse
        ).assignee
        == nurse
    )


@pytest.mark.parametrize(
    ("instant", "month"),
    [
        # DST ends at 06:00 UTC on 2026-11-01; 03:30 UTC is still 23:30 EDT on October 31.
        (dt.datetime(2026, 11, 1, 3, 30, tzinfo=UTC), dt.date(2026, 10, 1)),
        (dt.datetime(2026, 11, 1, 4, 30, tzinfo=UTC), dt.date(2026, 11, 1)),
        # New Year: 04:59 UTC on January 1 is 23:59 on December 31 in New York.
        (dt.datetime(2027, 1, 1, 4, 59, tzinfo=UTC), dt.date(2026, 12, 1)),
        (dt.datetime(2027, 1, 1, 5, 0, tzinfo=UTC), dt.date(2027, 1, 1)),
    ],
)
def test_entries_at_month_ends_and_dst_land_in_the_local_month(
    practice, coordinator, enrolled, instant, month
):
    with time_machine.travel(instant + dt.timedelta(hours=1), tick=False):
        entry = _log(practice, coordinator, enrolled, start=instant, minutes=5)
    assert entry.billing_month == month
    assert TimeAdjustment.objects.count() == 0


@pytest.mark.parametrize(
    ("zone", "instant", "month"),
    [
        # 23:30 on the last day of the month, local time, lands in that month.
        ("America/New_York", (2026, 10, 31, 23, 30), dt.date(2026, 10, 1)),
        ("America/New_York", (2026, 11, 30, 23, 30), dt.date(2026, 11, 1)),
        ("America/Los_Angeles", (2026, 10, 31, 23, 30), dt.date(2026, 10, 1)),
        ("America/Los_Angeles", (2026, 11, 30, 23, 30), dt.date(2026, 11, 1)),
        # ...and midnight is the next month's first minute.
        ("America/Los_Angeles", (2026, 12, 1, 0, 0), dt.date(2026, 12, 1)),
    ],
)
def test_half_past_eleven_on_the_last_day_counts_in_that_month_on_the_worklist(
    practice, coordinator, enrolled, zone, instant, month
):
    import zoneinfo

    from timelog.models import MonthProgress

    practice.time_zone = zone
    practice.save(update_fields=["time_zone"])
    start = dt.datetime(*instant, tzinfo=zoneinfo.ZoneInfo(zone))
    with time_machine.travel(start + dt.timedelta(hours=2), tick=False):
        entry = _log(practice, coordinator, enrolled, start=start, minutes=20)
    assert entry.billing_month == month
    progress = MonthProgress.objects.unscoped().get(patient=enrolled, month=month)
    assert progress.staff_pool == 20  # R1: the practice's calendar month
    assert not MonthProgress.objects.unscoped().exclude(month=month).exists()
