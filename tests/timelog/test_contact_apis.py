"""Contact attempt API: GET/POST /api/v1/patients/{id}/contact-attempts/, and the contact
fields and call start of a task's completion (PATCH /api/v1/tasks/{id}/). Every role reads,
clinical roles record; the outsider gets 404; refusals are 400s with nothing saved."""

import datetime as dt

import pytest

from ccm.api import REFERENCE_MESSAGE
from tests.factories import CareContactFactory, ContactAttemptFactory, TaskFactory
from tests.helpers import audited, token_client
from timelog.models import ContactAttempt, MonthProgress, TaskStatus

pytestmark = pytest.mark.usefixtures("frozen")
UTC = dt.UTC
GOOD = {"outcome": "voicemail", "occurred_at": "2026-10-20T13:00:00Z", "note": "Left a message"}


def _url(patient):
    return f"/api/v1/patients/{patient.pk}/contact-attempts/"


def _attempts():
    return ContactAttempt.objects.unscoped()


def test_recording_and_listing_attempts(coordinator, biller, enrolled):
    daughter = CareContactFactory(patient=enrolled)
    response = token_client(coordinator).post(
        _url(enrolled),
        {**GOOD, "outcome": "reached", "contact": str(daughter.pk)},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["party"], body["reached"], body["month"]) == ("caregiver", True, "2026-10")
    assert body["recorded_by"]["id"] == str(coordinator.pk)
    last = MonthProgress.objects.unscoped().get().last_contact_at
    assert last == dt.datetime(2026, 10, 20, 13, tzinfo=UTC)
    listed = token_client(biller).get(f"{_url(enrolled)}?month=2026-10")
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["results"]] == [body["id"]]
    assert audited("contactattempt.list", patient_id=enrolled.pk)


def test_bad_input_is_a_400_and_saves_nothing(coordinator, enrolled):
    client = token_client(coordinator)
    for body in (
        {**GOOD, "outcome": "maybe"},
        {**GOOD, "occurred_at": "2026-10-20T13:00:00"},  # no offset
        {**GOOD, "occurred_at": "2026-10-21T13:00:00Z"},  # future
        {**GOOD, "colour": "blue"},  # unknown key
    ):
        assert client.post(_url(enrolled), body, format="json").status_code == 400, body
    assert not _attempts().exists()


def test_another_practices_contact_is_a_404_naming_the_field(
    coordinator, enrolled, outsider, other_practice
):
    from tests.factories import PatientFactory

    foreign = CareContactFactory(patient=PatientFactory(practice=other_practice))
    response = token_client(coordinator).post(
        _url(enrolled), {**GOOD, "contact": str(foreign.pk)}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["detail"] == REFERENCE_MESSAGE.format(field="contact")
    assert not _attempts().exists()


def test_outsider_gets_404_and_a_biller_may_not_record(outsider, biller, enrolled):
    assert token_client(outsider).get(_url(enrolled)).status_code == 404
    assert token_client(outsider).post(_url(enrolled), GOOD, format="json").status_code == 404
    assert token_client(biller).post(_url(enrolled), GOOD, format="json").status_code == 403
    assert not _attempts().exists()


def test_the_list_has_a_fixed_query_count(admin, coordinator, enrolled, django_assert_num_queries):
    daughter = CareContactFactory(patient=enrolled)
    for n in range(12):
        ContactAttemptFactory(
            patient=enrolled,
            occurred_at=dt.datetime(2026, 10, 1 + n, 14, tzinfo=UTC),
            outcome="no_answer",
            contact=daughter if n % 2 else None,
            recorded_by=coordinator,
        )
    client = token_client(admin)
    client.get(_url(enrolled))
    with django_assert_num_queries(6):
        response = client.get(f"{_url(enrolled)}?page_size=100")
    assert response.json()["count"] == 12


def test_completing_a_task_records_the_contact_from_the_calls_start(coordinator, enrolled):
    task = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 20))
    response = token_client(coordinator).patch(
        f"/api/v1/tasks/{task.pk}/",
        {
            "status": "done",
            "log_minutes": 10,
            "log_started_at": "2026-10-20T12:00:00Z",
            "contact": {"outcome": "no_answer", "channel": "phone"},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    attempt = _attempts().get()
    assert attempt.task_id == task.pk
    assert attempt.occurred_at == dt.datetime(2026, 10, 20, 12, tzinfo=UTC)
    assert attempt.time_entry.minutes == 10
    assert MonthProgress.objects.unscoped().get().unanswered_attempts == 1


def test_a_task_completed_without_contact_fields_still_closes(coordinator, enrolled):
    task = TaskFactory(patient=enrolled, due_on=dt.date(2026, 10, 20))
    response = token_client(coordinator).patch(
        f"/api/v1/tasks/{task.pk}/", {"status": "done"}, format="json"
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert not _attempts().exists()


def test_the_worklist_api_gives_the_last_reached_and_unanswered_attempts(coordinator, enrolled):
    client = token_client(coordinator)
    for outcome, hour in (("reached", 10), ("no_answer", 11), ("busy", 12)):
        body = {"outcome": outcome, "occurred_at": f"2026-10-20T{hour}:00:00Z"}
        assert client.post(_url(enrolled), body, format="json").status_code == 201
    (row,) = client.get("/api/v1/worklist/", {"month": "2026-10"}).json()["results"]
    assert row["last_contact"] == "2026-10-20T10:00:00Z"
    assert row["unanswered_attempts"] == 2
