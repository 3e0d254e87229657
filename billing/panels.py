"""What billing adds to lower apps' pages (ccm/hooks.py; registered on import, see
BillingConfig.ready): the billing dashboard on the home page, the time panel on the chart (the
engine's progress on today's facts), the CCM cost share on the consent page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from billing.dashboard import dashboard
from billing.fees.cost_share import cost_share_estimate
from billing.progress.selectors import chart_time
from ccm.hooks import home_panels
from ccm.models import Practice
from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest
from patients.hooks import CostShare, chart_panels, cost_share
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


@cost_share.register
def consent_cost_share(practice: Practice, patient: Patient, month: dt.date) -> CostShare:
    return cost_share_estimate(practice=practice, patient=patient, month=month)
