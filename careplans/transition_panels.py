"""What care transitions add to the patient's chart (the timeline and the record form) and to
the FHIR bundle (an Encounter per transition), through patients/hooks.py; registered on
import (CareplansConfig.ready)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.resource import Resource

from careplans.transition_fhir import encounter_resources
from careplans.transition_selectors import transition_list
from careplans.transition_views import transition_form
from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest
from patients.hooks import chart_panels, fhir_sections
from patients.models import Condition, Patient

TIMELINE_LENGTH = 20  # the newest; a patient with more is rare in a CCM year


@chart_panels.register
def transition_panel(
    request: PracticeRequest, patient: Patient, extra: dict[str, Any]
) -> dict[str, Any]:
    transitions = list(
        transition_list(practice=request.practice, patient_id=patient.pk)[:TIMELINE_LENGTH]
    )
    clinical = can(request.membership, Capability.EDIT_CLINICAL)
    return {
        "transitions": transitions,
        "transition_form": transition_form(request, patient) if clinical else None,
    }


@fhir_sections.register
def transition_section(patient: Patient, conditions: list[Condition]) -> list[Resource]:
    """An Encounter per care transition."""
    return list(encounter_resources(patient))
