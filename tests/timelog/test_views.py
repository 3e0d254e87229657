"""Pages: worklist, log/edit time, timer, tasks; roles, outsiders, bad input, locked months."""

import datetime as dt

import pytest

from tests.factories import TaskFactory, TimeEntryFactory
from tests.helpers import audited
from timelog import services
from timelog.models import RunningTimer, Task, TaskStatus, TimeEntry

pytestmark = pytest.mark.usefixtures("frozen")
GOOD = {"started_at": "2026-10-20 09:30", "minutes": "15", "activity": "call_patient", "note": "ok"}


def _entry(patient, performer, **kw):
    kw.setdefault("started_at", dt.datetime(2026, 10, 19, 14, tzinfo=dt.UTC))
    return TimeEntryFactory(
        patient=patient, performer=performer, practitioner=patient.billing_practitioner, **kw
    )


def test_coordinator_sees_their_worklist_and_each_patient_shown_is_audited(
    coordinator_client, enrolled
):
    _entry(enrolled, enrolled.coordinator, minutes=12)
    response = coordinator_client.get("/worklist/")
    assert response.status_code == 200
    body = response.content.decode()
    assert enrolled.last_name in body
    assert "8 min to 99490" in body
    assert audited("worklist.list", patient_id=enrolled.pk)


def test_the_worklist_updates_in_place_with_htmx(coordinator_client, enrolled):
    response = coordinator_client.get(
        "/worklist/?show=below", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="worklist"
    )
    assert response.status_code == 200
    assert "<html" not in response.content.decode()


def test_a_bad_month_falls_back_to_this_month_with_a_message(coordinator_client, enrolled):
    response = coordinator_client.get("/worklist/?month=2026-13", follow=True)
    assert "written YYYY-MM" in response.content.decode()
    assert "October 2026" in response.content.decode()


