"""Minutes spent on a medication reconciliation: a time entry (page or API) may name the
patient's reconciliation; another patient's is refused (page 404, API 400/404)."""

import datetime as dt

import pytest

from ccm.tenancy import practice_scope
from tests.factories import MedicationReconciliationFactory, PatientFactory
from tests.helpers import token_client
from timelog.models import TimeEntry

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def reconciliation(enrolled, coordinator):
    return MedicationReconciliationFactory(patient=enrolled, performed_by=coordinator)


def _entries():
    return TimeEntry.objects.unscoped()


def test_the_time_page_logs_minutes_for_a_reconciliation(
    coordinator_client, enrolled, reconciliation
):
    url = f"/patients/{enrolled.pk}/time/new/?reconciliation={reconciliation.pk}"
    page = coordinator_client.get(url)
    assert page.status_code == 200
    assert page.context["form"].initial["activity"] == "medication"
    assert "For the medication reconciliation of 2026-10-02" in page.content.decode()
    response = coordinator_client.post(
        url, {"started_at": "2026-10-20T09:00", "minutes": "12", "activity": "medication"}
    )
    assert response.status_code == 302
    assert _entries().get().reconciliation == reconciliation


def test_another_patients_reconciliation_is_404_on_the_page(
    coordinator_client, enrolled, practice, coordinator
):
    theirs = MedicationReconciliationFactory(
        patient=PatientFactory(practice=practice), performed_by=coordinator
    )
    url = f"/patients/{enrolled.pk}/time/new/?reconciliation={theirs.pk}"
    assert coordinator_client.get(url).status_code == 404
    assert not _entries().exists()


def test_the_api_takes_a_reconciliation_of_the_same_patient(
    coordinator, enrolled, reconciliation, practice
):
    client = token_client(coordinator)
    body = {
        "patient": str(enrolled.pk),
        "started_at": "2026-10-20T09:00:00-04:00",
        "minutes": 10,
        "activity": "medication",
        "reconciliation": str(reconciliation.pk),
    }
    response = client.post("/api/v1/time-entries/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["reconciliation"] == str(reconciliation.pk)
    with practice_scope(practice):
        other = PatientFactory(practice=practice)
        theirs = MedicationReconciliationFactory(patient=other, performed_by=coordinator)
    body.update(started_at="2026-10-20T11:00:00-04:00", reconciliation=str(theirs.pk))
    response = client.post("/api/v1/time-entries/", body, format="json")
    assert response.status_code == 400
    assert "reconciliation" in response.json()
    body["reconciliation"] = "00000000-0000-4000-8000-000000000000"
    assert client.post("/api/v1/time-entries/", body, format="json").status_code == 404
    assert _entries().count() == 1
    assert dt.date(2026, 10, 20) == _entries().get().started_at.date()
