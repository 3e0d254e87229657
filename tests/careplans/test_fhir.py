"""The patient's FHIR bundle carries the care plan: CarePlan (active when signed, draft for
a draft) with its Goals and interventions, validated by fhir.resources R4B."""

import uuid

import pytest
from fhir.resources.R4B.bundle import Bundle

from careplans import services
from ccm.tenancy import practice_scope
from tests.careplans.conftest import COMPLETE
from tests.helpers import token_client

pytestmark = pytest.mark.usefixtures("frozen")


def _bundle(membership, patient) -> dict:
    response = token_client(membership).get(f"/api/v1/patients/{patient.pk}/fhir/")
    assert response.status_code == 200
    Bundle.model_validate_json(response.content)  # valid R4 as a whole
    return response.json()


def _of(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_signed_plan_is_an_active_care_plan_with_goals_and_activities(
    practice, coordinator, signed, patient
):
    with practice_scope(practice):
        draft = services.draft_start(practice=practice, actor=coordinator, patient=patient)
    bundle = _bundle(coordinator, patient)
    plans = {p["id"]: p for p in _of(bundle, "CarePlan")}
    assert plans[str(signed.pk)]["status"] == "active"
    assert plans[str(draft.pk)]["status"] == "draft"
    active = plans[str(signed.pk)]
    assert active["intent"] == "plan"
    assert active["subject"]["reference"] == f"urn:uuid:{patient.pk}"
    assert active["period"]["start"] == "2026-10-20"
    assert active["activity"][0]["detail"]["description"] == "Monthly call (Care coordinator)"
    # Problems point at the patient's Condition resources (E11.9 is on the chart).
    conditions = {c["id"] for c in _of(bundle, "Condition")}
    assert {a["reference"][len("urn:uuid:") :] for a in active["addresses"]} <= conditions
    goals = {g["id"]: g for g in _of(bundle, "Goal")}
    for ref in active["goal"]:
        goal = goals[ref["reference"][len("urn:uuid:") :]]
        uuid.UUID(goal["id"])  # a real UUID behind every urn:uuid
    first = goals[active["goal"][0]["reference"][len("urn:uuid:") :]]
    assert first["description"]["text"] == COMPLETE["goals"][0]["goal"]
    assert first["target"][0]["detailString"] == "Below 7.5%"
    assert first["lifecycleStatus"] == "proposed"
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert all(r["reference"] in full_urls for r in active["goal"] + active["addresses"])


def test_no_plan_no_care_plan_resource(coordinator, patient):
    assert _of(_bundle(coordinator, patient), "CarePlan") == []
