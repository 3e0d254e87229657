"""Reads of the patient's medication list and its reconciliations (issue 17). The care
plan's medication section and "last reconciled" read these; there is no second copy."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ccm.models import Practice
from patients.models import Medication, MedicationReconciliation, MedicationStatus


def medication_list(
    *, practice: Practice, patient_id: Any, include_stopped: bool = False
) -> QuerySet[Medication]:
    """The patient's medicines, active first then by name (one query)."""
    found = Medication.objects.for_practice(practice).filter(patient_id=patient_id)
    if not include_stopped:
        found = found.exclude(status=MedicationStatus.STOPPED)
    return found.order_by("status", "name", "created_at")


def last_reconciliation(*, practice: Practice, patient_id: Any) -> MedicationReconciliation | None:
    """The patient's latest medication reconciliation, or None (one query)."""
    return (
        MedicationReconciliation.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("performed_by__user")
        .order_by("-reconciled_at")
        .first()
    )
