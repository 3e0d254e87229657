"""FHIR R4 `Encounter` resources of a patient's care transitions, for the patient bundle
(patients/fhir.py, through patients/hooks.py). Validated by the fhir.resources R4B model, like
the bundle's others; blank fields are left out (FHIR strings may not be empty)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.encounter import Encounter

from careplans.models import CareTransition, TransitionKind
from patients.models import Patient

ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

# Encounter.class (v3 ActEncounterCode): inpatient stays, the emergency department, the
# specialist's office.
ENCOUNTER_CLASS: dict[str, tuple[str, str]] = {
    TransitionKind.HOSPITAL_DISCHARGE: ("IMP", "inpatient encounter"),
    TransitionKind.SNF_DISCHARGE: ("IMP", "inpatient encounter"),
    TransitionKind.ED_VISIT: ("EMER", "emergency"),
    TransitionKind.SPECIALIST_VISIT: ("AMB", "ambulatory"),
}


def encounter_resources(patient: Patient) -> list[Encounter]:
    """One finished Encounter per care transition of the patient, newest first (one query)."""
    rows = (
        CareTransition.objects.for_practice(patient.practice_id)
        .filter(patient_id=patient.pk)
        .select_related("contact")
        .order_by("-occurred_on", "-created_at")
    )
    return [encounter(row) for row in rows]


def encounter(transition: CareTransition) -> Encounter:
    code, display = ENCOUNTER_CLASS[transition.kind]
    start = transition.admitted_on or transition.occurred_on
    data: dict[str, Any] = {
        "id": str(transition.pk),
        "status": "finished",
        "class": {"system": ACT_CODE_SYSTEM, "code": code, "display": display},
        "type": [{"text": transition.get_kind_display()}],
        "subject": {"reference": f"urn:uuid:{transition.patient_id}"},
        "period": {"start": start, "end": transition.occurred_on},
    }
    if transition.diagnoses:
        data["reasonCode"] = [{"text": transition.diagnoses}]
    if transition.facility:
        data["location"] = [{"location": {"display": transition.facility}}]
    if transition.contact is not None:
        data["participant"] = [{"individual": {"display": transition.contact.name}}]
    # We record no discharge disposition (home, SNF, hospice...): it is left out, not guessed.
    return Encounter.model_validate(data)
