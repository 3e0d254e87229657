"""Contact attempt pages (issue 17): "Log a contact" on the chart, the contact fields of the
timer's stop and a task's completion, the worklist's unanswered count and last reached."""

import datetime as dt

import pytest

from ccm.tenancy import practice_scope
from tests.factories import CareContactFactory, TaskFactory
from tests.helpers import assert_form_error, audited
from timelog.contact_services import OUTCOME_MESSAGE
from timelog.models import ContactAttempt, MonthProgress, RunningTimer, TaskStatus, TimeEntry

pytestmark = pytest.mark.usefixtures("frozen")
UTC = dt.UTC
GOOD = {
    "occurred_at": "2026-10-20 09:30",
    "outcome": "no_answer",
    "direction": "outbound",
    "channel": "phone",
    "party": "patient",
    "note": "Rang out",
}


def _url(patient):
    return f"/patients/{patient.pk}/contact-attempts/new/"


def _attempts():
    return ContactAttempt.objects.unscoped()


def test_logging_a_contact_from_the_chart_shows_it_and_the_last_reached(
    coordinator_client, enrolled
):
    daughter = CareContactFactory(patient=enrolled, name="Maria Ruiz", relationship="Daughter")
    assert coordinator_client.post(_url(enrolled), GOOD).status_code == 302
    reached = {**GOOD, "occurred_at": "2026-10-20 10:00", "outcome": "reached"}
    response = coordinator_client.post(_url(enrolled), {**reached, "contact": str(daughter.pk)})
    assert response.status_code == 302
    assert response["Location"].endswith("#contacts")
    # 10:00 in New York is 14:00 UTC (EDT).
    last = dt.datetime(2026, 10, 20, 14, 0, tzinfo=UTC)
    assert _attempts().get(outcome="reached").party == "caregiver"
    assert MonthProgress.objects.unscoped().get().last_contact_at == last
    chart = coordinator_client.get(f"/patients/{enrolled.pk}/").content.decode()
    assert "Last reached:" in chart
    assert "2026-10-20 10:00" in chart
    assert "Maria Ruiz" in chart
    assert "Rang out" in chart
    assert audited("contactattempt.create", patient_id=enrolled.pk)


def test_bad_input_shows_the_chart_with_the_message_and_saves_nothing(coordinator_client, enrolled):
    response = coordinator_client.post(_url(enrolled), {**GOOD, "outcome": ""})
    assert_form_error(response, OUTCOME_MESSAGE)
    future = coordinator_client.post(_url(enrolled), {**GOOD, "occurred_at": "2026-10-21 09:00"})
    assert_form_error(future, "A contact cannot be in the future.")
    assert not _attempts().exists()


def test_another_patients_contact_is_refused(coordinator_client, practice, enrolled):
    from tests.factories import PatientFactory

    stranger = CareContactFactory(patient=PatientFactory(practice=practice))
    response = coordinator_client.post(_url(enrolled), {**GOOD, "contact": str(stranger.pk)})
    assert response.status_code == 400
    assert not _attempts().exists()


def test_outsider_gets_404_biller_403_and_get_is_refused(
    outsider_client, biller_client, coordinator_client, enrolled
):
    assert outsider_client.post(_url(enrolled), GOOD).status_code == 404
    assert biller_client.post(_url(enrolled), GOOD).status_code == 403
    assert coordinator_client.get(_url(enrolled)).status_code == 405
    assert not _attempts().exists()


def test_the_chart_is_read_only_for_a_biller(biller_client, enrolled):
    chart = biller_client.get(f"/patients/{enrolled.pk}/").content.decode()
    assert "Last reached:" in chart
    assert "Log a contact" not in chart
    assert not _attempts().exists()


def test_stopping_the_timer_on_a_call_records_its_outcome(coordinator_client, enrolled, frozen):
    coordinator_client.post("/timer/start/", {"patient": str(enrolled.pk)})
    frozen.shift(dt.timedelta(minutes=8))
    assert "Outcome" in coordinator_client.get("/timer/stop/").content.decode()
    refused = coordinator_client.post("/timer/stop/", {"activity": "call_patient"})
    assert_form_error(refused, OUTCOME_MESSAGE)
    assert RunningTimer.objects.unscoped().exists()
    saved = coordinator_client.post(
        "/timer/stop/", {"activity": "call_patient", "outcome": "voicemail", "note": "Left a msg"}
    )
    assert saved.status_code == 302
    attempt = _attempts().get()
    assert attempt.time_entry == TimeEntry.objects.unscoped().get()
    assert (attempt.outcome, attempt.note) == ("voicemail", "Left a msg")


def test_completing_a_call_task_takes_its_start_and_end(coordinator_client, enrolled):
    task = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 20))
    page = coordinator_client.get(f"/tasks/{task.pk}/").content.decode()
    assert "Call started" in page
    refused = coordinator_client.post(f"/tasks/{task.pk}/complete/", {"log_minutes": "5"})
    assert_form_error(refused, OUTCOME_MESSAGE)
    done = coordinator_client.post(
        f"/tasks/{task.pk}/complete/",
        {
            "log_started_at": "2026-10-20 08:00",
            "log_ended_at": "2026-10-20 08:12",
            "outcome": "reached",
            "note": "All well",
        },
    )
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    # 08:00 in New York is 12:00 UTC.
    assert task.time_entry.started_at == dt.datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    assert task.time_entry.minutes == 12
    assert _attempts().get().task == task


def test_a_call_ending_in_the_future_is_refused_on_the_task_form(coordinator_client, enrolled):
    task = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 20))
    response = coordinator_client.post(
        f"/tasks/{task.pk}/complete/",
        {"log_started_at": "2026-10-20 10:55", "log_minutes": "30", "outcome": "reached"},
    )
    assert_form_error(response, "The call cannot end in the future")
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_the_worklist_shows_unanswered_attempts_and_last_reached(
    coordinator_client, practice, enrolled
):
    for outcome, hour in (("reached", "08:00"), ("no_answer", "09:00"), ("voicemail", "09:30")):
        data = {**GOOD, "outcome": outcome, "occurred_at": f"2026-10-20 {hour}"}
        assert coordinator_client.post(_url(enrolled), data).status_code == 302
    with practice_scope(practice):
        assert MonthProgress.objects.get().unanswered_attempts == 2
    body = coordinator_client.get("/worklist/").content.decode()
    assert "Last reached" in body
    assert "2 unanswered this month" in body
    assert "2026-10-20" in body


def test_the_charts_contact_panel_has_a_fixed_query_count(
    coordinator_client, coordinator, physician, enrolled
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import ContactAttemptFactory, MembershipFactory

    def chart_queries():
        with CaptureQueriesContext(connection) as ctx:
            assert coordinator_client.get(f"/patients/{enrolled.pk}/").status_code == 200
        return len(ctx.captured_queries)

    def attempts(count):
        for n in range(count):
            ContactAttemptFactory(
                patient=enrolled,
                occurred_at=dt.datetime(2026, 10, 1 + n, 14, tzinfo=UTC),
                outcome="no_answer",
                contact=CareContactFactory(patient=enrolled),
                recorded_by=MembershipFactory(practice=enrolled.practice),
            )

    attempts(1)
    chart_queries()  # the session's first page loads what later pages find cached
    few = chart_queries()
    attempts(9)
    assert chart_queries() == few
