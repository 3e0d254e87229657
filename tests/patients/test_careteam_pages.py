"""The care team and contact preferences on the chart and their pages: who may see and write,
refusals shown on the form with nothing saved, GET changes nothing, audit, fixed queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients import careteam_services as cts
from patients.models import CallWindow, CareContact, Patient, SharingPermission
from tests.factories import (
    CallWindowFactory,
    PatientFactory,
    PractitionerContactFactory,
    SharingPermissionFactory,
)
from tests.helpers import assert_form_error, audited, frozen_clock
from tests.patients.conftest import NOW

_frozen_clock = frozen_clock(NOW, autouse=True)  # Friday 2026-11-20, 10:00 in New York
pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(practice):
    return PatientFactory(practice=practice, mrn="CT-1")


@pytest.fixture
def daughter(patient):
    return PractitionerContactFactory(
        patient=patient,
        category="caregiver",
        name="Maria Lopez",
        role="",
        organisation="",
        relationship="Daughter",
        language="Spanish",
        is_representative=True,
    )


def base(patient):
    return f"/patients/{patient.pk}"


CAREGIVER = {
    "category": "caregiver",
    "name": "Maria Lopez",
    "relationship": "Daughter",
    "phone": "(212) 555-0142",
    "language": "Spanish",
    "is_representative": "on",
}


def _contacts():
    return CareContact.objects.unscoped()


def test_chart_shows_contacts_with_their_permission_to_share(
    coordinator_client, patient, daughter, coordinator
):
    SharingPermissionFactory(contact=daughter, recorded_by=coordinator)
    PractitionerContactFactory(
        patient=patient, category="pharmacy", name="Main St Pharmacy", role=""
    )
    page = coordinator_client.get(f"{base(patient)}/").content.decode()
    assert 'id="care-team"' in page
    assert "Maria Lopez" in page
    assert "Daughter · representative · speaks Spanish" in page
    assert "May share</span> Everything about my care" in page
    assert "Main St Pharmacy" in page
    assert "No permission to share" in page  # the pharmacy's


def test_coordinator_adds_a_caregiver(coordinator_client, patient):
    response = coordinator_client.post(f"{base(patient)}/contacts/new/", CAREGIVER)
    assert response.status_code == 302
    assert response["Location"].endswith("#care-team")
    contact = _contacts().get(patient=patient)
    assert (contact.relationship, str(contact.phone), contact.is_representative) == (
        "Daughter",
        "+12125550142",
        True,
    )
    assert audited("carecontact.create", patient_id=patient.pk)


def test_a_caregiver_without_relationship_is_refused_and_nothing_saved(coordinator_client, patient):
    response = coordinator_client.post(
        f"{base(patient)}/contacts/new/", {**CAREGIVER, "relationship": "", "phone": "12"}
    )
    assert_form_error(response, cts.RELATIONSHIP_MESSAGE)
    assert "phone" in response.content.decode().lower()
    assert not _contacts().exists()


def test_edit_and_deactivate_a_contact(coordinator_client, patient, daughter):
    url = f"{base(patient)}/contacts/{daughter.pk}"
    assert coordinator_client.get(f"{url}/edit/").status_code == 200
    data = {**CAREGIVER, "relationship": "Granddaughter"}
    assert coordinator_client.post(f"{url}/edit/", data).status_code == 302
    assert coordinator_client.post(f"{url}/active/", {"active": "no"}).status_code == 302
    daughter.refresh_from_db()
    assert (daughter.relationship, daughter.is_active) == ("Granddaughter", False)
    assert audited("carecontact.deactivate", patient_id=patient.pk)


def test_record_and_revoke_a_permission(coordinator_client, patient, daughter):
    url = f"{base(patient)}/contacts/{daughter.pk}/permissions"
    data = {"scopes": ["care_plan", "medications"], "method": "written", "given_on": "2026-11-19"}
    assert coordinator_client.post(f"{url}/new/", data).status_code == 302
    permission = SharingPermission.objects.unscoped().get(contact=daughter)
    assert permission.scopes == ["care_plan", "medications"]
    revoke = f"{url}/{permission.pk}/revoke/"
    assert coordinator_client.get(revoke).status_code == 200
    assert coordinator_client.post(revoke, {"revoked_on": "2026-11-20"}).status_code == 200
    permission.refresh_from_db()
    assert permission.revoked_on is None  # not confirmed: nothing changed
    response = coordinator_client.post(revoke, {"revoked_on": "2026-11-20", "confirm": "yes"})
    assert response.status_code == 302
    permission.refresh_from_db()
    assert permission.revoked_on == dt.date(2026, 11, 20)
    assert audited("sharingpermission.revoke", patient_id=patient.pk)


def test_a_permission_without_scopes_is_refused(coordinator_client, patient, daughter):
    url = f"{base(patient)}/contacts/{daughter.pk}/permissions/new/"
    response = coordinator_client.post(url, {"method": "verbal", "given_on": "2026-11-19"})
    assert_form_error(response, cts.SCOPES_MESSAGE)
    data = {
        "scopes": ["all"],
        "method": "verbal",
        "given_on": "2026-11-19",
        "expires_on": "2026-11-01",
    }
    assert_form_error(coordinator_client.post(url, data), cts.UNTIL_MESSAGE)
    assert not SharingPermission.objects.unscoped().exists()


def test_preferences_and_call_windows(coordinator_client, patient):
    url = f"{base(patient)}/preferences/"
    assert coordinator_client.get(url).status_code == 200
    data = {
        "preferred_channel": "text",
        "preferred_language": "Spanish",
        "interpreter_needed": "on",
    }
    assert coordinator_client.post(url, data).status_code == 302
    window = {"kind": "best", "weekdays": ["0", "2"], "starts_at": "09:00", "ends_at": "11:30"}
    assert coordinator_client.post(f"{url}windows/", window).status_code == 302
    patient.refresh_from_db()
    assert (patient.preferred_channel, patient.preferred_language) == ("text", "Spanish")
    assert patient.interpreter_needed
    saved = CallWindow.objects.unscoped().get(patient=patient)
    assert (saved.weekdays, saved.starts_at, saved.ends_at) == ([0, 2], dt.time(9), dt.time(11, 30))
    page = coordinator_client.get(f"{base(patient)}/").content.decode()
    assert "Mon, Wed 09:00\u201311:30" in page
    assert "Interpreter needed" in page
    delete = f"{url}windows/{saved.pk}/delete/"
    assert coordinator_client.post(delete).status_code == 302
    assert not CallWindow.objects.unscoped().exists()


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"kind": "best", "starts_at": "09:00", "ends_at": "10:00"}, cts.WEEKDAYS_MESSAGE),
        (
            {"kind": "do_not_call", "weekdays": ["1"], "starts_at": "10:00", "ends_at": "09:00"},
            cts.TIMES_MESSAGE,
        ),
    ],
)
def test_a_bad_window_is_refused_and_nothing_saved(coordinator_client, patient, window, message):
    response = coordinator_client.post(f"{base(patient)}/preferences/windows/", window)
    assert_form_error(response, message)
    assert not CallWindow.objects.unscoped().exists()


def test_the_chart_says_whether_the_call_window_is_open_now(coordinator_client, patient):
    CallWindowFactory(patient=patient, weekdays=[4], starts_at=dt.time(9), ends_at=dt.time(11))
    page = coordinator_client.get(f"{base(patient)}/").content.decode()
    assert "Call window open" in page
    CallWindowFactory(
        patient=patient,
        kind="do_not_call",
        weekdays=[4],
        starts_at=dt.time(9, 30),
        ends_at=dt.time(12),
    )
    page = coordinator_client.get(f"{base(patient)}/").content.decode()
    assert "Outside the call window" in page


def _urls(patient, contact, permission, window):
    c = f"{base(patient)}/contacts/{contact.pk}"
    return [
        f"{base(patient)}/contacts/new/",
        f"{c}/edit/",
        f"{c}/active/",
        f"{c}/permissions/new/",
        f"{c}/permissions/{permission.pk}/revoke/",
        f"{base(patient)}/preferences/",
        f"{base(patient)}/preferences/windows/",
        f"{base(patient)}/preferences/windows/{window.pk}/delete/",
    ]


@pytest.fixture
def targets(patient, daughter, coordinator):
    permission = SharingPermissionFactory(contact=daughter, recorded_by=coordinator)
    window = CallWindowFactory(patient=patient)
    return _urls(patient, daughter, permission, window)


def test_outsider_gets_404(outsider_client, targets):
    for url in targets:
        assert outsider_client.post(url, {"confirm": "yes"}).status_code == 404, url


def test_biller_gets_403_and_nothing_changes(biller_client, targets, patient):
    for url in targets:
        assert biller_client.post(url, {**CAREGIVER, "confirm": "yes"}).status_code == 403, url
    assert _contacts().count() == 1
    assert CallWindow.objects.unscoped().count() == 1


def test_a_get_changes_nothing(coordinator_client, targets, patient):
    for url in targets:
        assert coordinator_client.get(url).status_code in (200, 405), url
    assert _contacts().get().is_active
    assert CallWindow.objects.unscoped().count() == 1
    assert SharingPermission.objects.unscoped().get().revoked_on is None


def test_another_patients_contact_is_404(coordinator_client, practice, daughter):
    other = PatientFactory(practice=practice, mrn="CT-2")
    assert coordinator_client.get(f"{base(other)}/contacts/{daughter.pk}/edit/").status_code == 404


def _chart_queries(client, patient) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"{base(patient)}/").status_code == 200
    return len(ctx.captured_queries)


def test_the_chart_query_count_does_not_grow_with_contacts(
    coordinator_client, patient, coordinator
):
    def add(i):
        contact = PractitionerContactFactory(patient=patient, name=f"Contact {i}")
        SharingPermissionFactory(contact=contact, recorded_by=coordinator)
        CallWindowFactory(patient=patient, weekdays=[i])

    add(0)
    _chart_queries(coordinator_client, patient)  # warm-up
    few = _chart_queries(coordinator_client, patient)
    for i in range(1, 7):
        add(i)
    assert _chart_queries(coordinator_client, patient) == few


def test_patient_is_unchanged_by_preferences_get(coordinator_client, patient):
    coordinator_client.get(f"{base(patient)}/preferences/")
    assert Patient.objects.unscoped().get(pk=patient.pk).preferred_language == "English"
