"""The chart's care team and contact preferences panels (registered on import; see
PatientsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ccm.tenancy import PracticeRequest
from patients.careteam_selectors import (
    call_window_open,
    call_windows,
    contact_rows,
    window_rows,
)
from patients.hooks import chart_panels
from patients.models import CallWindowKind, Patient


@chart_panels.register
def careteam_panel(
    request: PracticeRequest, patient: Patient, extra: dict[str, Any]
) -> dict[str, Any]:
    """The contacts with their permissions (two queries), the call windows (one)."""
    practice = request.practice
    windows = list(call_windows(practice=practice, patient_id=patient.pk))
    local_now = timezone.now().astimezone(practice.zone)
    return {
        "care_contacts": contact_rows(
            practice=practice, patient_id=patient.pk, today=practice.today()
        ),
        "best_windows": window_rows(w for w in windows if w.kind == CallWindowKind.BEST),
        "avoid_windows": window_rows(w for w in windows if w.kind == CallWindowKind.DO_NOT_CALL),
        "call_window_open_now": call_window_open(windows, local_now),
    }
