"""The care plan's sections read from the chart (issue 17), not a second copy in the plan:
the medication section and "last reconciled" (the patient's medication list and latest
reconciliation, patients.medication_selectors) and the coordination and caregiver sections
(the chart's care contacts and permissions, careplans.careteam). A draft shows them live;
signing stores them in the version's content as they were then (the signed record, hashed and
printed, never edited again). `content.FROM_CHART` names these sections."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from careplans import careteam
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
    """The chart's sections as the chart has them now: medicines, last reconciliation date,
    care team and caregivers (five queries)."""
    if not isinstance(practice, Practice):
        practice = Practice.objects.get(pk=practice)
    medicines = medication_list(practice=practice.pk, patient_id=patient_id)
    last = last_reconciliation(practice=practice.pk, patient_id=patient_id)
    return {
        "medications": medication_rows(medicines),
        "medications_reconciled_on": last.reconciled_on.isoformat() if last else "",
        **careteam.care_team_sections(
            practice=practice, patient_id=patient_id, today=practice.today()
        ),
    }


def with_chart(content: dict[str, Any], *, practice: Any, patient_id: Any) -> dict[str, Any]:
    """Draft content with the chart's sections in place of its (empty) own."""
    return {**content, **from_chart(practice=practice, patient_id=patient_id)}


def content_of(version: CarePlanVersion) -> dict[str, Any]:
    """What the version says: a draft reads the chart's sections now; a signed or
    superseded version has them as of its signing."""
    if not version.is_draft:
        return version.content
    return with_chart(version.content, practice=version.practice, patient_id=version.patient_id)


def without_chart(content: dict[str, Any]) -> dict[str, Any]:
    """A signed version's content as a new draft's: the chart snapshot dropped (the draft
    reads the chart)."""
    return {**content, **{name: plan_content.empty()[name] for name in plan_content.FROM_CHART}}


def from_chart_many(*, practice: Practice, patient_ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """The medication part of `from_chart` for many patients at once (two queries): demo
    seeding, bulk work."""
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
