"""FHIR R4 `MedicationStatement` resources of the patient's medication list, for the patient
bundle (patients/fhir.py, through the `fhir_sections` hook: patients/medication_panels.py).
Validated by the fhir.resources R4B model, like the bundle's others."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.medicationstatement import MedicationStatement

from patients.models import Condition, Medication, MedicationSource, MedicationStatus, Patient

RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/medication-statement-category"
# Our status → MedicationStatement.status (medication-statement-status).
STATUS = {
    MedicationStatus.ACTIVE: "active",
    MedicationStatus.ON_HOLD: "on-hold",
    MedicationStatus.STOPPED: "stopped",
}
# Who reported the medicine → MedicationStatement.category.
CATEGORY = {
    MedicationSource.PATIENT: ("patientspecified", "Patient Specified"),
    MedicationSource.DISCHARGE: ("outpatient", "Outpatient"),
}


def medication_resources(patient: Patient, conditions: list[Condition]) -> list[Any]:
    """One MedicationStatement per medicine of the patient, active first (one query)."""
    rows = (
        Medication.objects.for_practice(patient.practice_id)
        .filter(patient_id=patient.pk)
        .order_by("status", "name", "created_at")
    )
    return [_statement(row) for row in rows]


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def _statement(medication: Medication) -> MedicationStatement:
    coding = _compact(
        {"system": RXNORM_SYSTEM, "code": medication.rxnorm_code, "display": medication.name}
    )
    dosage = _compact(
        {
            "text": ", ".join(
                p for p in (medication.dose, medication.route, medication.frequency) if p
            ),
            "route": {"text": medication.route} if medication.route else None,
            "patientInstruction": medication.instructions,
        }
    )
    period = _compact({"start": medication.starts_on, "end": medication.stops_on})
    source = (
        {"reference": f"urn:uuid:{medication.patient_id}"}
        if medication.source == MedicationSource.PATIENT
        else {"display": medication.prescriber or medication.get_source_display()}
    )
    category = CATEGORY.get(MedicationSource(medication.source))
    data = _compact(
        {
            "id": str(medication.pk),
            "status": STATUS[MedicationStatus(medication.status)],
            "category": {
                "coding": [{"system": CATEGORY_SYSTEM, "code": category[0], "display": category[1]}]
            }
            if category
            else None,
            "medicationCodeableConcept": _compact(
                {"coding": [coding] if medication.rxnorm_code else None, "text": medication.name}
            ),
            "subject": {"reference": f"urn:uuid:{medication.patient_id}"},
            "effectivePeriod": period,
            "dateAsserted": medication.created_at,
            "informationSource": source,
            "dosage": [dosage] if dosage else None,
        }
    )
    return MedicationStatement.model_validate(data)
