"""The daily outreach job: idempotent tasks, one PHI-free digest per member, safe in parallel."""

import datetime as dt
from io import StringIO
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from ccm.tenancy import practice_scope
from patients.models import Consent
from tests.careplans.conftest import sign_plan
from tests.factories import ContactAttemptFactory, staff_time
from tests.helpers import at_once
from tests.timelog.conftest import NOW, make_enrolled
from timelog import reminders, tasks
from timelog.models import ReminderDigest, Task, TaskKind, TaskOrigin

UTC = dt.UTC


def _open_tasks(practice):
    with practice_scope(practice):
        return sorted(Task.objects.values_list("patient__mrn", "kind"))


@pytest.fixture
def cast(practice, physician, coordinator):
    """Three enrolled patients of the coordinator: on pace, behind, no consent."""
    with practice_scope(practice):
        on_pace = make_enrolled(practice, physician, coordinator, mrn="R-OK")
        behind = make_enrolled(practice, physician, coordinator, mrn="R-BEHIND")
        no_consent = make_enrolled(practice, physician, coordinator, mrn="R-NOCONSENT")
        Consent.objects.filter(patient=no_consent).delete()
        for patient in (on_pace, behind, no_consent):
            sign_plan(practice, coordinator, physician, patient)
        staff_time(on_pace, coordinator, physician, dt.datetime(2026, 10, 15, 14, tzinfo=UTC), 20)
        staff_time(behind, coordinator, physician, dt.datetime(2026, 10, 16, 14, tzinfo=UTC), 4)
        for patient, day in ((on_pace, 15), (behind, 16)):  # reached on those calls
            at = dt.datetime(2026, 10, day, 14, tzinfo=UTC)
            ContactAttemptFactory(patient=patient, occurred_at=at, recorded_by=coordinator)
    return {"on_pace": on_pace, "behind": behind, "no_consent": no_consent}


@pytest.mark.usefixtures("frozen")
def test_the_job_creates_the_right_tasks_and_running_it_twice_adds_nothing(practice, cast):
    first = reminders.send_reminders(practice_id=str(practice.pk))
    expected = [
        ("R-BEHIND", TaskKind.CHECK_IN),
        ("R-NOCONSENT", TaskKind.CHECK_IN),  # no consent: no minutes count (R5), so behind too
        ("R-NOCONSENT", TaskKind.CONSENT_RENEWAL),
        ("R-NOCONSENT", TaskKind.FOLLOW_UP_CALL),  # no contact in 30 days
    ]
    assert _open_tasks(practice) == expected
    assert first.tasks_created == 4
    second = reminders.send_reminders(practice_id=str(practice.pk))
    assert second.tasks_created == 0
    assert _open_tasks(practice) == expected
    with practice_scope(practice):
        task = Task.objects.get(patient=cast["behind"], kind=TaskKind.CHECK_IN)
    assert task.origin == TaskOrigin.REMINDER
    assert task.assignee == cast["behind"].coordinator
    assert task.due_on == dt.date(2026, 10, 20)
    assert task.reason == "Behind pace: 4 of 20 minutes, 11 days left"


def test_nobody_is_chased_for_pace_before_the_eleventh(practice, cast):
    with time_machine.travel(dt.datetime(2026, 10, 10, 15, tzinfo=UTC), tick=False):
        reminders.send_reminders(practice_id=str(practice.pk))
    kinds = {kind for _, kind in _open_tasks(practice)}
    assert TaskKind.CHECK_IN not in kinds


@pytest.mark.usefixtures("frozen")
def test_each_member_gets_one_digest_a_day_with_counts_and_links_but_no_phi(
    practice, cast, coordinator
):
    reminders.send_reminders(practice_id=str(practice.pk))
    reminders.send_reminders(practice_id=str(practice.pk))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [coordinator.user.email]
    assert "4 open tasks assigned to you" in message.body
    assert "4 new today" in message.body
    assert "/tasks/?view=mine" in message.body
    assert "/worklist/" in message.body
    for patient in cast.values():
        for phi in (patient.first_name, patient.last_name, patient.mrn, patient.mbi):
            assert phi not in message.body
            assert phi not in message.subject
    with practice_scope(practice):
        assert ReminderDigest.objects.get().counts["open"] == 4


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_job_at_once_create_each_task_and_digest_once(practice, request):
    # The cast (and its care plans) as of NOW, the day both workers run the job.
    with time_machine.travel(NOW, tick=False):
        request.getfixturevalue("cast")

    def run():
        with time_machine.travel(NOW, tick=False):
            reminders.send_reminders(practice_id=str(practice.pk))

    assert at_once(run) == []
    assert len(_open_tasks(practice)) == 4
    assert len(mail.outbox) == 1
    with practice_scope(practice):
        assert ReminderDigest.objects.count() == 1


@pytest.mark.usefixtures("frozen")
def test_the_beat_task_fans_out_one_task_per_practice_with_ids_only(practice, other_practice):
    with mock.patch.object(tasks.send_reminders_for_practice, "delay") as delay:
        assert tasks.send_reminders() == 2
    sent = sorted(call.args for call in delay.call_args_list)
    assert sent == sorted([(str(practice.pk),), (str(other_practice.pk),)])


@pytest.mark.usefixtures("frozen")
def test_the_command_runs_the_job_once_now(practice, cast):
    out = StringIO()
    call_command("send_reminders", "--practice", practice.slug, stdout=out)
    assert "4 task(s) created, 1 digest(s) sent" in out.getvalue()
    out = StringIO()
    call_command("send_reminders", stdout=out)
    assert "0 task(s) created, 0 digest(s) sent" in out.getvalue()


@pytest.mark.usefixtures("frozen")
def test_a_missing_plan_or_a_due_review_makes_one_care_plan_task(
    practice, physician, coordinator, cast
):
    from careplans.models import CarePlan

    with practice_scope(practice):
        bare = make_enrolled(practice, physician, coordinator, mrn="R-NOPLAN")
        CarePlan.objects.filter(patient=cast["on_pace"]).update(next_review_on=NOW.date())
    reminders.send_reminders(practice_id=str(practice.pk))
    with practice_scope(practice):
        reviews = Task.objects.filter(kind=TaskKind.CARE_PLAN_REVIEW).order_by("patient__mrn")
        assert [(t.patient, t.reason) for t in reviews] == [
            (bare, "No signed care plan on file (R11)"),
            (cast["on_pace"], "Care plan review due"),
        ]
