"""What careplans adds to patients' chart page and FHIR bundle (patients/hooks.py; registered
on import, see CareplansConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from fhir.resources.R4B.resource import Resource

from careplans.fhir import care_plan_resources
from careplans.selectors import chart_plan, signing_queue
from ccm import audit
from ccm.hooks import home_panels
from ccm.roles import Capability, can
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


# --- The physician's home page: the plans waiting for a signature (ccm.hooks.home_panels).
HOME_QUEUE_ROWS = 5


@home_panels.register
def signing_panel(request: PracticeRequest) -> dict[str, Any]:
    """For those who sign: how many plans wait (and how many are their own patients'), and
    the oldest few with links; two queries and one audit insert, whatever the queue's size."""
    membership = request.membership
    if not can(membership, Capability.SIGN_CARE_PLANS):
        return {}
    queue = signing_queue(practice=request.practice)
    counts = queue.aggregate(
        total=Count("pk"), mine=Count("pk", filter=Q(patient__billing_practitioner=membership))
    )
    oldest = list(queue[:HOME_QUEUE_ROWS])
    if oldest:
        audit.read_many(membership, [v.patient for v in oldest], action="careplan.queue")
    return {"signing": {"total": counts["total"], "mine": counts["mine"], "oldest": oldest}}
