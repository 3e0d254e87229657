"""FHIR R4 (R4B models) for a care plan version: a CarePlan with its goals as Goal resources
and its interventions as activities. Validated by fhir.resources before it leaves."""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B.careplan import CarePlan as FhirCarePlan
from fhir.resources.R4B.goal import Goal as FhirGoal
from fhir.resources.R4B.resource import Resource

from careplans import chart_sections
from careplans import content as plan_content
from careplans.models import CarePlanVersion, VersionStatus

CATEGORY_SYSTEM = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
# Our version status → CarePlan.status (FHIR request-status).
STATUS = {
    VersionStatus.DRAFT: "draft",
    VersionStatus.SIGNED: "active",
    VersionStatus.SUPERSEDED: "revoked",
}
# Our goal status → Goal.lifecycleStatus / achievementStatus.
LIFECYCLE = {"not_started": "proposed", "in_progress": "active", "met": "completed"}
ACHIEVEMENT = {"in_progress": "in-progress", "met": "achieved", "not_met": "not-achieved"}
ACHIEVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/goal-achievement"


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def _goal(version: CarePlanVersion, index: int, goal: dict[str, str]) -> FhirGoal:
    status = goal.get("status", "not_started")
    target = _compact(
        {
            "measure": {"text": goal["measure"]} if goal.get("measure") else None,
            "detailString": goal.get("target"),
            "dueDate": goal.get("due_on"),
        }
    )
    achievement = ACHIEVEMENT.get(status)
    return FhirGoal.model_validate(
        _compact(
            {
                # A stable UUID per goal, so the bundle's urn:uuid references are valid.
                "id": str(uuid.uuid5(version.pk, f"goal-{index}")),
                "lifecycleStatus": LIFECYCLE.get(status, "active"),
                "achievementStatus": {
                    "coding": [{"system": ACHIEVEMENT_SYSTEM, "code": achievement}]
                }
                if achievement
                else None,
                "description": {"text": goal.get("goal") or goal.get("target") or "Goal"},
                "subject": {"reference": f"urn:uuid:{version.patient_id}"},
                "target": [target] if target else None,
            }
        )
    )


def care_plan_resources(version: CarePlanVersion, conditions: Any) -> list[Resource]:
    """The version's CarePlan and its Goals (references are urn:uuid, as in the bundle)."""
    body = chart_sections.content_of(version)
    goals = [_goal(version, i, g) for i, g in enumerate(body.get("goals", []))]
    codes = {p.get("code") for p in body.get("problems", [])}
    addresses = [{"reference": f"urn:uuid:{c.pk}"} for c in conditions if c.icd10_code in codes]
    description = "\n".join(
        f"{label}: {'; '.join(lines)}" for label, lines in plan_content.sections(body) if lines
    )
    plan = FhirCarePlan.model_validate(
        _compact(
            {
                "id": str(version.pk),
                "status": STATUS[VersionStatus(version.status)],
                "intent": "plan",
                "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "assess-plan"}]}],
                "title": f"Comprehensive care plan, version {version.number}",
                "description": description,
                "subject": {"reference": f"urn:uuid:{version.patient_id}"},
                "created": version.created_at,
                "period": {"start": version.signed_on} if version.signed_on else None,
                "addresses": addresses,
                "goal": [{"reference": f"urn:uuid:{g.id}"} for g in goals],
                "activity": [
                    {
                        "detail": _compact(
                            {
                                "status": "in-progress",
                                "description": f"{i['intervention']} ({i['responsible']})"
                                if i.get("responsible")
                                else i.get("intervention"),
                            }
                        )
                    }
                    for i in body.get("interventions", [])
                ],
            }
        )
    )
    return [plan, *goals]
