"""What patients adds to ccm's home page and to its own chart (registered on import; see
PatientsConfig.ready)."""

from __future__ import annotations

from typing import Any

from ccm.hooks import home_panels
from ccm.tenancy import PracticeRequest
from patients.coverage_selectors import coverage_rows
from patients.hooks import chart_panels
from patients.models import Patient
from patients.selectors import status_counts


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
