"""The patient bundle's Encounter resources: one per care transition, valid R4, class by kind
(IMP, EMER, AMB), the stay as period, the diagnoses as reasonCode text, the facility as
location; blank fields left out."""

import datetime as dt

import pytest
from fhir.resources.R4B.bundle import Bundle

from patients import fhir, selectors
from tests.careplans.transition_data import specialist
from tests.factories import CareTransitionFactory

pytestmark = pytest.mark.usefixtures("frozen", "scoped")


def _encounters(patient):
    chart = selectors.patient_get(practice=patient.practice, patient_id=patient.pk)
    bundle = fhir.patient_bundle(chart)
    Bundle.model_validate(bundle)
    return {
        e["resource"]["id"]: e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Encounter"
    }


def test_each_transition_is_an_encounter(patient, coordinator):
    stay = CareTransitionFactory(
        patient=patient,
        recorded_by=coordinator,
        admitted_on=dt.date(2026, 10, 10),
        occurred_on=dt.date(2026, 10, 14),
        diagnoses="CHF exacerbation",
    )
    ed = CareTransitionFactory(
        patient=patient, recorded_by=coordinator, kind="ed_visit", facility="",
        occurred_on=dt.date(2026, 9, 2),
    )  # fmt: skip
    visit = CareTransitionFactory(
        patient=patient, recorded_by=coordinator, kind="specialist_visit",
        facility="Heart Clinic", contact=specialist(patient), occurred_on=dt.date(2026, 8, 5),
    )  # fmt: skip
    found = _encounters(patient)
    assert set(found) == {str(stay.pk), str(ed.pk), str(visit.pk)}
    inpatient = found[str(stay.pk)]
    assert inpatient["status"] == "finished"
    assert inpatient["class"]["code"] == "IMP"
    assert inpatient["period"] == {"start": "2026-10-10", "end": "2026-10-14"}
    assert inpatient["reasonCode"] == [{"text": "CHF exacerbation"}]
    assert inpatient["location"][0]["location"]["display"] == "Mercy General Hospital"
    assert inpatient["subject"]["reference"] == f"urn:uuid:{patient.pk}"
    emergency = found[str(ed.pk)]
    assert emergency["class"]["code"] == "EMER"
    assert "location" not in emergency
    assert "reasonCode" not in emergency
    assert emergency["period"] == {"start": "2026-09-02", "end": "2026-09-02"}
    office = found[str(visit.pk)]
    assert office["class"]["code"] == "AMB"
    assert office["participant"][0]["individual"]["display"] == "Dr. Hart"
