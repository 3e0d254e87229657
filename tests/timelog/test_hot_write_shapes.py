"""The shapes the hot-path writes took for speed (issue 18, target 4) keep their guarantees:
the month-lock-and-overlap query compiled once is the query the ORM builds; logging time and
stopping the timer check the patient's row as the write locks it (not a copy read before the
lock, which the page no longer reads); a completion writes the columns it sets."""

import datetime as dt
import uuid

import pytest
from django.core.exceptions import ValidationError

from ccm.api_auth import StateConflict
from patients.models import Patient, Status
from tests.factories import PatientFactory, TaskFactory
from timelog import services
from timelog.models import RunningTimer, TaskStatus, TimeEntry

pytestmark = pytest.mark.usefixtures("frozen")
UTC = dt.UTC


def test_the_compiled_check_is_the_query_the_orm_builds(practice):
    values = {
        "practice_id": practice.pk,
        "performer_id": uuid.uuid4(),
        "entry_id": uuid.uuid4(),
        "month": dt.date(2026, 10, 1),
        "started_at": dt.datetime(2026, 10, 19, 14, tzinfo=UTC),
        "ended_at": dt.datetime(2026, 10, 19, 15, tzinfo=UTC),
    }
    built = services._open_and_free(**values).query.sql_with_params()
    assert services.open_and_free_sql(**values) == (built[0], list(built[1]))
    # Every value reached the parameters (none is a stand-in left in place).
    assert set(values.values()) <= set(built[1])


def test_the_check_still_refuses_a_closed_month_and_names_an_overlap(
    scoped, practice, coordinator, enrolled
):
    start = dt.datetime(2026, 10, 19, 14, 0, tzinfo=UTC)  # 10:00 in New York
    log = dict(practice=practice, actor=coordinator, activity="chart_review")
    services.time_entry_create(**log, patient=enrolled, started_at=start, minutes=30)
    with pytest.raises(StateConflict, match="overlaps your entry for Ada Lovelace-T-1"):
        services.time_entry_create(**log, patient=enrolled.pk, started_at=start, minutes=5)
    services.month_lock(practice=practice, month=dt.date(2026, 10, 1), actor=coordinator)
    with pytest.raises(services.MonthLocked):
        services.time_entry_create(
            **log, patient=enrolled.pk, started_at=start + dt.timedelta(hours=1), minutes=5
        )
    assert TimeEntry.objects.unscoped().count() == 1


def test_logging_time_checks_the_patient_as_locked_not_as_read_before(
    scoped, practice, coordinator, enrolled
):
    read_before = Patient.objects.unscoped().get(pk=enrolled.pk)
    Patient.objects.unscoped().filter(pk=enrolled.pk).update(status=Status.DECLINED)
    with pytest.raises(StateConflict, match="only be logged for enrolled"):
        services.time_entry_create(
            practice=practice,
            actor=coordinator,
            patient=read_before,  # still says enrolled
            started_at=dt.datetime(2026, 10, 19, 14, tzinfo=UTC),
            minutes=10,
            activity="chart_review",
        )
    assert not TimeEntry.objects.unscoped().exists()


def test_logging_time_on_the_page_for_another_practices_patient_is_404(
    coordinator_client, other_practice
):
    stranger = PatientFactory(practice=other_practice, status=Status.ENROLLED)
    data = {"started_at": "2026-10-19 09:00", "minutes": "12", "activity": "chart_review"}
    for patient_id in (stranger.pk, uuid.uuid4()):
        response = coordinator_client.post(f"/patients/{patient_id}/time/new/", data)
        assert response.status_code == 404
    assert not TimeEntry.objects.unscoped().exists()


def test_a_refused_log_shows_the_patients_form_again(coordinator_client, enrolled):
    data = {"started_at": "2026-10-21 09:00", "minutes": "12", "activity": "chart_review"}
    response = coordinator_client.post(f"/patients/{enrolled.pk}/time/new/", data)  # future
    assert response.status_code == 400
    assert services.FUTURE_MESSAGE in response.content.decode()
    assert "Lovelace-T-1" in response.content.decode()
    assert not TimeEntry.objects.unscoped().exists()


def test_stopping_the_timer_checks_the_patient_as_locked_and_keeps_the_timer_on_refusal(
    coordinator_client, enrolled, frozen
):
    coordinator_client.post("/timer/start/", {"patient": str(enrolled.pk)})
    frozen.shift(dt.timedelta(minutes=8))
    Patient.objects.unscoped().filter(pk=enrolled.pk).update(status=Status.DECLINED)
    data = {"activity": "call_patient", "outcome": "reached", "note": ""}
    response = coordinator_client.post("/timer/stop/", data)
    assert response.status_code == 400
    assert "only be logged for enrolled" in response.content.decode()
    assert RunningTimer.objects.unscoped().count() == 1  # the claim rolled back with the rest
    assert not TimeEntry.objects.unscoped().exists()


def test_completing_a_call_task_writes_its_closing_columns_and_its_entry(
    coordinator_client, coordinator, enrolled
):
    task = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 20), title="Call back")
    data = {"log_minutes": "12", "outcome": "reached", "note": "Spoke with her"}
    response = coordinator_client.post(f"/tasks/{task.pk}/complete/", data)
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert task.completion_note == "Spoke with her"
    assert task.completed_by == coordinator
    assert task.completed_at is not None
    assert task.time_entry == TimeEntry.objects.unscoped().get()
    assert task.title == "Call back"  # the other columns as they were


def test_a_timer_stop_for_a_patient_who_left_since_is_refused_and_the_timer_kept(
    scoped, practice, coordinator, enrolled, frozen
):
    services.timer_start(practice=practice, actor=coordinator, patient=enrolled)
    frozen.shift(dt.timedelta(minutes=3))
    Patient.objects.unscoped().filter(pk=enrolled.pk).update(
        status=Status.DISENROLLED, status_on=dt.date(2026, 10, 1)
    )
    with pytest.raises(ValidationError, match="left CCM on 2026-10-01"):
        services.timer_stop(practice=practice, actor=coordinator, activity="chart_review")
    assert RunningTimer.objects.unscoped().count() == 1
