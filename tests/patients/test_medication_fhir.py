"""The patient bundle's MedicationStatements: one per medicine, valid R4, RxNorm coded when
the code is known, status and dates from the list, dosage as text with the route."""

import datetime as dt

import pytest
from fhir.resources.R4B.bundle import Bundle

from patients import fhir, selectors
from patients.medication_fhir import RXNORM_SYSTEM
from tests.factories import MedicationFactory
from tests.helpers import frozen_clock
from tests.patients.conftest import NOW

pytestmark = pytest.mark.usefixtures("scope")
_frozen_clock = frozen_clock(NOW, autouse=True)


def _statements(patient):
    chart = selectors.patient_get(practice=patient.practice, patient_id=patient.pk)
    bundle = fhir.patient_bundle(chart)
    Bundle.model_validate(bundle)
    return [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationStatement"
    ]


def test_each_medicine_is_a_valid_medication_statement(patient):
    metformin = MedicationFactory(patient=patient, instructions="With meals")
    stopped = MedicationFactory(
        patient=patient,
        name="Glipizide 5 mg",
        rxnorm_code="",
        source="discharge",
        prescriber="Dr. Lee",
        status="stopped",
        stops_on=dt.date(2026, 9, 1),
    )
    first, second = _statements(patient)
    assert first["id"] == str(metformin.pk)
    assert first["status"] == "active"
    assert first["medicationCodeableConcept"]["coding"] == [
        {"system": RXNORM_SYSTEM, "code": "860975", "display": "Metformin 500 mg tablet"}
    ]
    assert first["subject"]["reference"] == f"urn:uuid:{patient.pk}"
    assert first["informationSource"]["reference"] == f"urn:uuid:{patient.pk}"
    assert first["dosage"][0]["text"] == "1 tablet, by mouth, twice daily"
    assert first["dosage"][0]["route"]["text"] == "by mouth"
    assert first["dosage"][0]["patientInstruction"] == "With meals"
    assert first["effectivePeriod"] == {"start": "2025-03-01"}
    assert second["id"] == str(stopped.pk)
    assert second["status"] == "stopped"
    assert "coding" not in second["medicationCodeableConcept"]
    assert second["medicationCodeableConcept"]["text"] == "Glipizide 5 mg"
    assert second["effectivePeriod"] == {"start": "2025-03-01", "end": "2026-09-01"}
    assert second["informationSource"] == {"display": "Dr. Lee"}


def test_a_patient_without_medicines_has_no_statements(patient):
    assert _statements(patient) == []