def test_logging_time_from_the_chart(coordinator_client, enrolled):
    response = coordinator_client.post(f"/patients/{enrolled.pk}/time/new/", GOOD)
    assert response.status_code == 302
    entry = TimeEntry.objects.unscoped().get()
    # 09:30 in New York is 13:30 UTC (EDT).
    assert entry.started_at == dt.datetime(2026, 10, 20, 13, 30, tzinfo=dt.UTC)
    chart = coordinator_client.get(response["Location"]).content.decode()
    assert "15 countable minutes" in chart or "<strong>15</strong> countable minutes" in chart


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("minutes", "0", "greater than or equal to 1"),
        ("minutes", "300", "less than or equal to 240"),
        ("started_at", "2026-10-21 09:30", services.FUTURE_MESSAGE),
        ("activity", "", "This field is required"),
    ],
)
def test_bad_time_shows_a_clear_message_and_saves_nothing(
    coordinator_client, enrolled, field, value, message
):
    response = coordinator_client.post(f"/patients/{enrolled.pk}/time/new/", {**GOOD, field: value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TimeEntry.objects.unscoped().exists()


def test_a_biller_may_read_time_but_not_log_it(biller_client, enrolled):
    assert biller_client.get("/worklist/").status_code == 200
    assert biller_client.get("/time/").status_code == 200
    response = biller_client.post(f"/patients/{enrolled.pk}/time/new/", GOOD)
    assert response.status_code == 403
    assert not TimeEntry.objects.unscoped().exists()


def test_the_outsider_gets_404_for_every_time_and_task_page(outsider_client, enrolled, coordinator):
    entry = _entry(enrolled, coordinator)
    task = TaskFactory(patient=enrolled)
    for url in (
        f"/patients/{enrolled.pk}/time/new/",
        f"/time/{entry.pk}/edit/",
        f"/time/{entry.pk}/adjust/",
        f"/tasks/{task.pk}/",
        f"/patients/{enrolled.pk}/tasks/new/",
    ):
        assert outsider_client.get(url).status_code == 404, url
    response = outsider_client.post("/timer/start/", {"patient": str(enrolled.pk)})
    assert response.status_code == 404
    assert not RunningTimer.objects.unscoped().exists()


def test_state_changing_pages_refuse_get(coordinator_client, enrolled, coordinator):
    entry = _entry(enrolled, coordinator)
    for url in ("/timer/start/", "/timer/discard/", f"/time/{entry.pk}/delete/"):
        assert coordinator_client.get(url).status_code == 405, url


def test_a_closed_months_entry_is_read_only_and_says_why(coordinator_client, enrolled, coordinator):
    entry = _entry(enrolled, coordinator, minutes=20)
    services.month_lock(practice=enrolled.practice, month=dt.date(2026, 10, 1))
    page = coordinator_client.get(f"/time/{entry.pk}/edit/")
    assert "closed for billing" in page.content.decode()
    response = coordinator_client.post(f"/time/{entry.pk}/edit/", {**GOOD, "minutes": "40"})
    assert response.status_code == 409
    entry.refresh_from_db()
    assert entry.minutes == 20
    adjust = coordinator_client.post(
        f"/time/{entry.pk}/adjust/", {"corrected_minutes": "18", "reason": "Call ended early"}
    )
    assert adjust.status_code == 302
    chart = coordinator_client.get(adjust["Location"]).content.decode()
    assert "Call ended early" in chart
    assert "Corrected -2 min" in chart


def test_the_timer_survives_navigation_and_shows_in_the_header(
    coordinator_client, enrolled, frozen
):
    response = coordinator_client.post("/timer/start/", {"patient": str(enrolled.pk)})
    assert response.status_code == 302
    frozen.shift(dt.timedelta(minutes=10))
    assert coordinator_client.get("/worklist/").status_code == 200  # activity: still signed in
    frozen.shift(dt.timedelta(minutes=7, seconds=40))
    # A second tab or a reload asks the server: the start time is kept there.
    other_tab = coordinator_client.get("/patients/")
    assert "Timer running for" in other_tab.content.decode()
    stop_page = coordinator_client.get("/timer/stop/")
    assert "17 whole minutes" in stop_page.content.decode()
    saved = coordinator_client.post("/timer/stop/", {"activity": "chart_review", "note": ""})
    assert saved.status_code == 302
    assert TimeEntry.objects.unscoped().get().minutes == 17
    assert "Timer running for" not in coordinator_client.get("/patients/").content.decode()


def test_a_forgotten_timer_asks_for_confirmation(coordinator_client, coordinator, enrolled, frozen):
    coordinator_client.post("/timer/start/", {"patient": str(enrolled.pk)})
    frozen.shift(dt.timedelta(hours=3))
    # Signed out for inactivity meanwhile; the timer waits on the server for the next sign-in.
    assert coordinator_client.get("/worklist/").status_code == 302
    coordinator_client.force_login(coordinator.user)
    response = coordinator_client.post("/timer/stop/", {"activity": "other"})
    assert response.status_code == 400
    assert "longer than the practice" in response.content.decode()
    assert not TimeEntry.objects.unscoped().exists()
    confirmed = coordinator_client.post(
        "/timer/stop/", {"activity": "other", "minutes": "25", "confirm": "on"}
    )
    assert confirmed.status_code == 302
    assert TimeEntry.objects.unscoped().get().minutes == 25


def test_tasks_are_listed_created_reassigned_and_completed_with_time(
    coordinator_client, coordinator, physician, enrolled
):
    created = coordinator_client.post(
        f"/patients/{enrolled.pk}/tasks/new/",
        {"kind": "follow_up_call", "due_on": "2026-10-20", "assignee": str(coordinator.pk)},
    )
    assert created.status_code == 302
    task = Task.objects.unscoped().get()
    assert enrolled.last_name in coordinator_client.get("/tasks/?view=today").content.decode()
    moved = coordinator_client.post(f"/tasks/{task.pk}/reassign/", {"assignee": str(physician.pk)})
    assert moved.status_code == 302
    done = coordinator_client.post(
        f"/tasks/{task.pk}/complete/",
        {
            "note": "Reached daughter",
            "log_minutes": "9",
            "outcome": "reached",
            "party": "caregiver",
        },
    )
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert task.assignee == physician
    assert task.time_entry.minutes == 9


def test_a_bad_task_shows_a_clear_message_and_saves_nothing(coordinator_client, enrolled):
    response = coordinator_client.post(
        f"/patients/{enrolled.pk}/tasks/new/", {"kind": "custom", "due_on": "2026-10-20"}
    )
    assert response.status_code == 400
    assert services.TASK_TITLE_MESSAGE in response.content.decode()
    assert not Task.objects.unscoped().exists()


def test_a_biller_cannot_work_tasks(biller_client, enrolled):
    task = TaskFactory(patient=enrolled)
    assert biller_client.get(f"/tasks/{task.pk}/").status_code == 200
    assert biller_client.post(f"/tasks/{task.pk}/complete/", {}).status_code == 403
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_coordinators_land_on_the_worklist_and_others_at_home(coordinator_client, admin_client):
    assert coordinator_client.get("/")["Location"] == "/worklist/"
    assert admin_client.get("/")["Location"] == "/home/"


def test_the_worklist_page_has_a_fixed_query_count(coordinator_client, coordinator, physician):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.timelog.conftest import make_enrolled

    def grow(first, count):
        for n in range(first, first + count):
            patient = make_enrolled(coordinator.practice, physician, coordinator, mrn=f"V-{n}")
            TaskFactory(patient=patient, due_on=dt.date(2026, 10, 21))
            _entry(
                patient,
                coordinator,
                minutes=5,
                started_at=dt.datetime(2026, 10, 2, 14, tzinfo=dt.UTC)
                + dt.timedelta(minutes=10 * n),
            )

    grow(0, 2)
    coordinator_client.get("/worklist/")  # the session's activity stamp: at most every 30 s
    with CaptureQueriesContext(connection) as few:
        assert coordinator_client.get("/worklist/?who=all").status_code == 200
    grow(2, 30)  # more than a page (25)
    with CaptureQueriesContext(connection) as many:
        response = coordinator_client.get("/worklist/?who=all")
    assert response.content.decode().count("Start timer</button>") == 25
    assert len(many.captured_queries) == len(few.captured_queries) <= 10
    # Sorted by a key stored on the progress rows, the count is read first: one more.
    with CaptureQueriesContext(connection) as by_contact:
        response = coordinator_client.get("/worklist/?who=all&sort=contact")
    assert response.content.decode().count("Start timer</button>") == 25
    assert len(by_contact.captured_queries) == len(few.captured_queries) + 1


def test_one_members_time_and_another_practices_member(
    biller_client, enrolled, coordinator, physician, outsider
):
    _entry(enrolled, coordinator)
    page = biller_client.get(f"/time/?month=2026-10&performer={coordinator.pk}")
    assert page.status_code == 200
    assert b"Time logged by" in page.content
    assert b"Lovelace" in page.content
    assert biller_client.get(f"/time/?performer={outsider.pk}").status_code == 404
    assert biller_client.get("/time/?performer=nope").status_code == 404
    none = biller_client.get(f"/time/?month=2026-10&performer={physician.pk}")
    assert b"Lovelace" not in none.content
