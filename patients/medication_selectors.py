"""Reads of the patient's medication list and its reconciliations (issue 17). The care
plan's medication section and "last reconciled" read these; there is no second copy."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Prefetch, QuerySet

from ccm.models import Practice
from ccm.tenancy import get_for_practice_or_404
from patients.models import (
    Medication,
    MedicationChange,
    MedicationReconciliation,
    MedicationStatus,
)


def medication_list(
    *, practice: Practice | uuid.UUID, patient_id: Any, include_stopped: bool = False
) -> QuerySet[Medication]:
    """The patient's medicines, active first then by name (one query)."""
    found = Medication.objects.for_practice(practice).filter(patient_id=patient_id)
    if not include_stopped:
        found = found.exclude(status=MedicationStatus.STOPPED)
    return found.order_by("status", "name", "created_at")


def last_reconciliation(
    *, practice: Practice | uuid.UUID, patient_id: Any
) -> MedicationReconciliation | None:
    """The patient's latest medication reconciliation, or None (one query)."""
    return (
        MedicationReconciliation.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("performed_by__user")
        .order_by("-reconciled_at")
        .first()
    )


def medication_get(*, practice: Practice, patient_id: Any, medication_id: Any) -> Medication:
    """One medicine of the patient; 404 for a malformed id, another patient's or practice's."""
    found = Medication.objects.for_practice(practice).filter(patient_id=patient_id)
    return get_for_practice_or_404(found, practice, medication_id)


def reconciliation_list(
    *, practice: Practice, patient_id: Any
) -> QuerySet[MedicationReconciliation]:
    """The patient's reconciliations, newest first, with who did them, the contact and each
    change's medicine (two queries)."""
    changes = (
        MedicationChange.objects.for_practice(practice)
        .select_related("medication")
        .order_by("action", "medication__name")
    )
    return (
        MedicationReconciliation.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("performed_by__user", "contact")
        .prefetch_related(Prefetch("changes", queryset=changes))
        .order_by("-reconciled_at")
    )
