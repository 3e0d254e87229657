"""What contact attempts add to the patient's chart (registered on import; see
TimelogConfig.ready): this month's attempts, the last reached contact, "Log a contact"."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest
from patients.hooks import chart_panels
from patients.models import Patient
from timelog.contact_forms import ContactAttemptForm
from timelog.contact_selectors import contact_attempt_list, last_reached
from timelog.forms import default_start
from timelog.models import UNANSWERED, ContactAttempt, Outcome


def unanswered_since_reached(attempts: list[ContactAttempt]) -> int:
    """Unanswered attempts (latest first) before the first reached one."""
    count = 0
    for attempt in attempts:
        if attempt.outcome == Outcome.REACHED:
            break
        count += attempt.outcome in UNANSWERED
    return count


def contact_form(request: PracticeRequest, patient: Patient, data: Any = None) -> Any:
    now = timezone.localtime(timezone.now(), request.practice.zone)
    return ContactAttemptForm(
        data,
        initial={"occurred_at": default_start(now)},
        practice=request.practice,
        patient_id=patient.pk,
    )


@chart_panels.register
def contact_panel(
    request: PracticeRequest, patient: Patient, extra: dict[str, Any]
) -> dict[str, Any]:
    practice = request.practice
    attempts = list(
        contact_attempt_list(practice=practice, patient_id=patient.pk, month=practice.this_month())
    )
    form = extra.pop("contact_form", None)
    if form is None and can(request.membership, Capability.LOG_TIME):
        form = contact_form(request, patient)
    return {
        "contact_panel": {
            "attempts": attempts,
            "last_reached": last_reached(practice=practice, patient_id=patient.pk),
            "unanswered": unanswered_since_reached(attempts),
            "form": form,
        }
    }
