import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.html import escape

from ccm.audit_selectors import about_patient
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from patients import services
from patients.models import Condition, Consent, EnrollmentEvent, Patient, Status
from patients.validators import MBI_MESSAGE
from tests.factories import ConditionFactory, PatientFactory
from tests.helpers import assert_form_error
from tests.patients.conftest import NEW_PATIENT

NEW = {
    **NEW_PATIENT,
    "mbi": "",
    "preferred_language": "English",
    "conditions": "E11.9; I10",
}
CONSENT_POST = {
    "method": "verbal",
    "given_on": "2026-11-02",
    "explained_service": "on",
    "explained_cost_sharing": "on",
    "explained_one_practitioner": "on",
    "explained_can_stop": "on",
}


def test_coordinator_adds_a_patient_with_conditions(coordinator_client, practice):
    response = coordinator_client.post("/patients/new/", NEW)
    assert response.status_code == 302
    with practice_scope(practice):
        patient = Patient.objects.get(mrn="N-77")
        assert [c.icd10_code for c in patient.conditions.all()] == ["E11.9", "I10"]
    assert response["Location"] == f"/patients/{patient.pk}/"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mbi", "0000", MBI_MESSAGE),
        ("date_of_birth", "2099-01-01", services.FUTURE_DOB_MESSAGE),
        ("conditions", "E11.9; ZZZ.9", "Not an ICD-10-CM code"),
        ("first_name", "", "This field is required."),
    ],
)
def test_bad_new_patient_shows_the_field_error_and_saves_nothing(
    coordinator_client, practice, field, value, message
):
    response = coordinator_client.post("/patients/new/", {**NEW, field: value})
    assert_form_error(response, message)
    assert not Patient.objects.unscoped().filter(mrn="N-77").exists()


