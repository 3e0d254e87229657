"""FHIR R4 `CareTeam` and `RelatedPerson` resources of a patient's contacts, for the patient
bundle (patients/fhir.py, through the fhir_sections hook; registered on import, see
PatientsConfig.ready): one CareTeam whose participants are the active practitioners,
agencies and pharmacies (with their role) and the caregivers, and one RelatedPerson per
caregiver (relationship, telecom, communication language)."""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.relatedperson import RelatedPerson
from fhir.resources.R4B.resource import Resource

from patients.careteam_selectors import care_contacts, contact_kind
from patients.fhir import _communication
from patients.hooks import fhir_sections
from patients.models import CareContact, Condition, Patient

CATEGORY_SYSTEM = "http://loinc.org"
# LOINC LA27976-2 "Longitudinal care-coordination focused care team" (CareTeam.category).
COORDINATION_TEAM = ("LA27976-2", "Longitudinal care-coordination focused care team")


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def _telecom(contact: CareContact) -> list[dict[str, str]]:
    telecom = []
    if contact.phone:
        telecom.append({"system": "phone", "value": str(contact.phone), "use": "work"})
    if contact.fax:
        telecom.append({"system": "fax", "value": str(contact.fax), "use": "work"})
    if contact.secure_email:
        telecom.append({"system": "email", "value": contact.secure_email, "use": "work"})
    return telecom


def _related_person(contact: CareContact) -> RelatedPerson:
    relationship = contact.relationship + (" (representative)" if contact.is_representative else "")
    data = _compact(
        {
            "id": str(contact.pk),
            "active": True,
            "patient": {"reference": f"urn:uuid:{contact.patient_id}"},
            "relationship": [{"text": relationship}],
            "name": [{"text": contact.name}],
            "telecom": _telecom(contact),
            "communication": _communication(contact.language),
        }
    )
    return RelatedPerson.model_validate(data)


def _participant(contact: CareContact) -> dict[str, Any]:
    if contact.is_caregiver:
        role = contact.relationship + (" (representative)" if contact.is_representative else "")
        member = {"reference": f"urn:uuid:{contact.pk}", "display": contact.name}
        return {"role": [{"text": role}], "member": member}
    role = contact_kind(contact)
    participant: dict[str, Any] = {"role": [{"text": role}], "member": {"display": contact.name}}
    if contact.organisation:
        participant["onBehalfOf"] = {"display": contact.organisation}
    return participant


@fhir_sections.register
def care_team_section(patient: Patient, conditions: list[Condition]) -> list[Resource]:
    """A RelatedPerson per active caregiver and one CareTeam of every active contact (none
    without contacts). One query."""
    contacts = list(care_contacts(practice=patient.practice, patient_id=patient.pk))
    if not contacts:
        return []
    code, display = COORDINATION_TEAM
    team = CareTeam.model_validate(
        {
            "id": str(uuid.uuid5(patient.pk, "care-team")),  # stable: one team a patient
            "status": "active",
            "category": [
                {"coding": [{"system": CATEGORY_SYSTEM, "code": code, "display": display}]}
            ],
            "name": "Care team and caregivers",
            "subject": {"reference": f"urn:uuid:{patient.pk}"},
            "participant": [_participant(c) for c in contacts],
        }
    )
    people: list[Resource] = [_related_person(c) for c in contacts if c.is_caregiver]
    return [*people, team]
