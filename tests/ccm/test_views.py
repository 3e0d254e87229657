import pytest
from django.core import mail

from ccm import services
from ccm.models import ApiToken, AuditEvent, Membership, Practice, Role
from ccm.services import LAST_ADMIN_MESSAGE
from ccm.tenancy import practice_scope
from ccm.validators import NPI_CHECK_MESSAGE, TIME_ZONE_MESSAGE
from tests.helpers import assert_form_error

SETTINGS = {
    "name": "Sunrise Clinic Renamed",
    "time_zone": "America/Denver",
    "billing_npi": "1245319599",
    "tax_id": "12-3456789",
    "address_line1": "1 Sun Way",
    "address_line2": "",
    "city": "Boulder",
    "state": "co",
    "postal_code": "80301",
    "phone": "(303) 555-0100",
    "mfa_required": "on",
    "inactivity_timeout_minutes": "20",
    "timer_confirm_minutes": "90",
    "care_plan_review_months": "6",
}


def test_home_shows_practice_and_role(coordinator_client, coordinator):
    page = coordinator_client.get("/home/")
    assert page.status_code == 200
    assert b"Sunrise Clinic" in page.content
    assert b"Care coordinator" in page.content


def test_admin_saves_practice_settings_and_the_change_is_audited(admin_client, practice):
    response = admin_client.post("/practice/settings/", SETTINGS)
    assert response.status_code == 302
    practice.refresh_from_db()
    assert practice.name == "Sunrise Clinic Renamed"
    assert practice.time_zone == "America/Denver"
    assert practice.state == "CO"
    assert practice.inactivity_timeout_minutes == 20
    assert practice.timer_confirm_minutes == 90
    event = AuditEvent.objects.unscoped().get(action="practice.update")
    assert "time_zone" in event.changed_fields
    assert "Sunrise" not in str(event.changed_fields)  # names only, never values


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("billing_npi", "1234567890", NPI_CHECK_MESSAGE),
        ("time_zone", "Mars/Base", "Select a valid choice"),
        ("inactivity_timeout_minutes", "2", "greater than or equal to 5"),
        ("postal_code", "ABCDE", "ZIP code"),
        ("timer_confirm_minutes", "5", "greater than or equal to 15"),
    ],
)
def test_bad_practice_settings_show_a_clear_message_and_save_nothing(
    admin_client, practice, field, value, message
):
    response = admin_client.post("/practice/settings/", {**SETTINGS, field: value})
    assert_form_error(response, message)
    fresh = Practice.objects.get(pk=practice.pk)
    assert fresh.name == "Sunrise Clinic"
    assert not AuditEvent.objects.unscoped().filter(action="practice.update").exists()


def test_service_refuses_unknown_time_zone(admin, practice):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match=TIME_ZONE_MESSAGE), practice_scope(practice):
        services.practice_update(practice=practice, actor=admin, data={"time_zone": "Nowhere/X"})


@pytest.mark.parametrize("client_name", ["coordinator_client", "physician_client", "biller_client"])
@pytest.mark.parametrize("url", ["/practice/settings/", "/practice/members/", "/practice/tokens/"])
def test_admin_pages_are_403_for_other_roles(request, client_name, url):
    client = request.getfixturevalue(client_name)
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403


def test_admin_invites_a_new_member_who_gets_a_set_password_link(
    admin_client, practice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            "/practice/members/",
            {"email": "New.Nurse@Sunrise.test", "full_name": "Nia Nurse", "role": "coordinator"},
        )
    assert response.status_code == 302
    assert len(callbacks) == 1  # the email task is enqueued after commit
    membership = Membership.objects.unscoped().get(user__email="new.nurse@sunrise.test")
    assert membership.role == Role.COORDINATOR
    services.member_invitation_send(membership_id=str(membership.pk))
    assert len(mail.outbox) == 1
    assert "Sunrise Clinic" in mail.outbox[0].subject
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_inviting_a_physician_requires_a_valid_npi(admin_client):
    response = admin_client.post(
        "/practice/members/", {"email": "doc@sunrise.test", "role": "physician", "npi": ""}
    )
    assert response.status_code == 400
    assert b"needs the physician&#x27;s NPI" in response.content
    assert not Membership.objects.unscoped().filter(user__email="doc@sunrise.test").exists()


def test_inviting_an_existing_member_is_refused(admin_client, coordinator):
    response = admin_client.post(
        "/practice/members/", {"email": coordinator.user.email, "role": "biller"}
    )
    assert response.status_code == 400
    assert b"already a member" in response.content


def _change_role(client, member, role):
    """Post a role change for `member`; returns the answer's status and the member's role
    afterwards (as stored)."""
    response = client.post(f"/practice/members/{member.pk}/", {"action": "role", "role": role})
    member.refresh_from_db()
    return response.status_code, member.role


def test_admin_changes_a_role_and_it_is_audited(admin_client, coordinator):
    assert _change_role(admin_client, coordinator, "biller") == (302, Role.BILLER)
    event = AuditEvent.objects.unscoped().get(action="membership.role_changed")
    assert event.changed_fields == ["role"]


