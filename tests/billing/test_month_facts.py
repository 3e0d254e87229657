"""Patient-month facts: CCM billed by another practice (R3) and the billing practitioner's
MDM level for complex CCM (R23). Pages and API; MDM is clinical (admin, physician), the R3
flag also for billers; coordinators read only; closed and future months refused; audited;
the month's stored progress follows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils.html import escape

from billing.facts import services
from billing.models import PatientMonthFacts
from ccm.models import AuditEvent
from ccm.months import MONTH_FORMAT_MESSAGE
from ccm.tenancy import ROLE_FORBIDDEN_MESSAGE
from tests.billing.test_other_services import (
    NOW,
    billable_patient,
    progress_row,
    verdict,
)
from tests.helpers import frozen_clock
from timelog.services import month_lock

OCTOBER = dt.date(2026, 10, 1)


frozen = frozen_clock(NOW)


@pytest.fixture
def patient(practice, physician, coordinator):
    # 90 staff minutes: 99490 + 2 x 99439 without MDM; with moderate MDM complex CCM
    # (99487 + 99489) pays more and its next unit is 30 minutes away (R23, R24, R26).
    return billable_patient(practice, physician, coordinator, minutes=90)


def page(patient, month="2026-10"):
    return f"/billing/patients/{patient.pk}/month-facts/{month}/"


def api(patient, month="2026-10"):
    return f"/api/v1/patients/{patient.pk}/month-facts/{month}/"


def facts_row(practice, patient, month=OCTOBER):
    return PatientMonthFacts.objects.for_practice(practice).filter(patient=patient, month=month)


# --- Pages -----------------------------------------------------------------------------------


def test_physician_sets_mdm_and_progress_moves_to_complex_ccm(
    physician_client, practice, patient, frozen
):
    assert progress_row(practice, patient).next_code == ""  # every non-complex unit reached
    response = physician_client.post(page(patient), {"mdm": "moderate"})
    assert response.status_code == 302
    assert response["Location"] == page(patient)
    facts = facts_row(practice, patient).get()
    assert (facts.mdm, facts.ccm_billed_elsewhere) == ("moderate", False)
    row = progress_row(practice, patient)
    assert (row.next_code, row.minutes_needed, row.computed_at) == ("99489", 30, NOW)
    assert [line.code for line in verdict(practice, patient).lines] == ["99487", "99489"]
    event = AuditEvent.objects.unscoped().get(action="patientmonthfacts.create")
    assert (event.patient_id, event.changed_fields) == (patient.pk, ["mdm"])
    shown = physician_client.get(page(patient)).content.decode()
    assert "Billable: 99487, 99489." in shown


def test_biller_sets_ccm_billed_elsewhere_and_the_month_stops_billing(
    biller_client, practice, patient, frozen
):
    response = biller_client.post(page(patient), {"ccm_billed_elsewhere": "on"})
    assert response.status_code == 302
    assert facts_row(practice, patient).get().ccm_billed_elsewhere
    result = verdict(practice, patient)
    assert not result.billable
    assert "R3" in result.blocked_by
    assert "Not billable" in biller_client.get(page(patient)).content.decode()


def test_a_biller_cannot_change_the_mdm_on_the_page(biller_client, practice, patient, frozen):
    response = biller_client.post(page(patient), {"mdm": "high", "ccm_billed_elsewhere": "on"})
    assert response.status_code == 302
    facts = facts_row(practice, patient).get()
    assert (facts.mdm, facts.ccm_billed_elsewhere) == ("", True)  # the disabled field held


def test_coordinator_reads_but_may_not_write(coordinator_client, practice, patient, frozen):
    shown = coordinator_client.get(page(patient))
    assert shown.status_code == 200
    assert "Save month facts" not in shown.content.decode()
    response = coordinator_client.post(page(patient), {"ccm_billed_elsewhere": "on"})
    assert response.status_code == 403
    assert not facts_row(practice, patient).exists()


def test_outsider_gets_404(outsider_client, practice, patient, frozen):
    assert outsider_client.get(page(patient)).status_code == 404
    assert outsider_client.post(page(patient), {"mdm": "high"}).status_code == 404
    assert outsider_client.get(f"/billing/patients/{patient.pk}/month-facts/").status_code == 404
    assert not facts_row(practice, patient).exists()


def test_a_closed_month_is_refused_with_409(physician_client, practice, patient, frozen):
    month_lock(practice=practice, month=OCTOBER)
    shown = physician_client.get(page(patient)).content.decode()
    assert "closed for billing, so its facts are read-only" in shown
    response = physician_client.post(page(patient), {"mdm": "high"})
    assert response.status_code == 409
    assert escape("2026-10 is closed for billing") in response.content.decode()
    assert not facts_row(practice, patient).exists()


def test_a_future_month_is_refused(physician_client, practice, patient, frozen):
    response = physician_client.post(page(patient, "2026-11"), {"mdm": "high"})
    assert response.status_code == 400
    assert escape(services.FUTURE_MONTH_MESSAGE) in response.content.decode()
    assert not PatientMonthFacts.objects.unscoped().exists()


def test_a_malformed_month_in_the_url_is_404(physician_client, patient, frozen):
    assert physician_client.get(page(patient, "2026-13")).status_code == 404


def test_the_month_picker_redirects_and_get_saves_nothing(
    coordinator_client, practice, patient, frozen
):
    base = f"/billing/patients/{patient.pk}/month-facts/"
    assert coordinator_client.get(base)["Location"] == page(patient)
    assert coordinator_client.get(f"{base}?month=2026-08")["Location"] == page(patient, "2026-08")
    coordinator_client.get(page(patient, "2026-08"))
    assert not PatientMonthFacts.objects.unscoped().exists()
    event = AuditEvent.objects.unscoped().get(action="patientmonthfacts.read")
    assert event.patient_id == patient.pk


# --- API -------------------------------------------------------------------------------------


def test_api_get_returns_defaults_without_writing(biller_client, practice, patient, frozen):
    response = biller_client.get(api(patient))
    assert response.status_code == 200
    assert response.json() == {
        "patient": str(patient.pk),
        "month": "2026-10",
        "ccm_billed_elsewhere": False,
        "mdm": None,
        "locked": False,
        "updated_at": None,
    }
    assert not PatientMonthFacts.objects.unscoped().exists()
    assert AuditEvent.objects.unscoped().filter(action="patientmonthfacts.read").count() == 1


def test_api_put_sets_both_and_refreshes_progress(physician_client, practice, patient, frozen):
    data = {"ccm_billed_elsewhere": False, "mdm": "high"}
    response = physician_client.put(api(patient), data, "application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["mdm"] == "high"
    assert response.json()["updated_at"] == "2026-10-20T15:00:00Z"
    assert progress_row(practice, patient).next_code == "99489"
    cleared = physician_client.put(
        api(patient), {"ccm_billed_elsewhere": True, "mdm": None}, "application/json"
    )
    assert cleared.json()["mdm"] is None
    facts = facts_row(practice, patient).get()
    assert (facts.mdm, facts.ccm_billed_elsewhere) == ("", True)
    assert progress_row(practice, patient).next_code == ""
    update = AuditEvent.objects.unscoped().get(action="patientmonthfacts.update")
    assert update.changed_fields == ["ccm_billed_elsewhere", "mdm"]


def test_api_biller_may_set_the_flag_but_not_the_mdm(biller_client, practice, patient, frozen):
    refused = biller_client.put(
        api(patient), {"ccm_billed_elsewhere": True, "mdm": "moderate"}, "application/json"
    )
    assert refused.status_code == 403
    assert refused.json() == {"detail": services.MDM_ROLE_MESSAGE}
    assert not facts_row(practice, patient).exists()
    ok = biller_client.put(
        api(patient), {"ccm_billed_elsewhere": True, "mdm": None}, "application/json"
    )
    assert ok.status_code == 200
    assert facts_row(practice, patient).get().ccm_billed_elsewhere


def test_api_unchanged_put_writes_nothing(physician_client, practice, patient, frozen):
    data = {"ccm_billed_elsewhere": False, "mdm": None}
    assert physician_client.put(api(patient), data, "application/json").status_code == 200
    assert not facts_row(practice, patient).exists()
    assert not AuditEvent.objects.unscoped().filter(action__startswith="patientmonthfacts.u")


@pytest.mark.parametrize(
    ("url_month", "data", "field", "message"),
    [
        ("2026-10", {"ccm_billed_elsewhere": True, "mdm": "extreme"}, "mdm", None),
        ("2026-10", {"mdm": "high"}, "ccm_billed_elsewhere", "This field is required."),
        ("26-10", {"ccm_billed_elsewhere": True, "mdm": None}, "month", MONTH_FORMAT_MESSAGE),
        (
            "2026-12",
            {"ccm_billed_elsewhere": True, "mdm": None},
            "month",
            services.FUTURE_MONTH_MESSAGE,
        ),
    ],
)
def test_api_bad_input_is_400_and_saves_nothing(
    physician_client, practice, patient, frozen, url_month, data, field, message
):
    response = physician_client.put(api(patient, url_month), data, "application/json")
    assert response.status_code == 400
    assert field in response.json()
    if message:
        assert response.json()[field] == [message]
    assert not PatientMonthFacts.objects.unscoped().exists()


def test_api_closed_month_answers_409(physician_client, practice, patient, frozen):
    month_lock(practice=practice, month=OCTOBER)
    assert physician_client.get(api(patient)).json()["locked"] is True
    response = physician_client.put(
        api(patient), {"ccm_billed_elsewhere": True, "mdm": None}, "application/json"
    )
    assert response.status_code == 409
    assert response.json()["detail"].startswith("2026-10 is closed for billing")
    assert not facts_row(practice, patient).exists()


def test_api_coordinator_reads_but_gets_403_on_put(coordinator_client, practice, patient, frozen):
    assert coordinator_client.get(api(patient)).status_code == 200
    response = coordinator_client.put(
        api(patient), {"ccm_billed_elsewhere": True, "mdm": None}, "application/json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": ROLE_FORBIDDEN_MESSAGE}
    assert not facts_row(practice, patient).exists()


def test_api_outsider_gets_404(outsider_client, practice, patient, frozen):
    assert outsider_client.get(api(patient)).status_code == 404
    data = {"ccm_billed_elsewhere": True, "mdm": None}
    assert outsider_client.put(api(patient), data, "application/json").status_code == 404
    assert not facts_row(practice, patient).exists()
