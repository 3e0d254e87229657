"""What patients adds to ccm's home page and to its own chart (registered on import; see
PatientsConfig.ready)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from django.db.models import QuerySet

from ccm.hooks import audit_patient_names, audit_patient_search, home_panels
from ccm.models import Practice
from ccm.tenancy import PracticeRequest
from patients.coverage_selectors import coverage_rows
from patients.hooks import chart_panels
from patients.models import Patient
from patients.selectors import search_filter, status_counts


@home_panels.register
def census(request: PracticeRequest) -> dict[str, Any]:
    return {"census": status_counts(practice=request.practice)}


@chart_panels.register
def coverage_panel(
    request: PracticeRequest, patient: Patient, extra: dict[str, Any]
) -> dict[str, Any]:
    today = request.practice.today()
    return {
        "coverages": coverage_rows(practice=request.practice, patient_id=patient.pk, today=today)
    }


# --- The audit log's patient names and search (ccm.hooks; only VIEW_AUDIT holders see them).
@audit_patient_names.register
def audit_names(practice: Practice, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = Patient.objects.for_practice(practice).filter(pk__in=ids)
    return {
        pk: f"{last}, {first} ({mrn})"
        for pk, last, first, mrn in rows.values_list("pk", "last_name", "first_name", "mrn")
    }


@audit_patient_search.register
def audit_search(practice: Practice, text: str) -> QuerySet[Any]:
    return Patient.objects.for_practice(practice).filter(search_filter(text)).values("pk")
