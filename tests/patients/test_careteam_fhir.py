"""The patient bundle's CareTeam and RelatedPerson resources: valid R4, practitioners,
agencies and pharmacies as participants with their role, caregivers as RelatedPerson with
relationship, telecom and language; inactive contacts left out; no contacts, no CareTeam."""

import pytest
from fhir.resources.R4B.bundle import Bundle

from patients import fhir, selectors
from tests.factories import PractitionerContactFactory
from tests.helpers import frozen_clock
from tests.patients.conftest import NOW

pytestmark = pytest.mark.usefixtures("scope")
_frozen_clock = frozen_clock(NOW, autouse=True)


def _resources(patient, kind):
    chart = selectors.patient_get(practice=patient.practice, patient_id=patient.pk)
    bundle = fhir.patient_bundle(chart)
    Bundle.model_validate(bundle)
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_contacts_are_a_care_team_and_caregivers_related_persons(patient):
    PractitionerContactFactory(patient=patient)
    PractitionerContactFactory(
        patient=patient, category="pharmacy", name="Main St Pharmacy", role=""
    )
    PractitionerContactFactory(patient=patient, name="Dr. Gone", is_active=False)
    daughter = PractitionerContactFactory(
        patient=patient,
        category="caregiver",
        name="Maria Lovelace",
        role="",
        organisation="",
        relationship="Daughter",
        language="Spanish",
        secure_email="maria@example.org",
        is_representative=True,
    )
    [team] = _resources(patient, "CareTeam")
    assert team["subject"]["reference"] == f"urn:uuid:{patient.pk}"
    by_name = {p["member"]["display"]: p for p in team["participant"]}
    assert set(by_name) == {"Dr. Ana Ruiz", "Main St Pharmacy", "Maria Lovelace"}
    assert by_name["Dr. Ana Ruiz"]["role"][0]["text"] == "Cardiologist"
    assert by_name["Dr. Ana Ruiz"]["onBehalfOf"]["display"] == "Heart Associates"
    assert by_name["Main St Pharmacy"]["role"][0]["text"] == "Pharmacy"
    assert by_name["Maria Lovelace"]["member"]["reference"] == f"urn:uuid:{daughter.pk}"
    [person] = _resources(patient, "RelatedPerson")
    assert person["relationship"][0]["text"] == "Daughter (representative)"
    assert person["telecom"] == [
        {"system": "phone", "value": "+12125550123", "use": "work"},
        {"system": "email", "value": "maria@example.org", "use": "work"},
    ]
    language = person["communication"][0]["language"]
    assert language["coding"][0]["code"] == "es"


def test_no_contacts_no_care_team(patient):
    assert _resources(patient, "CareTeam") == []