def test_biller_cannot_add_patients_but_can_edit_demographics(biller_client, patient):
    assert biller_client.get("/patients/new/").status_code == 403
    page = biller_client.get(f"/patients/{patient.pk}/edit/")
    assert page.status_code == 200
    assert "notes" not in page.context["form"].fields
    assert "billing_practitioner" not in page.context["form"].fields
    data = {k: v for k, v in NEW.items() if k != "conditions"}
    response = biller_client.post(f"/patients/{patient.pk}/edit/", {**data, "mrn": "A-1001"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.first_name == "Grace"


@pytest.mark.parametrize(
    "url",
    ["/patients/{id}/consent/", "/patients/{id}/enroll/", "/patients/{id}/conditions/"],
)
def test_biller_may_not_make_clinical_changes(biller_client, patient, url):
    assert biller_client.post(url.format(id=patient.pk), {}).status_code == 403


def test_list_searches_by_name_mrn_and_date_of_birth(coordinator_client, patient, practice):
    PatientFactory(practice=practice, first_name="Bob", last_name="Other", mrn="Z-9")
    for q in ("lovel", "ada lov", "A-10", "1948-05-17", "05/17/1948"):
        page = coordinator_client.get("/patients/", {"q": q}).content.decode()
        assert "Lovelace, Ada" in page, q
        assert "Other, Bob" not in page, q


def test_list_filters_by_status_and_coordinator(coordinator_client, coordinator, patient, practice):
    PatientFactory(practice=practice, last_name="Enrolledson", status=Status.ENROLLED)
    page = coordinator_client.get("/patients/", {"status": "enrolled"}).content.decode()
    assert "Enrolledson" in page
    assert "Lovelace" not in page
    mine = coordinator_client.get("/patients/", {"coordinator": str(coordinator.pk)})
    assert "Lovelace" in mine.content.decode()
    assert "Enrolledson" not in mine.content.decode()


def test_search_updates_only_the_rows_for_htmx(coordinator_client, patient):
    response = coordinator_client.get(
        "/patients/", {"q": "lov"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="patient-rows"
    )
    body = response.content.decode()
    assert "Lovelace, Ada" in body
    assert "<html" not in body


def test_list_query_count_does_not_grow_with_the_page(
    coordinator_client, practice, coordinator, django_assert_max_num_queries
):
    for i in range(30):
        p = PatientFactory(practice=practice, coordinator=coordinator, mrn=f"Q-{i:03d}")
        ConditionFactory(patient=p)
    coordinator_client.get("/patients/")  # session warm-up
    with django_assert_max_num_queries(12):
        response = coordinator_client.get("/patients/")
    assert response.content.decode().count("/patients/") >= 25


def test_list_and_chart_reads_are_audited_per_patient(coordinator_client, patient, practice):
    coordinator_client.get("/patients/")
    coordinator_client.get(f"/patients/{patient.pk}/")
    events = AuditEvent.objects.unscoped().filter(about_patient(patient.pk))
    assert set(events.values_list("action", flat=True)) >= {"patient.list", "patient.read"}


def test_chart_shows_eligibility_with_rule_ids(coordinator_client, patient):
    page = coordinator_client.get(f"/patients/{patient.pk}/").content.decode()
    assert "Eligible for CCM." in page
    assert "R4: 2 chronic conditions" in page
    assert "Type 2 diabetes mellitus without complications" in page


def test_consent_page_shows_the_script_and_records_consent(coordinator_client, patient):
    page = coordinator_client.get(f"/patients/{patient.pk}/consent/").content.decode()
    assert "Part B coinsurance" in page
    assert "end of that" in page
    response = coordinator_client.post(f"/patients/{patient.pk}/consent/", CONSENT_POST)
    assert response.status_code == 302
    assert Consent.objects.unscoped().get(patient=patient).method == "verbal"


def test_consent_without_every_item_is_refused(coordinator_client, patient):
    data = {k: v for k, v in CONSENT_POST.items() if k != "explained_can_stop"}
    response = coordinator_client.post(f"/patients/{patient.pk}/consent/", data)
    assert response.status_code == 400
    assert "(R6)" in response.content.decode()
    assert not Consent.objects.unscoped().exists()


def test_signed_form_is_served_only_through_the_audited_view(
    coordinator_client, outsider_client, patient
):
    pdf = SimpleUploadedFile("scan.pdf", b"%PDF-1.4\n%\xe2\xe3\n", "application/pdf")
    coordinator_client.post(
        f"/patients/{patient.pk}/consent/", {**CONSENT_POST, "signed_form": pdf}
    )
    consent = Consent.objects.unscoped().get(patient=patient)
    url = f"/patients/{patient.pk}/consent/{consent.pk}/form/"
    response = coordinator_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert AuditEvent.objects.unscoped().filter(action="consent.read").count() == 1
    assert outsider_client.get(url).status_code == 404


def test_enroll_from_the_chart(coordinator_client, patient):
    coordinator_client.post(f"/patients/{patient.pk}/consent/", CONSENT_POST)
    response = coordinator_client.post(f"/patients/{patient.pk}/enroll/", follow=True)
    assert "Enrolled in CCM." in response.content.decode()
    patient.refresh_from_db()
    assert patient.status == Status.ENROLLED


def test_enrolling_without_consent_explains_why(coordinator_client, patient):
    response = coordinator_client.post(f"/patients/{patient.pk}/enroll/", follow=True)
    assert "Record the patient&#x27;s consent before enrolling (R5)." in response.content.decode()


def test_revoke_from_the_chart(coordinator_client, patient):
    coordinator_client.post(f"/patients/{patient.pk}/consent/", CONSENT_POST)
    consent = Consent.objects.unscoped().get(patient=patient)
    response = coordinator_client.post(
        f"/patients/{patient.pk}/consent/{consent.pk}/revoke/",
        {"revoked_on": _today(patient).isoformat(), "reason": "moving", "confirm": "yes"},
        follow=True,
    )
    assert "takes effect at the end of that month" in response.content.decode()
    consent.refresh_from_db()
    assert consent.revoked_on == _today(patient)


def _today(patient):
    """Today where the practice is: the date a person there types (the server runs in UTC)."""
    return timezone.localdate(timezone=ZoneInfo(patient.practice.time_zone))


def test_revoking_today_in_the_practice_evening(coordinator_client, patient):
    # 21:00 in New York is already tomorrow in UTC: "today" must be the practice's date.
    with time_machine.travel(dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC), tick=False):
        coordinator_client.post(f"/patients/{patient.pk}/consent/", CONSENT_POST)
        consent = Consent.objects.unscoped().get(patient=patient)
        url = f"/patients/{patient.pk}/consent/{consent.pk}/revoke/"
        response = coordinator_client.post(
            url, {"revoked_on": _today(patient).isoformat(), "confirm": "yes"}
        )
    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.revoked_on == dt.date(2026, 11, 9)


def test_write_pages_reject_get(coordinator_client, patient):
    for url in ("enroll", "decline", "conditions"):
        assert coordinator_client.get(f"/patients/{patient.pk}/{url}/").status_code == 405


# --- Confirmation before disenroll, consent revocation and resolving a condition ----------


@pytest.fixture
def enrolled(coordinator_client, patient):
    """The patient enrolled from the chart (consent given), with two active conditions."""
    coordinator_client.post(f"/patients/{patient.pk}/consent/", CONSENT_POST)
    coordinator_client.post(f"/patients/{patient.pk}/enroll/")
    patient.refresh_from_db()
    assert patient.status == Status.ENROLLED
    return patient


def _state(patient):
    """Everything the four confirmed actions change, to compare before and after."""
    patient.refresh_from_db()
    return (
        patient.status,
        sorted(
            (c.icd10_code, c.status) for c in Condition.objects.unscoped().filter(patient=patient)
        ),
        sorted(str(c.revoked_on) for c in Consent.objects.unscoped().filter(patient=patient)),
        EnrollmentEvent.objects.unscoped().filter(patient=patient).count(),
    )


def _disenroll(patient):
    return f"/patients/{patient.pk}/disenroll/", {"reason": "Moved to another state"}


def _revoke(patient):
    consent = Consent.objects.unscoped().get(patient=patient)
    url = f"/patients/{patient.pk}/consent/{consent.pk}/revoke/"
    return url, {"revoked_on": _today(patient).isoformat(), "reason": "Changed mind"}


def _resolve(patient):
    condition = Condition.objects.unscoped().get(patient=patient, icd10_code="I10")
    return f"/patients/{patient.pk}/conditions/{condition.pk}/resolve/", {}


ACTIONS = {
    "disenroll": (_disenroll, "Disenroll Ada Lovelace?", "leaves CCM today"),
    "revoke": (_revoke, "Revoke Ada Lovelace", "end of that month"),
    "resolve": (_resolve, "Resolve I10", "no longer counts toward R4"),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_the_button_leads_to_a_confirmation_page_that_says_what_will_happen(
    coordinator_client, enrolled, action
):
    make, heading, consequence = ACTIONS[action]
    url, _data = make(enrolled)
    chart = coordinator_client.get(f"/patients/{enrolled.pk}/").content.decode()
    assert f'href="{url}"' in chart  # a link to the page, no form that acts at once
    assert f'action="{url}"' not in chart
    before = _state(enrolled)
    page = coordinator_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert escape(heading) in text
    assert consequence in text
    assert 'name="confirm" value="yes"' in text
    assert f'href="/patients/{enrolled.pk}/"' in text  # cancel goes back to the chart
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)  # CSP: no inline script
    assert not re.search(r"\son[a-z]+=", text)  # nor inline event handlers
    assert _state(enrolled) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_a_post_without_confirmation_reshows_the_page_and_saves_nothing(
    coordinator_client, enrolled, action
):
    make, heading, _consequence = ACTIONS[action]
    url, data = make(enrolled)
    before = _state(enrolled)
    response = coordinator_client.post(url, data)
    assert response.status_code == 200
    assert escape(heading) in response.content.decode()
    assert 'name="confirm" value="yes"' in response.content.decode()
    assert _state(enrolled) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_a_confirmed_post_acts(coordinator_client, enrolled, action):
    make, _heading, _consequence = ACTIONS[action]
    url, data = make(enrolled)
    response = coordinator_client.post(url, {**data, "confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{enrolled.pk}/"
    enrolled.refresh_from_db()
    if action == "disenroll":
        assert enrolled.status == Status.DISENROLLED
        event = EnrollmentEvent.objects.unscoped().get(to_status=Status.DISENROLLED)
        assert event.reason == "Moved to another state"
    elif action == "revoke":
        assert Consent.objects.unscoped().get(patient=enrolled).revoked_on is not None
    else:
        condition = Condition.objects.unscoped().get(patient=enrolled, icd10_code="I10")
        assert condition.status == "resolved"


def _confirmation_refused(client, enrolled, action, status):
    """Neither the confirmation page nor a confirmed post reaches `client`: both answer
    `status` and the patient is unchanged."""
    make, _heading, _consequence = ACTIONS[action]
    url, data = make(enrolled)
    before = _state(enrolled)
    assert client.get(url).status_code == status
    assert client.post(url, {**data, "confirm": "yes"}).status_code == status
    assert _state(enrolled) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_confirmation_pages_outsider_gets_404(outsider_client, enrolled, action):
    _confirmation_refused(outsider_client, enrolled, action, 404)


@pytest.mark.parametrize("action", ACTIONS)
def test_confirmation_pages_biller_gets_403(biller_client, enrolled, action):
    _confirmation_refused(biller_client, enrolled, action, 403)


@pytest.mark.parametrize("reason", ["", "   "])
def test_disenroll_without_a_reason_is_refused_and_saves_nothing(
    coordinator_client, enrolled, reason
):
    before = _state(enrolled)
    response = coordinator_client.post(
        f"/patients/{enrolled.pk}/disenroll/", {"reason": reason, "confirm": "yes"}
    )
    assert response.status_code == 400
    assert escape(services.DISENROLL_REASON_MESSAGE) in response.content.decode()
    assert _state(enrolled) == before


def test_an_invalid_revocation_date_reshows_the_page_and_saves_nothing(
    coordinator_client, enrolled
):
    url, data = _revoke(enrolled)
    before = _state(enrolled)
    response = coordinator_client.post(url, {**data, "revoked_on": "1900-01-01", "confirm": "yes"})
    assert response.status_code == 400
    assert escape(services.REVOKE_BEFORE_CONSENT_MESSAGE) in response.content.decode()
    assert _state(enrolled) == before


def test_resolving_the_second_chronic_condition_warns_that_r4_fails(coordinator_client, enrolled):
    url, _data = _resolve(enrolled)
    text = coordinator_client.get(url).content.decode()
    assert "R4: 1 chronic condition" in text
    assert "no longer meets R4" in text


def test_outsider_gets_404_for_every_patient_page(outsider_client, patient):
    for url in ("", "edit/", "consent/"):
        assert outsider_client.get(f"/patients/{patient.pk}/{url}").status_code == 404
    assert outsider_client.post(f"/patients/{patient.pk}/enroll/").status_code == 404
    assert "Lovelace" not in outsider_client.get("/patients/?q=lov").content.decode()
