"""Care team API: contacts listed, added and changed; permissions recorded and revoked;
preferences and call windows read and replaced. Every role reads; admins, physicians and
coordinators write (a biller gets 403); the outsider gets 404; refusals are 400s naming the
field with nothing saved; audited; the list has a fixed query count."""

import re

import pytest

from ccm.api import LOCAL_TIME_MESSAGE, LOCAL_TIME_PATTERN
from patients import careteam_services as cts
from patients.models import CallWindow, CareContact, SharingPermission
from tests.factories import (
    CallWindowFactory,
    PatientFactory,
    PractitionerContactFactory,
    SharingPermissionFactory,
)
from tests.helpers import audited, frozen_clock, token_client
from tests.patients.conftest import NOW

_frozen_clock = frozen_clock(NOW, autouse=True)  # Friday 2026-11-20, 10:00 in New York
pytestmark = pytest.mark.django_db

DAUGHTER = {
    "category": "caregiver",
    "name": "Maria Lopez",
    "relationship": "Daughter",
    "phone": "(212) 555-0142",
    "language": "Spanish",
    "is_representative": True,
}
PREFERENCES = {
    "preferred_channel": "phone",
    "preferred_language": "Spanish",
    "interpreter_needed": True,
    "call_windows": [
        {"kind": "best", "weekdays": [0, 1, 2, 3, 4], "starts_at": "09:00", "ends_at": "12:00"},
        {
            "kind": "do_not_call",
            "weekdays": [0, 2, 4],
            "starts_at": "07:00",
            "ends_at": "11:00",
            "note": "Dialysis",
        },
    ],
}


@pytest.fixture
def patient(practice):
    return PatientFactory(practice=practice, mrn="CTA-1")


def contacts_url(patient):
    return f"/api/v1/patients/{patient.pk}/contacts/"


def prefs_url(patient):
    return f"/api/v1/patients/{patient.pk}/preferences/"


