import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition as FhirCondition
from fhir.resources.R4B.consent import Consent as FhirConsent
from fhir.resources.R4B.patient import Patient as FhirPatient

from patients import fhir, selectors, services
from tests.factories import PatientFactory
from tests.helpers import frozen_clock, token_client
from tests.patients.conftest import CONSENT, NOW

pytestmark = pytest.mark.usefixtures("scope")
_frozen_clock = frozen_clock(NOW, autouse=True)


def _bundle(patient) -> dict:
    chart = selectors.patient_get(practice=patient.practice, patient_id=patient.pk)
    return fhir.patient_bundle(chart)


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _codings(concept: dict) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in concept["coding"]]


def test_bundle_is_a_valid_r4_collection_of_our_resources(patient, coordinator):
    services.consent_record(
        practice=patient.practice, actor=coordinator, patient=patient, **CONSENT
    )
    bundle = _bundle(patient)
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    kinds = [type(e.resource) for e in parsed.entry]
    assert kinds == [FhirPatient, FhirCondition, FhirCondition, FhirConsent]
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    assert bundle["entry"][0]["resource"]["id"] == str(patient.pk)


def test_patient_carries_mbi_and_a_practice_specific_mrn(patient):
    [resource] = _resources(_bundle(patient), "Patient")
    FhirPatient.model_validate(resource)
    mrn, mbi = resource["identifier"]
    assert mrn["system"] == f"urn:caremonth:practice:{patient.practice_id}:mrn"
    assert mrn["value"] == "A-1001"
    assert _codings(mrn["type"]) == [("http://terminology.hl7.org/CodeSystem/v2-0203", "MR")]
    assert (mbi["system"], mbi["value"]) == ("http://hl7.org/fhir/sid/us-mbi", "1EG4TE5MK73")


def test_patient_demographics_map_to_fhir(patient, coordinator):
    services.patient_update(
        practice=patient.practice,
        actor=coordinator,
        patient=patient,
        data={
            "phone": "(212) 555-0199",
            "email": "ada@example.test",
            "address_line1": "12 Analytical Way",
            "city": "Albany",
            "state": "NY",
            "postal_code": "12207",
            "preferred_language": "Spanish",
        },
    )
    [resource] = _resources(_bundle(patient), "Patient")
    assert resource["name"] == [{"use": "official", "family": "Lovelace", "given": ["Ada"]}]
    assert (resource["gender"], resource["birthDate"]) == ("female", "1948-05-17")
    assert [(t["system"], t["value"]) for t in resource["telecom"]] == [
        ("phone", "+12125550199"),
        ("email", "ada@example.test"),
    ]
    [address] = resource["address"]
    assert address["line"] == ["12 Analytical Way"]
    assert (address["city"], address["state"], address["postalCode"]) == ("Albany", "NY", "12207")
    [language] = resource["communication"]
    assert _codings(language["language"]) == [("urn:ietf:bcp:47", "es")]


def test_blank_fields_are_left_out_and_unknown_sex_is_unknown_gender(practice):
    patient = PatientFactory(practice=practice, sex="unknown", mbi="", preferred_language="Klingon")
    [resource] = _resources(_bundle(patient), "Patient")
    assert resource["gender"] == "unknown"
    assert [i["system"] for i in resource["identifier"]] == [
        f"urn:caremonth:practice:{practice.pk}:mrn"
    ]
    assert "telecom" not in resource
    assert "address" not in resource
    assert resource["communication"] == [{"language": {"text": "Klingon"}, "preferred": True}]


def test_conditions_are_icd10cm_problem_list_items_with_clinical_status(patient, coordinator):
    services.conditions_sync(
        practice=patient.practice, actor=coordinator, patient=patient, codes=["I10"]
    )
    conditions = {
        c["code"]["coding"][0]["code"]: c for c in _resources(_bundle(patient), "Condition")
    }
    diabetes, hypertension = conditions["E11.9"], conditions["I10"]
    for resource in (diabetes, hypertension):
        FhirCondition.model_validate(resource)
        assert resource["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10-cm"
        assert resource["subject"] == {"reference": f"urn:uuid:{patient.pk}"}
        assert _codings(resource["category"][0]) == [
            ("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")
        ]
    assert hypertension["code"]["coding"][0]["display"] == "Essential (primary) hypertension"
    clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    assert _codings(hypertension["clinicalStatus"]) == [(clinical, "active")]
    assert "abatementDateTime" not in hypertension
    assert _codings(diabetes["clinicalStatus"]) == [(clinical, "resolved")]
    assert diabetes["abatementDateTime"] == "2026-11-20"


def test_consent_is_active_then_inactive_ending_at_month_end_when_revoked(patient, coordinator):
    consent = services.consent_record(
        practice=patient.practice, actor=coordinator, patient=patient, **CONSENT
    )
    [active] = _resources(_bundle(patient), "Consent")
    FhirConsent.model_validate(active)
    assert active["status"] == "active"
    assert _codings(active["scope"]) == [
        ("http://terminology.hl7.org/CodeSystem/consentscope", "treatment")
    ]
    assert _codings(active["category"][0]) == [("http://loinc.org", "59284-0")]
    assert active["patient"] == {"reference": f"urn:uuid:{patient.pk}"}
    assert active["dateTime"] == "2026-11-02"
    assert active["policyRule"]["text"]
    assert active["provision"]["period"] == {"start": "2026-11-02"}
    services.consent_revoke(
        practice=patient.practice, actor=coordinator, consent=consent, revoked_on=NOW.date()
    )
    [revoked] = _resources(_bundle(patient), "Consent")
    assert revoked["status"] == "inactive"
    assert revoked["provision"]["period"] == {"start": "2026-11-02", "end": "2026-11-30"}


def test_api_response_parses_back_into_r4_models(patient, coordinator):
    response = token_client(coordinator).get(f"/api/v1/patients/{patient.pk}/fhir/")
    assert response["Content-Type"] == "application/fhir+json"
    bundle = Bundle.model_validate_json(response.content)
    assert [e.resource.get_resource_type() for e in bundle.entry] == [
        "Patient",
        "Condition",
        "Condition",
    ]
