"""The care plan's medication section and "last reconciled", read from the chart (issue 17):
the patient's medication list and latest reconciliation (patients.medication_selectors), not
a second copy in the plan. A draft shows them live; signing stores them in the version's
content as they were then (the signed record, never edited again)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from careplans import content as plan_content
from careplans.models import CarePlanVersion
from ccm.models import Practice
from patients.medication_selectors import last_reconciliation, medication_list
from patients.models import Medication, MedicationReconciliation, MedicationStatus


def medication_rows(medications: Iterable[Medication]) -> list[dict[str, str]]:
    """The plan's rows (name, dose, instructions) of the medicines the patient takes."""
    rows = []
    for m in medications:
        how = ", ".join(part for part in (m.dose, m.route, m.frequency) if part)
        held = "On hold. " if m.status == MedicationStatus.ON_HOLD else ""
        rows.append({"name": m.name, "dose": how, "instructions": f"{held}{m.instructions}"})
    return rows


def from_chart(*, practice: Any, patient_id: Any) -> dict[str, Any]:
    """The medication section and last reconciliation date as the chart has them now (two
    queries)."""
    practice_id = uuid.UUID(str(getattr(practice, "pk", practice)))
    medicines = medication_list(practice=practice_id, patient_id=patient_id)
    last = last_reconciliation(practice=practice_id, patient_id=patient_id)
    return {
        "medications": medication_rows(medicines),
        "medications_reconciled_on": last.reconciled_on.isoformat() if last else "",
    }


def with_chart(content: dict[str, Any], *, practice: Any, patient_id: Any) -> dict[str, Any]:
    """Draft content with the chart's medication section in place of its (empty) own."""
    return {**content, **from_chart(practice=practice, patient_id=patient_id)}


def content_of(version: CarePlanVersion) -> dict[str, Any]:
    """What the version says: a draft reads the chart's medications now; a signed or
    superseded version has them as of its signing."""
    if not version.is_draft:
        return version.content
    return with_chart(version.content, practice=version.practice_id, patient_id=version.patient_id)


def without_chart(content: dict[str, Any]) -> dict[str, Any]:
    """A signed version's content as a new draft's: the medication snapshot dropped (the
    draft reads the chart)."""
    return {**content, **{name: plan_content.empty()[name] for name in plan_content.FROM_CHART}}


def from_chart_many(*, practice: Practice, patient_ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """`from_chart` for many patients at once (two queries): demo seeding, bulk work."""
    ids = list(patient_ids)
    medicines = (
        Medication.objects.for_practice(practice)
        .filter(patient_id__in=ids)
        .exclude(status=MedicationStatus.STOPPED)
        .order_by("status", "name", "created_at")
    )
    latest = (
        MedicationReconciliation.objects.for_practice(practice)
        .filter(patient_id__in=ids)
        .order_by("patient_id", "-reconciled_at")
        .distinct("patient_id")
        .values_list("patient_id", "reconciled_on")
    )
    by_patient: dict[Any, list[Medication]] = defaultdict(list)
    for medicine in medicines:
        by_patient[medicine.patient_id].append(medicine)
    days = dict(latest)
    return {
        pk: {
            "medications": medication_rows(by_patient[pk]),
            "medications_reconciled_on": days[pk].isoformat() if pk in days else "",
        }
        for pk in ids
    }