def test_a_coordinator_adds_a_caregiver_and_a_permission(coordinator, patient):
    client = token_client(coordinator)
    response = client.post(contacts_url(patient), DAUGHTER, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["phone"], body["is_representative"], body["permissions"]) == (
        "+12125550142",
        True,
        [],
    )
    url = f"/api/v1/contacts/{body['id']}/permissions/"
    answer = client.post(url, {"scopes": ["all"], "method": "verbal"}, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["given_on"] == "2026-11-20"
    revoke = client.post(f"/api/v1/permissions/{answer.json()['id']}/revoke/", {}, format="json")
    assert revoke.json()["revoked_on"] == "2026-11-20"
    assert audited("sharingpermission.revoke", patient_id=patient.pk)


def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(coordinator, patient):
    client = token_client(coordinator)
    response = client.post(contacts_url(patient), {**DAUGHTER, "relationship": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["relationship"] == [cts.RELATIONSHIP_MESSAGE]
    response = client.post(contacts_url(patient), {**DAUGHTER, "colour": "red"}, format="json")
    assert response.status_code == 400
    assert not CareContact.objects.unscoped().exists()


def test_patch_changes_and_deactivates(coordinator, patient):
    contact = PractitionerContactFactory(patient=patient)
    url = f"/api/v1/contacts/{contact.pk}/"
    response = token_client(coordinator).patch(
        url, {"role": "Nephrologist", "is_active": False}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["role"], response.json()["is_active"]) == ("Nephrologist", False)
    assert audited("carecontact.deactivate", patient_id=patient.pk)


def test_preferences_are_replaced_with_their_windows(coordinator, patient):
    CallWindowFactory(patient=patient, kind="best", weekdays=[6])
    client = token_client(coordinator)
    response = client.put(prefs_url(patient), PREFERENCES, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["preferred_language"] == "Spanish"
    assert len(body["call_windows"]) == 2
    assert body["call_window_open_now"] is False  # Friday 10:00: dialysis (Mon/Wed/Fri 7-11)
    assert CallWindow.objects.unscoped().filter(patient=patient).count() == 2
    body = client.get(prefs_url(patient)).json()
    assert body["call_windows"][1]["note"] == "Dialysis"


def test_a_bad_window_refuses_the_whole_put(coordinator, patient):
    CallWindowFactory(patient=patient)
    bad = {**PREFERENCES, "call_windows": [{**PREFERENCES["call_windows"][0], "ends_at": "08:00"}]}
    response = token_client(coordinator).put(prefs_url(patient), bad, format="json")
    assert response.status_code == 400
    assert response.json()["call_windows"] == [f"Window 1: {cts.TIMES_MESSAGE}"]
    patient.refresh_from_db()
    assert patient.preferred_language == "English"
    assert CallWindow.objects.unscoped().count() == 1


@pytest.mark.parametrize("ends_at", ["11:00Z", "11:00-05:00", "11:00:00+01:00", "25:00", 1100])
def test_a_time_with_an_offset_is_refused_not_dropped(coordinator, patient, ends_at):
    """A window's times are wall-clock times in the practice's zone: `11:00-05:00` was kept as
    11:00 with its offset dropped (schemathesis)."""
    window = {**PREFERENCES["call_windows"][0], "ends_at": ends_at}
    bad = {**PREFERENCES, "call_windows": [window]}
    response = token_client(coordinator).put(prefs_url(patient), bad, format="json")
    assert response.status_code == 400
    assert response.json()["call_windows"] == {"0": {"ends_at": [LOCAL_TIME_MESSAGE]}}
    assert not CallWindow.objects.unscoped().exists()


def test_window_times_are_answered_as_the_schema_says(coordinator, patient):
    client = token_client(coordinator)
    window = {**PREFERENCES["call_windows"][0], "starts_at": "09:00:30.5", "ends_at": "12:00"}
    response = client.put(
        prefs_url(patient), {**PREFERENCES, "call_windows": [window]}, format="json"
    )
    answered = response.json()["call_windows"][0]
    assert (answered["starts_at"], answered["ends_at"]) == ("09:00:30.500000", "12:00:00")
    for value in (answered["starts_at"], answered["ends_at"]):
        assert re.fullmatch(LOCAL_TIME_PATTERN, value)


def test_a_biller_reads_but_may_not_write(biller, patient, coordinator):
    contact = PractitionerContactFactory(patient=patient)
    permission = SharingPermissionFactory(contact=contact, recorded_by=coordinator)
    client = token_client(biller)
    assert client.get(contacts_url(patient)).status_code == 200
    assert client.get(prefs_url(patient)).status_code == 200
    for method, url, body in [
        ("post", contacts_url(patient), DAUGHTER),
        ("patch", f"/api/v1/contacts/{contact.pk}/", {"role": "x"}),
        (
            "post",
            f"/api/v1/contacts/{contact.pk}/permissions/",
            {"scopes": ["all"], "method": "verbal"},
        ),
        ("post", f"/api/v1/permissions/{permission.pk}/revoke/", {}),
        ("put", prefs_url(patient), PREFERENCES),
    ]:
        assert getattr(client, method)(url, body, format="json").status_code == 403, url
    assert SharingPermission.objects.unscoped().get().revoked_on is None


def test_outsider_gets_404(outsider, patient, coordinator):
    contact = PractitionerContactFactory(patient=patient)
    permission = SharingPermissionFactory(contact=contact, recorded_by=coordinator)
    client = token_client(outsider)
    for url in (
        contacts_url(patient),
        f"/api/v1/contacts/{contact.pk}/",
        prefs_url(patient),
    ):
        assert client.get(url).status_code == 404, url
    url = f"/api/v1/permissions/{permission.pk}/revoke/"
    assert client.post(url, {}, format="json").status_code == 404


def test_the_list_has_a_fixed_query_count(admin, patient, django_assert_num_queries):
    for n in range(10):
        contact = PractitionerContactFactory(patient=patient, name=f"Contact {n}")
        SharingPermissionFactory(contact=contact, recorded_by=admin)
    client = token_client(admin)
    client.get(contacts_url(patient))
    with django_assert_num_queries(7):
        response = client.get(f"{contacts_url(patient)}?page_size=100")
    assert response.json()["count"] == 10
    assert all(len(r["permissions"]) == 1 for r in response.json()["results"])
