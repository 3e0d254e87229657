"""Time-entry, worklist and task API: contract shapes, roles, 404 outsiders, 400s, 409s."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from ccm.api import REFERENCE_MESSAGE
from tests.factories import TaskFactory, TimeEntryFactory, staff_time
from tests.timelog.conftest import make_enrolled
from timelog import services
from timelog.models import Task, TaskStatus, TimeEntry

pytestmark = pytest.mark.usefixtures("frozen")
LIST = "/api/v1/time-entries/"


def _api(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    client.force_login(membership.user)
    return client


def _body(who, **kw):
    body = {
        "patient": str(who.pk),
        "started_at": "2026-10-20T13:00:00Z",
        "minutes": 22,
        "activity": "coordination",
    }
    return {**body, **kw}


def test_log_time_read_it_back_and_list_by_month(coordinator, physician, enrolled):
    api = _api(coordinator)
    created = api.post(LIST, _body(enrolled, note="Faxed cardiology"), format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["billing_month"] == "2026-10"
    assert data["performer_kind"] == "clinical_staff"
    assert data["practitioner"] == str(physician.pk)
    assert data["started_at"] == "2026-10-20T13:00:00Z"
    assert data["locked"] is False
    listed = api.get(LIST, {"month": "2026-10", "patient": str(enrolled.pk)}).json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == data["id"]
    assert api.get(LIST, {"month": "2026-09"}).json()["count"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"minutes": 0}, "minutes"),
        ({"minutes": 241}, "minutes"),
        ({"started_at": "2026-10-20T13:00:00"}, "started_at"),
        ({"started_at": "2026-10-21T13:00:00Z"}, "started_at"),
        ({"started_at": "2026-10-20T12:99:00Z"}, "started_at"),  # was a 500
        ({"activity": "juggling"}, "activity"),
        ({"patient": "not-a-uuid"}, "patient"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(coordinator, enrolled, change, field):
    response = _api(coordinator).post(LIST, _body(enrolled, **change), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not TimeEntry.objects.unscoped().exists()


def test_a_bad_month_filter_is_a_400(coordinator, enrolled):
    response = _api(coordinator).get(LIST, {"month": "October"})
    assert response.status_code == 400
    assert "YYYY-MM" in response.json()["month"][0]


def test_a_closed_month_answers_409_on_every_write(coordinator, enrolled):
    api = _api(coordinator)
    entry_id = api.post(LIST, _body(enrolled), format="json").json()["id"]
    services.month_lock(practice=enrolled.practice, month=dt.date(2026, 10, 1))
    assert api.get(f"{LIST}{entry_id}/").json()["locked"] is True
    assert (
        api.post(
            LIST, _body(enrolled, started_at="2026-10-19T13:00:00Z"), format="json"
        ).status_code
        == 409
    )
    patched = api.patch(f"{LIST}{entry_id}/", {"minutes": 30}, format="json")
    assert patched.status_code == 409
    assert "closed for billing" in patched.json()["detail"]
    assert api.delete(f"{LIST}{entry_id}/").status_code == 409
    assert TimeEntry.objects.unscoped().get().minutes == 22


def test_edit_and_delete_an_open_months_entry(coordinator, enrolled):
    api = _api(coordinator)
    entry_id = api.post(LIST, _body(enrolled), format="json").json()["id"]
    patched = api.patch(f"{LIST}{entry_id}/", {"minutes": 31, "note": "longer"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["minutes"] == 31
    assert api.delete(f"{LIST}{entry_id}/").status_code == 204
    assert not TimeEntry.objects.unscoped().exists()


def test_roles_biller_reads_but_cannot_write_and_others_entries_are_403(
    biller, physician, coordinator, enrolled
):
    entry = TimeEntryFactory(patient=enrolled, performer=coordinator)
    assert _api(biller).get(LIST).status_code == 200
    assert _api(biller).post(LIST, _body(enrolled), format="json").status_code == 403
    response = _api(physician).patch(f"{LIST}{entry.pk}/", {"minutes": 1}, format="json")
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.minutes == 10


def test_the_outsider_gets_404_and_never_sees_another_practices_time(
    outsider, coordinator, enrolled
):
    entry = TimeEntryFactory(patient=enrolled, performer=coordinator, note="secret-note")
    task = TaskFactory(patient=enrolled)
    api = _api(outsider)
    for url in (f"{LIST}{entry.pk}/", f"/api/v1/tasks/{task.pk}/"):
        assert api.get(url).status_code == 404
        assert api.patch(url, {"minutes": 1}, format="json").status_code == 404
    assert api.get(LIST).json()["count"] == 0
    assert api.get("/api/v1/worklist/").json()["count"] == 0
    assert api.get("/api/v1/tasks/", {"view": "all"}).json()["count"] == 0
    created = api.post(LIST, _body(enrolled), format="json")
    # The patient is not in the caller's practice: as unknown, 404 (never reveal existence).
    assert created.status_code == 404
    assert created.json() == {"detail": REFERENCE_MESSAGE.format(field="patient")}
    assert TimeEntry.objects.unscoped().count() == 1


def test_the_worklist_api_gives_minutes_and_the_engines_next_threshold(
    practice, coordinator, physician, enrolled
):
    staff_time(enrolled, coordinator, physician, dt.datetime(2026, 10, 5, 14, tzinfo=dt.UTC), 26)
    data = _api(coordinator).get("/api/v1/worklist/", {"month": "2026-10"}).json()
    row = data["results"][0]
    assert row["patient"]["id"] == str(enrolled.pk)
    assert row["clinical_staff_minutes"] == 26
    assert row["next_threshold"] == {"code": "99439", "minutes_needed": 14}
    assert row["days_left"] == 11
    assert row["behind_pace"] is False


def test_the_worklist_api_has_a_fixed_query_count(
    practice,
    coordinator,
    physician,
):
    def grow(first, count):
        for n in range(first, first + count):
            patient = make_enrolled(practice, physician, coordinator, mrn=f"W-{n}")
            TaskFactory(patient=patient, due_on=dt.date(2026, 10, 21))
            TimeEntryFactory(
                patient=patient,
                performer=coordinator,
                started_at=dt.datetime(2026, 10, 5, 14, tzinfo=dt.UTC) + dt.timedelta(hours=n),
            )

    api = _api(coordinator)
    grow(0, 2)
    api.get("/api/v1/me/")  # the session's activity stamp is written at most every 30 s
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert api.get("/api/v1/worklist/").status_code == 200
    grow(2, 30)
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/v1/worklist/").json()["count"] == 32
    assert len(many.captured_queries) == len(few.captured_queries)


def test_tasks_api_create_list_and_complete_with_time(coordinator, enrolled):
    api = _api(coordinator)
    created = api.post(
        "/api/v1/tasks/",
        {"patient": str(enrolled.pk), "kind": "check_in", "due_on": "2026-10-20"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    task_id = created.json()["id"]
    duplicate = api.post(
        "/api/v1/tasks/",
        {"patient": str(enrolled.pk), "kind": "check_in", "due_on": "2026-10-22"},
        format="json",
    )
    assert duplicate.status_code == 409  # an open task of that kind exists
    assert api.get("/api/v1/tasks/", {"view": "today"}).json()["count"] == 1
    done = api.patch(
        f"/api/v1/tasks/{task_id}/",
        {
            "status": "done",
            "completion_note": "ok",
            "log_minutes": 12,
            "assignee": str(coordinator.pk),
        },
        format="json",
    )
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "done"
    assert done.json()["time_entry"] is not None
    again = api.patch(f"/api/v1/tasks/{task_id}/", {"status": "done"}, format="json")
    assert again.status_code == 409


def test_tasks_api_bad_input_and_roles(biller, coordinator, enrolled):
    task = TaskFactory(patient=enrolled)
    assert (
        _api(biller)
        .patch(f"/api/v1/tasks/{task.pk}/", {"status": "done"}, format="json")
        .status_code
        == 403
    )
    bad = _api(coordinator).patch(
        f"/api/v1/tasks/{task.pk}/", {"status": "done", "log_minutes": 999}, format="json"
    )
    assert bad.status_code == 400
    assert "log_minutes" in bad.json()
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    assert Task.objects.unscoped().count() == 1


def test_an_empty_query_parameter_is_refused_not_ignored(coordinator):
    # The schema says month is YYYY-MM: "?month=" is a bad value (400), as it is for a JSON
    # body, not a missing one (DRF's form semantics would silently drop it).
    response = _api(coordinator).get("/api/v1/worklist/?month=&sort=")
    assert response.status_code == 400
    assert set(response.json()) == {"month", "sort"}
