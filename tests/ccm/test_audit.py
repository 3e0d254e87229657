import csv
import io

import pytest
from django.db import InternalError, ProgrammingError, connection, transaction

from ccm import audit
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope


def _events(practice, action=None):
    with practice_scope(practice):
        qs = AuditEvent.objects.all()
        return list(qs.filter(action=action) if action else qs)


def test_audit_log_refuses_update_and_delete_in_the_database(admin):
    event = audit.record_for(admin, "patient.read", object_type="patients.patient", patient_id=None)
    for sql in (
        "UPDATE ccm_auditevent SET action = 'tampered' WHERE id = %s",
        "DELETE FROM ccm_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises((InternalError, ProgrammingError), match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        AuditEvent.objects.unscoped().filter(pk=event.pk).delete()
    assert _events(admin.practice, "patient.read")[0].action == "patient.read"


def test_audit_event_rolls_back_with_the_change(admin):
    def failing_change():
        with transaction.atomic():
            audit.record_for(admin, "membership.update", obj=admin)
            raise RuntimeError("change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert _events(admin.practice, "membership.update") == []


def test_audit_event_records_who_what_where(coordinator, client):
    response = client.post(
        "/accounts/login/",
        {"login": coordinator.user.email, "password": "correct-horse-battery-9"},
        HTTP_USER_AGENT="pytest-browser/1.0",
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    [event] = _events(coordinator.practice, "auth.login")
    assert event.actor == coordinator.user
    assert event.role == "coordinator"
    assert event.ip == "10.1.2.3"
    assert event.user_agent == "pytest-browser/1.0"
    assert len(event.request_id) == 32


def test_failed_login_and_logout_are_audited(coordinator, client):
    user = coordinator.user
    client.post("/accounts/login/", {"login": user.email, "password": "wrong-password-1"})
    assert len(_events(coordinator.practice, "auth.login_failed")) == 1
    client.force_login(user)
    client.post("/accounts/logout/")
    assert len(_events(coordinator.practice, "auth.logout")) == 1


def test_failed_login_for_unknown_email_belongs_to_no_practice(practice, client):
    client.post("/accounts/login/", {"login": "nobody@nowhere.test", "password": "x" * 12})
    event = AuditEvent.objects.unscoped().get(action="auth.login_failed")
    assert event.practice is None
    assert event.actor_email == "nobody@nowhere.test"


def test_audit_page_lists_and_filters_events(admin_client, admin, coordinator):
    audit.record_for(coordinator, "patient.read", object_type="patients.patient")
    audit.record_for(admin, "membership.update", obj=admin)
    page = admin_client.get("/audit/", {"action": "patient."})
    assert page.status_code == 200
    assert b"patient.read" in page.content
    assert b"membership.update" not in page.content
    by_user = admin_client.get("/audit/", {"actor": str(admin.pk)})
    assert b"membership.update" in by_user.content
    assert b"patient.read" not in by_user.content


def test_audit_page_filters_by_date_range(admin_client, admin):
    audit.record_for(admin, "membership.update", obj=admin)
    empty = admin_client.get("/audit/", {"date_from": "2001-01-01", "date_to": "2001-01-31"})
    assert b"No events match" in empty.content


def test_audit_export_is_csv_neutralised_and_itself_audited(admin_client, admin):
    audit.record(practice=admin.practice, actor=None, action="x", actor_email="=cmd|' /C calc'!A0")
    response = admin_client.get("/audit/export.csv")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["time_utc", "actor", "role", "action"]
    assert any(row[1] == "'=cmd|' /C calc'!A0" for row in rows[1:])
    assert len(_events(admin.practice, "audit.export")) == 1


def test_audit_pages_are_for_admins_only(coordinator_client, biller_client):
    assert coordinator_client.get("/audit/").status_code == 403
    assert biller_client.get("/audit/export.csv").status_code == 403


def test_outsider_never_sees_another_practices_events(outsider_client, admin):
    audit.record_for(admin, "patient.read", object_type="patients.patient")
    page = outsider_client.get("/audit/", {"action": "patient."})
    assert b"patient.read" not in page.content
    assert admin.user.email.encode() not in page.content


def test_changed_reports_field_names_only():
    assert audit.changed({"a": 1, "b": "x"}, {"a": 2, "b": "x"}) == ["a"]
