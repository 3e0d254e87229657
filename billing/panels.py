"""What billing adds to lower apps' pages (ccm/hooks.py; registered on import, see
BillingConfig.ready): the billing dashboard on the home page, the time panel on the chart (the
engine's progress on today's facts)."""

from __future__ import annotations

from typing import Any

from billing.dashboard import dashboard
from billing.progress.selectors import chart_time
from ccm.hooks import home_panels
from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest
from patients.hooks import chart_panels
from patients.models import Patient
from timelog.models import Activity


@home_panels.register
def dashboard_panel(request: PracticeRequest) -> dict[str, Any]:
    if not can(request.membership, Capability.VIEW_DASHBOARD):
        return {}
    # The chart's inline <style> carries this request's CSP nonce.
    nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
    return {"dashboard": dashboard(practice=request.practice, nonce=nonce)}


@chart_panels.register
def time_panel(request: PracticeRequest, patient: Patient, extra: dict[str, Any]) -> dict[str, Any]:
    today = request.practice.today()
    return {
        "time": chart_time(
            practice=request.practice, patient=patient, month=today.replace(day=1), today=today
        ),
        "activity_choices": [("", "Activity: pick later"), *Activity.choices],
    }
