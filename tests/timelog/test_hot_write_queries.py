"""The coordinator's hot-path writes have a fixed query count (issue 18, target 4): logging
time, stopping the timer on a call and completing a call task with its minutes.

Each count holds the request's own two (the session; the user, membership and practice in one
query: ccm middleware) and, for the write, one transaction: BEGIN, the patient's lock (with the
row the write claims or reads in the same statement), the month lock and overlap check in one
query, the inserts, one audit INSERT, the progress refresh's one read and one upsert, COMMIT.
A warm-up request first: the inactivity clock writes the session at most every 30 seconds."""

import datetime as dt

import pytest

from tests.factories import TaskFactory
from timelog.models import ContactAttempt, MonthProgress, TaskStatus, TimeEntry

pytestmark = pytest.mark.usefixtures("frozen")

# The middleware's per-request queries (session; user, membership and practice), owned by ccm.
PER_REQUEST = 2


def test_logging_time_runs_ten_queries(coordinator_client, enrolled, django_assert_num_queries):
    coordinator_client.get("/worklist/")  # warm-up: the session's activity clock
    data = {"started_at": "2026-10-19 09:00", "minutes": "12", "activity": "chart_review"}
    # + BEGIN, the patient read as it is locked (the view reads it no more), check, INSERT
    # entry, INSERT audit, refresh, upsert, COMMIT.
    with django_assert_num_queries(PER_REQUEST + 8):
        response = coordinator_client.post(f"/patients/{enrolled.pk}/time/new/", data)
    assert response.status_code == 302
    assert TimeEntry.objects.unscoped().get().minutes == 12
    assert MonthProgress.objects.unscoped().get().clinical_staff_minutes == 12


def test_stopping_the_timer_on_a_call_runs_twelve_queries(
    coordinator_client, enrolled, frozen, django_assert_num_queries
):
    coordinator_client.post("/timer/start/", {"patient": str(enrolled.pk)})
    frozen.shift(dt.timedelta(minutes=8))
    coordinator_client.get("/worklist/")  # warm-up: the session's activity clock
    data = {"activity": "call_patient", "outcome": "reached", "note": ""}
    # + the timer (view; without its patient), BEGIN, the patient's lock and the timer's
    # DELETE (the claim) in one statement, check, INSERT entry, INSERT attempt, INSERT audit
    # (3 events), refresh, upsert, COMMIT.
    with django_assert_num_queries(PER_REQUEST + 10):
        response = coordinator_client.post("/timer/stop/", data)
    assert response.status_code == 302
    attempt = ContactAttempt.objects.unscoped().get()
    assert attempt.time_entry == TimeEntry.objects.unscoped().get()
    assert MonthProgress.objects.unscoped().get().clinical_staff_minutes == 8


def test_completing_a_call_task_with_its_minutes_runs_twelve_queries(
    coordinator_client, enrolled, django_assert_num_queries
):
    task = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 20))
    coordinator_client.get("/worklist/")  # warm-up: the session's activity clock
    data = {"log_minutes": "12", "outcome": "reached", "note": ""}
    # + BEGIN, the task and its patient read and locked in one statement (the form's version
    # is checked on it), check, INSERT entry, UPDATE task, INSERT attempt, INSERT audit (3
    # events), refresh, upsert, COMMIT.
    with django_assert_num_queries(PER_REQUEST + 10):
        response = coordinator_client.post(f"/tasks/{task.pk}/complete/", data)
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert ContactAttempt.objects.unscoped().get().task == task
    assert MonthProgress.objects.unscoped().get().clinical_staff_minutes == 12
