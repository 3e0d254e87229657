"""What after-contact summaries add to patients' chart page (patients/hooks.py; registered
on import, see TimelogConfig.ready): the summaries given, and the recent reached contacts a
summary can follow (two queries whatever the number of rows)."""

from __future__ import annotations

from typing import Any

from ccm.tenancy import PracticeRequest
from patients.hooks import chart_panels
from patients.models import Patient
from timelog.summary_selectors import reached_contacts, summary_list

SHOWN = 20  # the newest summaries on the chart; the API lists them all


@chart_panels.register
def summary_panel(
    request: PracticeRequest, patient: Patient, extra: dict[str, Any]
) -> dict[str, Any]:
    practice = request.practice
    return {
        "summaries": list(summary_list(practice=practice, patient_id=patient.pk)[:SHOWN]),
        "summary_contacts": list(reached_contacts(practice=practice, patient_id=patient.pk)),
    }
