"""Medication API: GET/POST /api/v1/patients/{id}/medications/, GET/PATCH
/api/v1/medications/{id}/, GET/POST /api/v1/patients/{id}/medication-reconciliations/. Every
role reads; clinical roles write (a biller gets 403); the outsider gets 404; refusals are 400s
naming the field with nothing saved; audited; list query counts fixed."""

import pytest

from ccm.tenancy import practice_scope
from patients import medication_services as ms
from patients.models import Medication, MedicationReconciliation
from tests.factories import CareContactFactory, MedicationFactory, PatientFactory
from tests.helpers import audited, frozen_clock, token_client
from tests.patients.conftest import NOW

_frozen_clock = frozen_clock(NOW, autouse=True)
pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(practice):
    return PatientFactory(practice=practice, mrn="API-M")


def meds_url(patient):
    return f"/api/v1/patients/{patient.pk}/medications/"


def recs_url(patient):
    return f"/api/v1/patients/{patient.pk}/medication-reconciliations/"


def detail_url(med):
    return f"/api/v1/medications/{med.pk}/"


def _count(patient):
    return Medication.objects.unscoped().filter(patient=patient).count()


def test_listing_and_reading_the_list(biller, patient):
    med = MedicationFactory(patient=patient)
    MedicationFactory(patient=patient, name="Aspirin 81 mg", status="stopped")
    client = token_client(biller)
    response = client.get(meds_url(patient))
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert (first["name"], first["rxnorm_code"], first["status"]) == (
        "Metformin 500 mg tablet",
        "860975",
        "active",
    )
    assert second["status"] == "stopped"
    assert audited("medication.list", patient_id=patient.pk)
    assert client.get(detail_url(med)).json()["dose"] == "1 tablet"
    assert audited("medication.read", object_id=str(med.pk))


def test_the_lists_have_a_fixed_query_count(coordinator, patient, django_assert_num_queries):
    meds = [MedicationFactory(patient=patient, name=f"Medicine {n}") for n in range(12)]
    with practice_scope(patient.practice):
        for _ in range(4):
            ms.medication_reconcile(
                practice=patient.practice,
                actor=coordinator,
                patient=patient,
                reconciled_with="patient",
                reviews=[ms.Review(m.pk, "confirmed") for m in meds],
            )
    client = token_client(coordinator)
    client.get(meds_url(patient))
    with django_assert_num_queries(6):
        assert client.get(f"{meds_url(patient)}?page_size=100").json()["count"] == 12
    client.get(recs_url(patient))
    with django_assert_num_queries(7):
        body = client.get(f"{recs_url(patient)}?page_size=100").json()
    assert body["count"] == 4
    assert len(body["results"][0]["changes"]) == 12


def test_adding_changing_and_stopping(coordinator, patient):
    client = token_client(coordinator)
    response = client.post(
        meds_url(patient),
        {"name": "Lisinopril 10 mg", "rxnorm_code": "314076", "source": "ehr"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    med_id = response.json()["id"]
    assert audited("medication.create", object_id=med_id)
    url = f"/api/v1/medications/{med_id}/"
    response = client.patch(url, {"dose": "20 mg"}, format="json")
    assert response.status_code == 200
    assert response.json()["dose"] == "20 mg"
    response = client.patch(url, {"status": "stopped"}, format="json")
    assert response.json()["status"] == "stopped"
    assert response.json()["stops_on"] == "2026-11-20"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "source": "ehr", "rxnorm_code": "RX"}, "rxnorm_code"),
        ({"name": "X", "source": "friend"}, "source"),
        ({"name": "", "source": "ehr"}, "name"),
        ({"name": "X", "source": "ehr", "colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_saves_nothing(coordinator, patient, body, field):
    response = token_client(coordinator).post(meds_url(patient), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert _count(patient) == 0


def test_recording_a_reconciliation(coordinator, patient):
    lisinopril = MedicationFactory(patient=patient, name="Lisinopril 10 mg", dose="10 mg")
    furosemide = MedicationFactory(patient=patient, name="Furosemide 40 mg")
    daughter = CareContactFactory(patient=patient)
    body = {
        "reconciled_with": "caregiver",
        "contact": str(daughter.pk),
        "sources": "pill bottles",
        "discrepancies": "Dose differs.",
        "reviews": [
            {"medication": str(lisinopril.pk), "action": "changed", "dose": "20 mg"},
            {"medication": str(furosemide.pk), "action": "stopped"},
        ],
        "additions": [{"name": "Amlodipine 5 mg", "rxnorm_code": "197361", "source": "pharmacy"}],
    }
    response = token_client(coordinator).post(recs_url(patient), body, format="json")
    assert response.status_code == 201, response.json()
    result = response.json()
    assert result["contact"] == str(daughter.pk)
    assert result["performed_by"]["id"] == str(coordinator.pk)
    lines = {c["medication_name"]: (c["action"], c["detail"]) for c in result["changes"]}
    assert lines == {
        "Lisinopril 10 mg": ("changed", "dose 10 mg → 20 mg"),
        "Furosemide 40 mg": ("stopped", ""),
        "Amlodipine 5 mg": ("added", ""),
    }
    assert _count(patient) == 3


def test_a_refused_reconciliation_is_400_and_saves_nothing(coordinator, patient):
    med = MedicationFactory(patient=patient)
    client = token_client(coordinator)
    body = {
        "reconciled_with": "patient",
        "reviews": [{"medication": str(med.pk), "action": "changed"}],
    }
    response = client.post(recs_url(patient), body, format="json")
    assert response.status_code == 400
    assert response.json() == {str(med.pk): [ms.CHANGE_NOTHING_MESSAGE]}
    response = client.post(recs_url(patient), {"reconciled_with": "patient"}, format="json")
    assert response.status_code == 400
    assert not MedicationReconciliation.objects.unscoped().exists()


def test_another_practices_contact_is_404(coordinator, patient, other_practice):
    med = MedicationFactory(patient=patient)
    theirs = CareContactFactory(patient=PatientFactory(practice=other_practice))
    body = {
        "reconciled_with": "caregiver",
        "contact": str(theirs.pk),
        "reviews": [{"medication": str(med.pk), "action": "confirmed"}],
    }
    response = token_client(coordinator).post(recs_url(patient), body, format="json")
    assert response.status_code == 404
    assert not MedicationReconciliation.objects.unscoped().exists()


def test_outsider_gets_404_and_biller_403(outsider, biller, patient):
    med = MedicationFactory(patient=patient)
    stranger = token_client(outsider)
    for url in (meds_url(patient), recs_url(patient), detail_url(med)):
        assert stranger.get(url).status_code == 404
    assert stranger.patch(detail_url(med), {"dose": "9"}, format="json").status_code == 404
    billing = token_client(biller)
    body = {"name": "X", "source": "ehr"}
    assert billing.post(meds_url(patient), body, format="json").status_code == 403
    assert billing.patch(detail_url(med), {"dose": "9"}, format="json").status_code == 403
    assert billing.post(recs_url(patient), {}, format="json").status_code == 403
    med.refresh_from_db()
    assert med.dose == "1 tablet"
    assert _count(patient) == 1
