"""FHIR R4 `Coverage` resources of a patient's insurance coverage, for the patient bundle
(patients/fhir.py). Validated by the fhir.resources R4B model, like the bundle's others."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.coverage import Coverage as FhirCoverage

from patients.models import Coverage, CoverageKind, CoveragePriority, Patient

ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RELATIONSHIP_SYSTEM = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/coverage-class"
MBI_SYSTEM = "http://hl7.org/fhir/sid/us-mbi"
PAYER_ID_SYSTEM = "urn:caremonth:practice:{practice_id}:payer-id"

# Coverage.type (extensible binding to v3 ActCoverageTypeCode), with the kind as its text.
TYPE_CODES: dict[str, tuple[str, str]] = {
    CoverageKind.MEDICARE_PART_B: ("PUBLICPOL", "public healthcare"),
    CoverageKind.MEDICARE_ADVANTAGE: ("SUBSIDMC", "subsidized managed care program"),
    CoverageKind.OTHER_PRIMARY: ("HIP", "health insurance plan policy"),
    CoverageKind.MEDICAID: ("SUBSIDIZ", "subsidized health program"),
    CoverageKind.QMB: ("SUBSUPP", "subsidized supplemental health program"),
    CoverageKind.MEDIGAP: ("HIP", "health insurance plan policy"),
    CoverageKind.OTHER_SECONDARY: ("HIP", "health insurance plan policy"),
}
# Who pays when no payer is recorded (payor is required).
DEFAULT_PAYORS: dict[str, str] = {
    CoverageKind.MEDICARE_PART_B: "Medicare Part B (the practice's Medicare contractor)",
    CoverageKind.QMB: "Medicaid (QMB)",
}


def coverage_resources(patient: Patient, today: dt.date) -> list[FhirCoverage]:
    """One Coverage per coverage of the patient, primary first (one query)."""
    rows = (
        Coverage.objects.for_practice(patient.practice_id)
        .filter(patient_id=patient.pk)
        .select_related("payer")
        .order_by("priority", "-starts_on")
    )
    return [_coverage(row, today) for row in rows]


def _coverage(coverage: Coverage, today: dt.date) -> FhirCoverage:
    code, display = TYPE_CODES[coverage.kind]
    ended = coverage.ends_on is not None and coverage.ends_on < today
    data: dict[str, Any] = {
        "id": str(coverage.pk),
        "status": "cancelled" if ended else "active",
        "type": {
            "coding": [{"system": ACT_CODE_SYSTEM, "code": code, "display": display}],
            "text": coverage.get_kind_display(),
        },
        "beneficiary": {"reference": f"urn:uuid:{coverage.patient_id}"},
        "relationship": {"coding": [{"system": RELATIONSHIP_SYSTEM, "code": "self"}]},
        "payor": [_payor(coverage)],
        "period": {
            "start": coverage.starts_on,
            **({"end": coverage.ends_on} if coverage.ends_on else {}),
        },
        "order": 1 if coverage.priority == CoveragePriority.PRIMARY else 2,
    }
    if coverage.member_id:
        data["subscriberId"] = coverage.member_id
        if coverage.kind == CoverageKind.MEDICARE_PART_B:
            data["identifier"] = [{"system": MBI_SYSTEM, "value": coverage.member_id}]
    classes = [
        ("group", coverage.group_number, "Group"),
        ("plan", coverage.plan_name, "Plan"),
    ]
    data["class"] = [
        {"type": {"coding": [{"system": CLASS_SYSTEM, "code": c, "display": d}]}, "value": v}
        for c, v, d in classes
        if v
    ] or None
    return FhirCoverage.model_validate({k: v for k, v in data.items() if v is not None})


def _payor(coverage: Coverage) -> dict[str, Any]:
    payer = coverage.payer
    if payer is None:
        return {"display": DEFAULT_PAYORS.get(coverage.kind, coverage.get_kind_display())}
    return {
        "type": "Organization",
        "display": payer.name,
        "identifier": {
            "system": PAYER_ID_SYSTEM.format(practice_id=payer.practice_id),
            "value": payer.payer_id,
        },
    }
