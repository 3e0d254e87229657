"""The chart's medication section (the list, active first, stopped after, and the latest
reconciliations with what they changed) and the FHIR bundle's MedicationStatements
(registered on import; see PatientsConfig.ready)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.resource import Resource

from ccm.tenancy import PracticeRequest
from patients.hooks import chart_panels, fhir_sections
from patients.medication_fhir import medication_resources
from patients.medication_selectors import medication_list, reconciliation_list
from patients.models import Condition, MedicationStatus, Patient

HISTORY_SHOWN = 5  # reconciliations on the chart; the API lists them all


@chart_panels.register
def medication_panel(
    request: PracticeRequest, patient: Patient, extra: dict[str, Any]
) -> dict[str, Any]:
    practice = request.practice
    medications = list(
        medication_list(practice=practice, patient_id=patient.pk, include_stopped=True)
    )
    return {
        "medications": [m for m in medications if m.status != MedicationStatus.STOPPED],
        "stopped_medications": [m for m in medications if m.status == MedicationStatus.STOPPED],
        "reconciliations": list(
            reconciliation_list(practice=practice, patient_id=patient.pk)[:HISTORY_SHOWN]
        ),
    }


@fhir_sections.register
def medication_section(patient: Patient, conditions: list[Condition]) -> list[Resource]:
    """The patient's medicines as MedicationStatements."""
    return medication_resources(patient, conditions)
