"""Care transition API: GET/POST /api/v1/patients/{id}/transitions/, GET
/api/v1/transitions/{id}/, GET/POST /api/v1/transitions/{id}/document/. Every role reads;
clinical roles write (a biller gets 403); the outsider gets 404; refusals are 400s naming the
field with nothing saved; a fixed query count for the list; audited."""

import datetime as dt

import pytest

from careplans import transition_services as ts
from careplans.models import CareTransition
from ccm.tenancy import practice_scope
from tests.careplans.conftest import TODAY
from tests.careplans.transition_data import PDF, PNG, specialist
from tests.factories import CareTransitionFactory, PatientFactory
from tests.helpers import audited, token_client
from timelog.models import Task

pytestmark = pytest.mark.usefixtures("frozen", "media")


def list_url(patient):
    return f"/api/v1/patients/{patient.pk}/transitions/"


def document_url(transition):
    return f"/api/v1/transitions/{transition.pk}/document/"


def body(**overrides):
    return {
        "kind": "hospital_discharge",
        "occurred_on": str(TODAY - dt.timedelta(days=1)),
        "admitted_on": str(TODAY - dt.timedelta(days=4)),
        "facility": "Mercy General Hospital",
        "diagnoses": "Pneumonia",
        **overrides,
    }


def test_recording_a_discharge_creates_its_follow_up(coordinator, patient):
    response = token_client(coordinator).post(list_url(patient), body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["kind"] == "hospital_discharge"
    assert data["document_type"] == ""
    assert data["recorded_by"]["id"] == str(coordinator.pk)
    kinds = set(
        Task.objects.unscoped().filter(transition_id=data["id"]).values_list("kind", flat=True)
    )
    assert kinds == {"transition_follow_up", "med_reconciliation"}


def test_a_specialist_visit_names_the_patients_contact(coordinator, patient, practice):
    with practice_scope(practice):
        hart = specialist(patient)
    response = token_client(coordinator).post(
        list_url(patient),
        body(kind="specialist_visit", admitted_on=None, contact=str(hart.pk)),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["contact"] == str(hart.pk)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"occurred_on": str(TODAY + dt.timedelta(days=1))}, "occurred_on"),
        ({"admitted_on": str(TODAY)}, "admitted_on"),
        ({"kind": "home_visit"}, "kind"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_400_and_saves_nothing(coordinator, patient, overrides, field):
    response = token_client(coordinator).post(list_url(patient), body(**overrides), format="json")
    assert response.status_code == 400
    assert field in str(response.json())
    assert not CareTransition.objects.unscoped().exists()
    assert not Task.objects.unscoped().exists()


def test_another_practices_contact_is_404_and_saves_nothing(coordinator, patient, other_practice):
    stranger = PatientFactory(practice=other_practice)
    with practice_scope(other_practice):
        theirs = specialist(stranger)
    response = token_client(coordinator).post(
        list_url(patient), body(contact=str(theirs.pk)), format="json"
    )
    assert response.status_code in (400, 404)
    assert not CareTransition.objects.unscoped().exists()


def test_a_biller_reads_but_gets_403_on_writes(biller, patient, coordinator):
    transition = CareTransitionFactory(patient=patient, recorded_by=coordinator)
    client = token_client(biller)
    assert client.get(list_url(patient)).status_code == 200
    assert client.post(list_url(patient), body(), format="json").status_code == 403
    put = client.post(document_url(transition), PDF, content_type="application/pdf")
    assert put.status_code == 403


def test_the_outsider_gets_404(outsider, patient, coordinator):
    transition = CareTransitionFactory(patient=patient, recorded_by=coordinator)
    client = token_client(outsider)
    assert client.get(list_url(patient)).status_code == 404
    assert client.post(list_url(patient), body(), format="json").status_code == 404
    assert client.get(f"/api/v1/transitions/{transition.pk}/").status_code == 404
    assert client.get(document_url(transition)).status_code == 404
    put = client.post(document_url(transition), PDF, content_type="application/pdf")
    assert put.status_code == 404
    assert not CareTransition.objects.unscoped().get().document


def test_the_document_is_uploaded_raw_and_downloaded(coordinator, physician, patient):
    transition = CareTransitionFactory(patient=patient, recorded_by=coordinator)
    put = token_client(coordinator).post(
        document_url(transition), PDF, content_type="application/pdf"
    )
    assert put.status_code == 200, put.json()
    assert put.json()["document_type"] == "application/pdf"
    got = token_client(physician).get(document_url(transition))
    assert got.status_code == 200
    assert got["Content-Type"] == "application/pdf"
    assert b"".join(got.streaming_content) == PDF
    assert audited("caretransition.read", object_id=str(transition.pk))


def test_the_declared_type_is_not_trusted(coordinator, patient):
    transition = CareTransitionFactory(patient=patient, recorded_by=coordinator)
    client = token_client(coordinator)
    html = b"<html><script>alert(1)</script></html>"
    refused = client.post(document_url(transition), html, content_type="application/pdf")
    assert refused.status_code == 400
    assert ts.DOCUMENT_TYPE_MESSAGE in str(refused.json())
    assert not CareTransition.objects.unscoped().get().document
    # A PNG sent as "application/pdf" is stored as the PNG it is.
    stored = client.post(document_url(transition), PNG, content_type="application/pdf")
    assert stored.json()["document_type"] == "image/png"


def test_no_document_is_404(coordinator, patient):
    transition = CareTransitionFactory(patient=patient, recorded_by=coordinator)
    assert token_client(coordinator).get(document_url(transition)).status_code == 404


def test_the_list_has_a_fixed_query_count(admin, coordinator, patient, django_assert_num_queries):
    for n in range(12):
        CareTransitionFactory(
            patient=patient, recorded_by=coordinator, occurred_on=TODAY - dt.timedelta(days=n)
        )
    client = token_client(admin)
    client.get(list_url(patient))
    with django_assert_num_queries(6):
        response = client.get(f"{list_url(patient)}?page_size=100")
    assert response.json()["count"] == 12
    assert audited("caretransition.list", patient_id=patient.pk)
