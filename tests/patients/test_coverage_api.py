"""Coverage API: GET/POST /api/v1/patients/{id}/coverage/, GET/PATCH /api/v1/coverage/{id}/.
Every role reads; admins, coordinators and billers write (a physician gets 403); the
outsider gets 404; refusals are 400s naming the field with nothing saved; audited."""

import pytest

from ccm.api import REFERENCE_MESSAGE
from patients import coverage_services as cs
from patients.models import Coverage
from tests.factories import CoverageFactory, PatientFactory, PayerFactory
from tests.helpers import audited, frozen_clock, token_client
from tests.patients.conftest import NOW
from tests.patients.coverage_data import payers

_frozen_clock = frozen_clock(NOW, autouse=True)
pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(practice):
    return PatientFactory(practice=practice, mrn="API-1", mbi="1EG4TE5MK73")


@pytest.fixture
def by_kind(practice):
    return payers(practice)


def list_url(patient):
    return f"/api/v1/patients/{patient.pk}/coverage/"


def detail_url(coverage):
    return f"/api/v1/coverage/{coverage.pk}/"


def _part_b(patient):
    return Coverage.objects.unscoped().get(patient=patient, kind="part_b")


def _count(patient):
    return Coverage.objects.unscoped().filter(patient=patient).count()


def medicaid(by_kind, **overrides):
    return {
        "kind": "medicaid",
        "payer": str(by_kind["medicaid"].pk),
        "member_id": "91234567A",
        "starts_on": "2026-01-01",
        **overrides,
    }


def test_listing_a_patients_coverage(coordinator, patient, by_kind):
    response = token_client(coordinator).get(list_url(patient))
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["kind"] == "part_b"
    assert item["priority"] == "primary"
    assert item["member_id"] == "1EG4TE5MK73"
    assert item["payer"] is None
    assert item["msp_type"] is None
    assert item["ends_on"] is None
    assert audited("coverage.list", patient_id=patient.pk)


def test_the_list_has_a_fixed_query_count(admin, patient, by_kind, django_assert_num_queries):
    for n in range(12):
        CoverageFactory(
            patient=patient,
            priority="secondary",
            kind="medigap",
            payer=by_kind["medigap"],
            member_id=f"G-{n}",
            starts_on=f"{2001 + n}-01-01",
            ends_on=f"{2001 + n}-12-31",
        )
    client = token_client(admin)
    client.get(list_url(patient))
    with django_assert_num_queries(6):
        response = client.get(f"{list_url(patient)}?page_size=100")
    assert response.json()["count"] == 13
    assert {r["payer"]["payer_id"] for r in response.json()["results"][1:]} == {"71412"}


def test_adding_coverage(biller, patient, by_kind):
    response = token_client(biller).post(list_url(patient), medicaid(by_kind), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["priority"] == "secondary"
    assert body["payer"]["name"] == "Medi-Cal"
    assert audited("coverage.create", patient_id=patient.pk, object_id=body["id"])


def test_msp_coverage_round_trips_its_type(admin, practice, patient, by_kind):
    client = token_client(admin)
    client.patch(detail_url(_part_b(patient)), {"ends_on": "2025-12-31"}, format="json")
    body = {
        "kind": "other_primary",
        "payer": str(by_kind["commercial"].pk),
        "member_id": "EMP-1",
        "msp_type": "12",
        "starts_on": "2026-01-01",
    }
    response = client.post(list_url(patient), body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["msp_type"] == "12"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"payer": None}, "payer", cs.PAYER_REQUIRED_MESSAGE),
        ({"member_id": ""}, "member_id", cs.MEMBER_ID_REQUIRED_MESSAGE),
        ({"ends_on": "2025-01-01"}, "ends_on", cs.DATES_MESSAGE),
        (
            {"kind": "medigap"},
            "payer",
            cs.PAYER_KIND_MESSAGE.format(kinds="Medigap (Medicare supplement)"),
        ),
        ({"msp_type": "12"}, "msp_type", cs.MSP_ONLY_MESSAGE),
        # The 837P would strip separators and accents: the payer would get another id.
        ({"member_id": "H31~NM1*IL*1*EVIL"}, "member_id", cs.MEMBER_ID_TEXT_MESSAGE),
        ({"member_id": "ÄÖ12345"}, "member_id", cs.MEMBER_ID_TEXT_MESSAGE),
        # A misspelt field is refused, never dropped (ends_on stays open otherwise).
        ({"end_on": "2026-10-31"}, "end_on", "Unknown field."),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(
    coordinator, patient, by_kind, overrides, field, message
):
    response = token_client(coordinator).post(
        list_url(patient), medicaid(by_kind, **overrides), format="json"
    )
    assert response.status_code == 400
    assert response.json()[field] == [message]
    assert _count(patient) == 1