def test_the_last_admin_cannot_be_demoted_or_deactivated(admin_client, admin):
    for data in ({"action": "role", "role": "coordinator"}, {"action": "deactivate"}):
        response = admin_client.post(f"/practice/members/{admin.pk}/", data, follow=True)
        assert LAST_ADMIN_MESSAGE in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
    assert admin.is_active


def test_deactivated_member_loses_access_and_can_be_reactivated(admin_client, coordinator, client):
    admin_client.post(f"/practice/members/{coordinator.pk}/", {"action": "deactivate"})
    client.force_login(coordinator.user)
    assert client.get("/home/").status_code == 403
    admin_client.post(f"/practice/members/{coordinator.pk}/", {"action": "reactivate"})
    assert client.get("/home/").status_code == 200


def test_member_update_is_post_only(admin_client, coordinator):
    assert admin_client.get(f"/practice/members/{coordinator.pk}/").status_code == 405


def test_outsider_cannot_touch_another_practices_member(outsider_client, coordinator):
    assert _change_role(outsider_client, coordinator, "admin") == (404, Role.COORDINATOR)


def test_token_is_shown_once_then_only_its_prefix(admin_client, admin):
    response = admin_client.post(
        "/practice/tokens/", {"name": "EHR sync", "membership": str(admin.pk)}
    )
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.startswith("cm_")
    assert response["Cache-Control"] == "no-store"
    again = admin_client.get("/practice/tokens/")
    assert secret.encode() not in again.content
    assert secret[:10].encode() in again.content
    token = ApiToken.objects.unscoped().get()
    assert token.token_hash != secret
    assert secret not in token.token_hash


def test_token_form_refuses_a_member_of_another_practice(admin_client, outsider):
    response = admin_client.post(
        "/practice/tokens/", {"name": "sneaky", "membership": str(outsider.pk)}
    )
    assert response.status_code == 400
    assert not ApiToken.objects.unscoped().exists()


def test_revoked_token_stops_working(admin_client, admin, client):
    with practice_scope(admin.practice):
        token, raw = services.token_create(
            practice=admin.practice, actor=admin, membership=admin, name="t"
        )
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me/", headers=headers).status_code == 200
    assert admin_client.post(f"/practice/tokens/{token.pk}/revoke/").status_code == 302
    assert client.get("/api/v1/me/", headers=headers).status_code == 401
    assert AuditEvent.objects.unscoped().filter(action="apitoken.revoke").count() == 1


def test_practice_switcher_changes_the_active_practice(admin, other_practice, client):
    second = Membership.objects.for_practice(other_practice).create(
        practice=other_practice, user=admin.user, role=Role.COORDINATOR
    )
    client.force_login(admin.user)
    assert b"Sunrise Clinic" in client.get("/home/").content
    response = client.post("/practice/switch/", {"practice": str(other_practice.pk)}, follow=True)
    assert b"You are now working in Elsewhere Medical" in response.content
    assert client.get("/home/").context["membership"] == second


def test_switching_to_a_practice_you_do_not_belong_to_is_404(coordinator_client, other_practice):
    response = coordinator_client.post("/practice/switch/", {"practice": str(other_practice.pk)})
    assert response.status_code == 404


def test_times_are_shown_in_the_practices_time_zone(admin_client, admin):
    import datetime as dt

    import time_machine

    from ccm import audit

    with time_machine.travel(dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC), tick=False):
        # 06:30 UTC on the US spring-forward day is 01:30 EST in New York
        audit.record_for(admin, "membership.read", obj=admin)
    page = admin_client.get("/audit/", {"action": "membership.read"}).content.decode()
    assert "2026-03-08 01:30:00" in page
    assert "America/New_York" in page


def test_invited_person_sets_a_password_from_the_email_and_signs_in(admin, client):
    import re

    with practice_scope(admin.practice):
        membership = services.member_invite(
            practice=admin.practice, actor=admin, email="nia@sunrise.test", role="coordinator"
        )
    services.member_invitation_send(membership_id=str(membership.pk))
    link = re.search(r"http://\S+", mail.outbox[-1].body).group(0)
    path = link.removeprefix("http://127.0.0.1:8000")
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    new_password = "a-long-new-password-2026"
    done = client.post(set_url, {"password1": new_password, "password2": new_password})
    assert done.status_code == 302
    response = client.post(
        "/accounts/login/", {"login": "nia@sunrise.test", "password": new_password}
    )
    assert response.status_code == 302
    assert client.get("/home/").status_code == 200


def test_password_reset_sends_an_email_and_is_audited(coordinator, client):
    import re

    client.post("/accounts/password/reset/", {"email": coordinator.user.email})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    new_password = "another-long-password-77"
    client.post(set_url, {"password1": new_password, "password2": new_password})
    assert AuditEvent.objects.unscoped().filter(action="auth.password_reset").exists()


def test_home_shows_the_ccm_census_of_this_practice_only(coordinator_client, practice, outsider):
    from tests.factories import PatientFactory

    PatientFactory.create_batch(2, practice=practice, status="enrolled")
    PatientFactory(practice=outsider.practice, status="enrolled")
    census = coordinator_client.get("/home/").context["census"]
    assert ("enrolled", "Enrolled", 2) in census
    assert ("candidate", "Candidate", 0) in census
