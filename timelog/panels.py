"""What timelog adds to patients' chart page (patients/hooks.py; registered on import, see
TimelogConfig.ready)."""

from __future__ import annotations

from typing import Any

from billing.months import current_month
from ccm.tenancy import PracticeRequest
from patients.hooks import chart_panels
from patients.models import Patient
from timelog.models import Activity
from timelog.selectors import chart_time


@chart_panels.register
def time_panel(request: PracticeRequest, patient: Patient, extra: dict[str, Any]) -> dict[str, Any]:
    month = current_month(request.practice.time_zone)
    return {
        "time": chart_time(practice=request.practice, patient=patient, month=month),
        "activity_choices": [("", "Activity: pick later"), *Activity.choices],
    }
