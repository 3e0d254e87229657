"""The patient bundle's Coverage resources: one per coverage, valid R4, with the member id as
subscriberId, the payer as payor, the dates as period, status by dates and order 1/2."""

import datetime as dt

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.coverage import Coverage as FhirCoverage

from patients import coverage_services as cs
from patients import fhir, selectors
from tests.helpers import frozen_clock
from tests.patients.conftest import NOW
from tests.patients.coverage_data import MBI, payers

pytestmark = pytest.mark.usefixtures("scope")
_frozen_clock = frozen_clock(NOW, autouse=True)


def _coverages(patient):
    chart = selectors.patient_get(practice=patient.practice, patient_id=patient.pk)
    bundle = fhir.patient_bundle(chart)
    Bundle.model_validate(bundle)
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage"]


def test_each_coverage_is_a_valid_fhir_coverage(practice, coordinator, patient):
    by_kind = payers(practice)
    part_b = cs.coverage_create(
        practice=practice,
        actor=coordinator,
        patient=patient,
        kind="part_b",
        starts_on=dt.date(2015, 3, 1),
        ends_on=dt.date(2025, 12, 31),
    )
    plan = cs.coverage_create(
        practice=practice,
        actor=coordinator,
        patient=patient,
        kind="medicare_advantage",
        payer=by_kind["medicare_advantage"],
        member_id="H5216-0042",
        plan_name="Gold Plus HMO",
        starts_on=dt.date(2026, 1, 1),
    )
    gap = cs.coverage_create(
        practice=practice,
        actor=coordinator,
        patient=patient,
        kind="qmb",
        starts_on=dt.date(2026, 1, 1),
    )
    found = {r["id"]: r for r in _coverages(patient)}
    assert set(found) == {str(part_b.pk), str(plan.pk), str(gap.pk)}
    for resource in found.values():
        FhirCoverage.model_validate(resource)
        assert resource["beneficiary"] == {"reference": f"urn:uuid:{patient.pk}"}

    ended = found[str(part_b.pk)]
    assert (ended["status"], ended["order"], ended["subscriberId"]) == ("cancelled", 1, MBI)
    assert ended["period"] == {"start": "2015-03-01", "end": "2025-12-31"}
    assert ended["type"]["coding"][0]["code"] == "PUBLICPOL"
    assert ended["type"]["text"] == "Medicare Part B"

    advantage = found[str(plan.pk)]
    assert (advantage["status"], advantage["order"]) == ("active", 1)
    assert advantage["subscriberId"] == "H5216-0042"
    assert advantage["payor"] == [
        {
            "type": "Organization",
            "display": "Humana Medicare Advantage",
            "identifier": {
                "system": f"urn:caremonth:practice:{practice.pk}:payer-id",
                "value": "61101",
            },
        }
    ]
    assert advantage["class"][0]["value"] == "Gold Plus HMO"
    assert advantage["period"] == {"start": "2026-01-01"}

    qmb = found[str(gap.pk)]
    assert (qmb["order"], qmb["payor"]) == (2, [{"display": "Medicaid (QMB)"}])
    assert "subscriberId" not in qmb


def test_a_patient_without_coverage_has_no_coverage_resource(patient):
    assert _coverages(patient) == []
