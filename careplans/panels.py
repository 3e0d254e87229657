"""What careplans adds to patients' chart page and FHIR bundle (patients/hooks.py; registered
on import, see CareplansConfig.ready)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.resource import Resource

from careplans.fhir import care_plan_resources
from careplans.selectors import chart_plan
from ccm.tenancy import PracticeRequest
from patients.hooks import chart_panels, fhir_sections
from patients.models import Condition, Patient


@chart_panels.register
def care_plan_panel(
    request: PracticeRequest, patient: Patient, extra: dict[str, Any]
) -> dict[str, Any]:
    return {"care_plan": chart_plan(practice=request.practice, patient_id=patient.pk)}


@fhir_sections.register
def care_plan_section(patient: Patient, conditions: list[Condition]) -> list[Resource]:
    """The current signed version and the draft, each a CarePlan with its Goals."""
    plan = chart_plan(practice=patient.practice, patient_id=patient.pk)
    versions = [v for v in (plan.signed, plan.draft) if v is not None]
    return [r for version in versions for r in care_plan_resources(version, conditions)]
