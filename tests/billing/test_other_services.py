"""Other services (R3, R28-R31): pages and API to list, add and delete a patient's services
billed beside CCM; unknown codes, bad NPIs and closed months refused; audited; the month's
stored progress refreshed and the engine's verdict following (APCM blocks, R30)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from billing.facts import services
from billing.inputs.loading import load_patient_months
from billing.models import OtherService
from billing.rules import evaluate
from ccm.api import REFERENCE_MESSAGE
from ccm.models import AuditEvent
from ccm.tenancy import ROLE_FORBIDDEN_MESSAGE, practice_scope
from ccm.validators import NPI_CHECK_MESSAGE, NPI_FORMAT_MESSAGE
from tests.billing.conftest import ready_patient
from tests.factories import PatientFactory, staff_time
from tests.helpers import frozen_clock
from timelog.models import MonthProgress
from timelog.services import month_lock

OCTOBER = dt.date(2026, 10, 1)
SETUP = dt.datetime(2026, 10, 10, 15, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 10, 20, 15, tzinfo=dt.UTC)
OUTSIDE_NPI = "1234567893"  # valid check digit, no member has it
MEMBER_NPI = "1679576722"  # the physician fixture's NPI


frozen = frozen_clock(NOW)


def billable_patient(practice, physician, coordinator, *, mrn="T-1", minutes=25, day=5):
    """Enrolled, signed plan with a copy given, `minutes` of staff time in October: on its
    own the month bills (99490 for 25 minutes)."""
    patient = ready_patient(practice, physician, coordinator, mrn)
    with time_machine.travel(SETUP, tick=False):
        staff_time(
            patient, coordinator, physician, dt.datetime(2026, 10, day, 14, tzinfo=dt.UTC), minutes
        )
    return patient


def verdict(practice, patient, month=OCTOBER):
    from billing.inputs.loading import policy

    _patients, facts = load_patient_months(
        practice=practice, patient_ids=[patient.pk], months=[month]
    )
    return evaluate(facts[(patient.pk, month)], policy(practice))


def progress_row(practice, patient, month=OCTOBER):
    return MonthProgress.objects.for_practice(practice).get(patient=patient, month=month)


@pytest.fixture
def patient(practice, physician, coordinator):
    return billable_patient(practice, physician, coordinator)


def page_url(patient):
    return f"/billing/patients/{patient.pk}/other-services/"


def api_url(patient):
    return f"/api/v1/patients/{patient.pk}/other-services/"


def form(**overrides):
    return {"code": "G0556", "service_on": "2026-10-12", "outside_npi": OUTSIDE_NPI, **overrides}


def add(practice, actor, patient, **overrides):
    data = {"code": "G0556", "service_on": dt.date(2026, 10, 12), "outside_npi": OUTSIDE_NPI}
    with practice_scope(practice):
        return services.other_service_create(
            practice=practice, actor=actor, patient=patient, **{**data, **overrides}
        )


# --- Pages -----------------------------------------------------------------------------------


def test_biller_adds_apcm_and_the_month_stops_billing_with_progress_refreshed(
    biller_client, practice, patient, biller, frozen
):
    assert verdict(practice, patient).billable
    assert progress_row(practice, patient).computed_at == SETUP
    response = biller_client.post(page_url(patient), form(note="from the PM report"))
    assert response.status_code == 302
    assert response["Location"] == page_url(patient)
    service = OtherService.objects.for_practice(practice).get(patient=patient)
    assert (service.code, service.service_on, service.outside_npi) == (
        "G0556",
        dt.date(2026, 10, 12),
        OUTSIDE_NPI,
    )
    assert (service.practitioner_id, service.created_by_id) == (None, biller.pk)
    result = verdict(practice, patient)
    assert not result.billable
    assert "R30" in result.blocked_by
    # progress_refresh ran for the patient and month in the same request.
    assert progress_row(practice, patient).computed_at == NOW
    event = AuditEvent.objects.unscoped().get(action="otherservice.create")
    assert (event.patient_id, event.object_id) == (patient.pk, str(service.pk))
    page = biller_client.get(response["Location"]).content.decode()
    assert "G0556" in page
    assert f"NPI {OUTSIDE_NPI}" in page


def test_tcm_is_recorded_and_does_not_block_ccm(physician_client, practice, patient, frozen):
    response = physician_client.post(page_url(patient), form(code="99495"))
    assert response.status_code == 302
    assert verdict(practice, patient).billable  # R31


def test_pcm_by_the_billing_practitioner_blocks_the_month(
    physician_client, practice, patient, physician, frozen
):
    data = form(code="99426", outside_npi="", practitioner=str(physician.pk))
    assert physician_client.post(page_url(patient), data).status_code == 302
    result = verdict(practice, patient)
    assert "R29" in result.blocked_by


def test_an_outside_npi_of_a_member_is_stored_as_that_member(
    scope, biller, physician, patient, frozen
):
    service = add(scope, biller, patient, outside_npi=MEMBER_NPI)
    assert (service.practitioner_id, service.outside_npi) == (physician.pk, "")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (form(code="99213"), "code", services.CODE_MESSAGE),
        (form(code=""), "code", "This field is required."),
        (form(service_on="2026-10-21"), "service_on", services.FUTURE_SERVICE_MESSAGE),
        (form(service_on="12/40/2026"), "service_on", "Enter a valid date."),
        (form(outside_npi="1234567890"), "outside_npi", NPI_CHECK_MESSAGE),
        (form(outside_npi="12345"), "outside_npi", NPI_FORMAT_MESSAGE),
        (form(outside_npi=""), None, services.PRACTITIONER_MISSING_MESSAGE),
    ],
)
def test_bad_input_gives_a_clear_message_and_saves_nothing(
    biller_client, practice, patient, frozen, data, field, message
):
    response = biller_client.post(page_url(patient), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "nothing was saved" in page
    from django.utils.html import escape

    assert escape(message) in page
    assert not OtherService.objects.unscoped().exists()
    assert not AuditEvent.objects.unscoped().filter(action="otherservice.create").exists()


def test_service_rules_name_the_field(scope, biller, physician, coordinator, patient, frozen):
    cases = [
        ({"practitioner": physician}, "outside_npi", services.PRACTITIONER_BOTH_MESSAGE),
        ({"practitioner": coordinator, "outside_npi": ""}, "practitioner", None),
        ({"outside_npi": ""}, "practitioner", services.PRACTITIONER_MISSING_MESSAGE),
        ({"code": "G0506"}, "code", services.CODE_MESSAGE),
    ]
    from django.core.exceptions import ValidationError

    for overrides, field, message in cases:
        with pytest.raises(ValidationError) as caught:
            add(scope, biller, patient, **overrides)
        assert field in caught.value.message_dict
        if message:
            assert caught.value.message_dict[field] == [message]
    assert not OtherService.objects.exists()


def test_the_same_service_twice_is_refused(biller_client, practice, patient, frozen):
    assert biller_client.post(page_url(patient), form()).status_code == 302
    response = biller_client.post(page_url(patient), form())
    assert response.status_code == 400
    assert services.DUPLICATE_SERVICE_MESSAGE in response.content.decode()
    assert OtherService.objects.unscoped().count() == 1


def test_a_service_in_a_closed_month_is_refused_with_409(biller_client, practice, patient, frozen):
    month_lock(practice=practice, month=dt.date(2026, 9, 1))
    response = biller_client.post(page_url(patient), form(service_on="2026-09-15"))
    assert response.status_code == 409
    assert "2026-09 is closed for billing" in response.content.decode()
    assert not OtherService.objects.unscoped().exists()


def test_coordinator_reads_but_may_not_add_or_delete(
    coordinator_client, practice, patient, biller, frozen
):
    service = add(practice, biller, patient)
    page = coordinator_client.get(page_url(patient))
    assert page.status_code == 200
    assert "G0556" in page.content.decode()
    assert "Add a service" not in page.content.decode()
    response = coordinator_client.post(page_url(patient), form(code="G0557"))
    assert response.status_code == 403
    delete = coordinator_client.post(f"/billing/other-services/{service.pk}/delete/")
    assert delete.status_code == 403
    assert OtherService.objects.unscoped().count() == 1


def test_outsider_gets_404(outsider_client, practice, patient, biller, frozen):
    service = add(practice, biller, patient)
    assert outsider_client.get(page_url(patient)).status_code == 404
    assert outsider_client.post(page_url(patient), form(code="G0557")).status_code == 404
    delete = outsider_client.post(f"/billing/other-services/{service.pk}/delete/")
    assert delete.status_code == 404
    assert OtherService.objects.unscoped().count() == 1


def test_delete_removes_a_mis_entry_audited_and_refreshes_progress(
    biller_client, practice, patient, biller, frozen
):
    service = add(practice, biller, patient)
    assert not verdict(practice, patient).billable
    frozen.shift(dt.timedelta(minutes=5))
    response = biller_client.post(f"/billing/other-services/{service.pk}/delete/")
    assert response.status_code == 302
    assert not OtherService.objects.unscoped().exists()
    assert verdict(practice, patient).billable
    assert progress_row(practice, patient).computed_at == NOW + dt.timedelta(minutes=5)
    event = AuditEvent.objects.unscoped().get(action="otherservice.delete")
    assert (event.patient_id, event.object_id) == (patient.pk, str(service.pk))


def test_delete_in_a_closed_month_is_refused(biller_client, practice, patient, biller, frozen):
    service = add(practice, biller, patient, service_on=dt.date(2026, 9, 15))
    month_lock(practice=practice, month=dt.date(2026, 9, 1))
    response = biller_client.post(f"/billing/other-services/{service.pk}/delete/", follow=True)
    assert "2026-09 is closed for billing" in response.content.decode()
    assert OtherService.objects.unscoped().count() == 1


def test_get_never_deletes(biller_client, practice, patient, biller, frozen):
    service = add(practice, biller, patient)
    assert biller_client.get(f"/billing/other-services/{service.pk}/delete/").status_code == 405
    assert OtherService.objects.unscoped().filter(pk=service.pk).exists()


def test_list_page_is_audited_and_the_chart_links_to_it(
    coordinator_client, practice, patient, biller, frozen
):
    add(practice, biller, patient)
    coordinator_client.get(page_url(patient))
    event = AuditEvent.objects.unscoped().get(action="otherservice.list")
    assert event.patient_id == patient.pk
    chart = coordinator_client.get(f"/patients/{patient.pk}/").content.decode()
    assert page_url(patient) in chart
    assert f"/billing/patients/{patient.pk}/month-facts/2026-10/" in chart
    assert "G0556" in chart


# --- API -------------------------------------------------------------------------------------


def body(**overrides):
    return {"code": "G0556", "service_on": "2026-10-12", "outside_npi": OUTSIDE_NPI, **overrides}


def test_api_creates_lists_reads_and_deletes(biller_client, practice, patient, physician, frozen):
    created = biller_client.post(
        api_url(patient), body(outside_npi="", practitioner=str(physician.pk)), "application/json"
    )
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["code"] == "G0556"
    assert data["practitioner"]["id"] == str(physician.pk)
    assert data["outside_npi"] == ""
    listed = biller_client.get(api_url(patient)).json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == data["id"]
    detail = biller_client.get(f"/api/v1/other-services/{data['id']}/")
    assert detail.json()["service_on"] == "2026-10-12"
    actions = set(AuditEvent.objects.unscoped().values_list("action", flat=True))
    assert {"otherservice.create", "otherservice.list", "otherservice.read"} <= actions
    assert biller_client.delete(f"/api/v1/other-services/{data['id']}/").status_code == 204
    assert not OtherService.objects.unscoped().exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (body(code="99213"), "code", services.CODE_MESSAGE),
        (body(service_on="2026-10-21"), "service_on", services.FUTURE_SERVICE_MESSAGE),
        (body(outside_npi="1234567890"), "outside_npi", NPI_CHECK_MESSAGE),
        (body(outside_npi=""), "practitioner", services.PRACTITIONER_MISSING_MESSAGE),
        (body(outside_npi="", practitioner=None), "practitioner", None),
    ],
)
def test_api_bad_input_is_400_naming_the_field(
    biller_client, practice, patient, frozen, data, field, message
):
    response = biller_client.post(api_url(patient), data, "application/json")
    assert response.status_code == 400
    if message:
        assert response.json()[field] == [message]
    else:
        assert field in response.json()
    assert not OtherService.objects.unscoped().exists()


def test_api_practitioner_must_be_a_physician_of_this_practice(
    biller_client, practice, patient, coordinator, outsider, frozen
):
    data = body(outside_npi="", practitioner=str(coordinator.pk))
    response = biller_client.post(api_url(patient), data, "application/json")
    assert response.status_code == 400
    assert response.json() == {"practitioner": [services.NOT_A_PHYSICIAN_MESSAGE]}
    # Another practice's member is answered as an unknown one: 404 (never reveal existence).
    data = body(outside_npi="", practitioner=str(outsider.pk))
    response = biller_client.post(api_url(patient), data, "application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": REFERENCE_MESSAGE.format(field="practitioner")}
    assert not OtherService.objects.unscoped().exists()


def test_api_closed_month_answers_409(biller_client, practice, patient, biller, frozen):
    old = add(practice, biller, patient, service_on=dt.date(2026, 9, 3))
    month_lock(practice=practice, month=dt.date(2026, 9, 1))
    response = biller_client.post(
        api_url(patient), body(service_on="2026-09-15"), "application/json"
    )
    assert response.status_code == 409
    assert response.json()["detail"].startswith("2026-09 is closed for billing")
    deleted = biller_client.delete(f"/api/v1/other-services/{old.pk}/")
    assert deleted.status_code == 409
    assert OtherService.objects.unscoped().count() == 1


def test_api_coordinator_reads_but_gets_403_on_writes(
    coordinator_client, practice, patient, biller, frozen
):
    service = add(practice, biller, patient)
    assert coordinator_client.get(api_url(patient)).status_code == 200
    assert coordinator_client.get(f"/api/v1/other-services/{service.pk}/").status_code == 200
    created = coordinator_client.post(api_url(patient), body(code="G0557"), "application/json")
    assert created.status_code == 403
    assert created.json() == {"detail": ROLE_FORBIDDEN_MESSAGE}
    assert coordinator_client.delete(f"/api/v1/other-services/{service.pk}/").status_code == 403
    assert OtherService.objects.unscoped().count() == 1


def test_api_outsider_gets_404(outsider_client, practice, patient, biller, outsider, frozen):
    service = add(practice, biller, patient)
    assert outsider_client.get(api_url(patient)).status_code == 404
    assert outsider_client.post(api_url(patient), body(), "application/json").status_code == 404
    assert outsider_client.get(f"/api/v1/other-services/{service.pk}/").status_code == 404
    assert outsider_client.delete(f"/api/v1/other-services/{service.pk}/").status_code == 404
    assert OtherService.objects.unscoped().count() == 1
    theirs = AuditEvent.objects.unscoped().filter(actor=outsider.user, action__startswith="other")
    assert not theirs.exists()


def test_api_list_has_a_fixed_query_count(
    biller_client, practice, biller, physician, frozen, django_assert_num_queries
):
    patient = PatientFactory(practice=practice)
    codes = sorted(services.KNOWN_CODES)[:30]
    for n, code in enumerate(codes):
        practitioner = physician if n % 2 else None
        npi = "" if practitioner else OUTSIDE_NPI
        add(practice, biller, patient, code=code, practitioner=practitioner, outside_npi=npi)
    biller_client.get(api_url(patient))  # session warm-up
    with django_assert_num_queries(7):
        response = biller_client.get(f"{api_url(patient)}?page_size=100")
    assert response.json()["count"] == 30


def test_page_list_has_a_fixed_query_count(
    biller_client, practice, biller, physician, frozen, django_assert_max_num_queries
):
    patient = PatientFactory(practice=practice)
    for code in sorted(services.KNOWN_CODES)[:30]:
        add(practice, biller, patient, code=code, practitioner=physician, outside_npi="")
    biller_client.get(page_url(patient))
    with django_assert_max_num_queries(16):
        response = biller_client.get(page_url(patient))
    assert response.content.decode().count("/delete/") == 30
