"""The hot-path writes' one-statement locks under real concurrency (issue 18, target 4): the
timer's stop claims the timer in the patient's lock statement, a task's completion reads and
locks the task and its patient in one statement. Writers queued behind a held patient lock
save once, and the others are refused (never a 500, never a deadlock)."""

import datetime as dt
import threading

import pytest
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from ccm.tenancy import practice_scope
from patients import engine_inputs
from tests.factories import TaskFactory
from tests.helpers import start_in_threads
from tests.timelog.conftest import make_enrolled
from timelog import services
from timelog.models import ContactAttempt, Task, TaskStatus, TimeEntry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("frozen")]


def _client(membership, api=False):
    client = APIClient() if api else Client()
    client.force_login(membership.user)
    client.raise_request_exception = False  # a crash must show as the 500 a user gets
    return client


def _behind_a_held_lock(practice, patient, writers):
    """Hold the patient's lock, start the writers (each waits for it), then release it.
    The writers' status codes and the errors raised."""
    held, release = threading.Event(), threading.Event()
    statuses: list[int] = []

    def hold():
        with transaction.atomic():
            engine_inputs.lock_patients(practice, [patient.pk])
            held.set()
            release.wait(10)

    (holder,), errors = start_in_threads([hold])
    assert held.wait(10)
    threads, writer_errors = start_in_threads(
        [lambda write=write: statuses.append(write().status_code) for write in writers]
    )
    for thread in threads:
        thread.join(0.5)
    assert all(thread.is_alive() for thread in threads)  # waiting for the patient's lock
    release.set()
    for thread in [holder, *threads]:
        thread.join(20)
    return sorted(statuses), errors + writer_errors


def test_two_stops_of_one_timer_behind_the_patient_lock_log_it_once(
    practice, physician, coordinator, frozen
):
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
        services.timer_start(practice=practice, actor=coordinator, patient=patient)
    frozen.shift(dt.timedelta(minutes=8))
    data = {"activity": "call_patient", "outcome": "reached", "note": ""}
    clients = [_client(coordinator), _client(coordinator)]
    stops = [lambda c=c: c.post("/timer/stop/", data) for c in clients]
    statuses, errors = _behind_a_held_lock(practice, patient, stops)
    assert errors == []
    assert statuses == [302, 400]  # the second finds the timer claimed: "No timer is running."
    assert TimeEntry.objects.unscoped().get().minutes == 8
    assert ContactAttempt.objects.unscoped().count() == 1


def test_a_task_completed_twice_at_once_on_the_page_and_the_api_closes_once(
    practice, physician, coordinator
):
    """The API locks the task then its patient; the page locks both in one statement in that
    order: whichever waits, neither deadlocks, and the second finds the task closed."""
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
        task = TaskFactory(patient=patient, due_on=dt.date(2026, 10, 20))
    page, api = _client(coordinator), _client(coordinator, api=True)
    writers = [
        lambda: page.post(
            f"/tasks/{task.pk}/complete/", {"log_minutes": "12", "outcome": "reached"}
        ),
        lambda: api.patch(
            f"/api/v1/tasks/{task.pk}/", {"status": "done", "log_minutes": 9}, format="json"
        ),
    ]
    statuses, errors = _behind_a_held_lock(practice, patient, writers)
    assert errors == []
    assert 500 not in statuses
    assert len([s for s in statuses if s in (200, 302)]) == 1  # one saved, the other refused
    assert Task.objects.unscoped().get().status == TaskStatus.DONE
    assert TimeEntry.objects.unscoped().count() == 1