def test_an_overlap_names_the_coverage_in_the_way(coordinator, patient, by_kind):
    body = {
        "kind": "medicare_advantage",
        "payer": str(by_kind["medicare_advantage"].pk),
        "member_id": "H-1",
        "starts_on": "2026-06-01",
    }
    response = token_client(coordinator).post(list_url(patient), body, format="json")
    assert response.status_code == 400
    [message] = response.json()["starts_on"]
    assert "Medicare Part B coverage from 2000-01-01 with no end date" in message
    assert _count(patient) == 1


def test_a_payer_of_another_practice_is_404_naming_the_field(
    coordinator, patient, by_kind, other_practice
):
    foreign = PayerFactory(practice=other_practice, kind="medicaid")
    response = token_client(coordinator).post(
        list_url(patient), medicaid(by_kind, payer=str(foreign.pk)), format="json"
    )
    assert response.status_code == 404
    assert response.json() == {"detail": REFERENCE_MESSAGE.format(field="payer")}
    assert _count(patient) == 1


def test_a_physician_reads_but_may_not_write(physician, patient, by_kind):
    client = token_client(physician)
    assert client.get(list_url(patient)).status_code == 200
    coverage = _part_b(patient)
    assert client.get(detail_url(coverage)).status_code == 200
    assert client.post(list_url(patient), medicaid(by_kind), format="json").status_code == 403
    patch = client.patch(detail_url(coverage), {"ends_on": "2026-11-30"}, format="json")
    assert patch.status_code == 403
    assert _count(patient) == 1
    assert _part_b(patient).ends_on is None


def test_the_outsider_gets_404(outsider, patient, by_kind):
    client = token_client(outsider)
    coverage = _part_b(patient)
    assert client.get(list_url(patient)).status_code == 404
    assert client.post(list_url(patient), medicaid(by_kind), format="json").status_code == 404
    assert client.get(detail_url(coverage)).status_code == 404
    patch = client.patch(detail_url(coverage), {"ends_on": "2026-11-30"}, format="json")
    assert patch.status_code == 404
    assert _part_b(patient).ends_on is None


def test_reading_and_ending_one_coverage(biller, patient):
    client = token_client(biller)
    coverage = _part_b(patient)
    read = client.get(detail_url(coverage))
    assert read.status_code == 200
    assert read.json()["id"] == str(coverage.pk)
    assert audited("coverage.read", object_id=str(coverage.pk), patient_id=patient.pk)
    ended = client.patch(
        detail_url(coverage),
        {"ends_on": "2026-11-30"},
        format="json",
        HTTP_IF_MATCH=read["ETag"],
    )
    assert ended.status_code == 200
    assert ended.json()["ends_on"] == "2026-11-30"
    assert audited("coverage.update", changed_fields=["ends_on"])
    stale = client.patch(
        detail_url(coverage), {"ends_on": "2026-12-31"}, format="json", HTTP_IF_MATCH=read["ETag"]
    )
    assert stale.status_code == 412
    assert _part_b(patient).ends_on.isoformat() == "2026-11-30"


def test_a_patch_breaking_a_rule_is_a_400_and_saves_nothing(coordinator, patient):
    coverage = _part_b(patient)
    response = token_client(coordinator).patch(
        detail_url(coverage), {"kind": "medicare_advantage", "plan_name": "X"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"payer": [cs.PAYER_REQUIRED_MESSAGE]}
    fresh = _part_b(patient)
    assert (fresh.kind, fresh.plan_name) == ("part_b", "")


def test_benefits_assigned_takes_json_booleans_only(coordinator, patient, by_kind):
    client = token_client(coordinator)
    refused = client.post(list_url(patient), medicaid(by_kind, benefits_assigned=0), format="json")
    assert refused.status_code == 400
    assert list(refused.json()) == ["benefits_assigned"]
    assert _count(patient) == 1
    added = client.post(
        list_url(patient), medicaid(by_kind, benefits_assigned=False), format="json"
    )
    assert added.status_code == 201
    assert added.json()["benefits_assigned"] is False
