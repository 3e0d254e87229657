"""Sealed audit rows: a hash chain over them shows any later change, even by a superuser.

The test database's role is a superuser (CI and the embedded database connect as `postgres`),
so these tests tamper the way the issue did: disable the trigger, then change the rows.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import InternalError, ProgrammingError, connection, transaction
from django.utils import timezone

from ccm import audit, tasks
from ccm.celery import BEAT_SCHEDULE
from ccm.models import AuditEvent, AuditSeal


@pytest.fixture
def sealed(admin, coordinator) -> list[AuditEvent]:
    """Five events from two actors, all sealed (two seals: the chain has a link)."""
    events = [audit.record_for(coordinator, "patient.read", object_type="patients.patient")]
    events.append(audit.record_for(admin, "membership.update", obj=admin))
    assert audit.seal(delay_seconds=0).seals == 1
    events += [audit.record_for(coordinator, "patient.read") for _ in range(3)]
    assert audit.seal(delay_seconds=0, max_rows=2) == audit.SealResult(seals=2, events=3)
    return events


def _tamper(sql: str, params: list | None = None) -> None:
    """What a superuser (or the table owner) can do: switch the trigger off, change rows."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks: ALTER may run
        cursor.execute("ALTER TABLE ccm_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params or [])
        cursor.execute("ALTER TABLE ccm_auditevent ENABLE TRIGGER USER")


def _verify_output() -> str:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="audit log was altered"):
        call_command("audit_verify", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_verify_passes_on_an_untouched_log(sealed):
    result = audit.verify()
    assert result.ok, result.problems
    assert result.seals == 3
    assert result.events == 5
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "OK: 3 seals, 5 events" in out.getvalue()


def test_verify_reports_a_changed_sealed_row_by_id_only(sealed, admin):
    target = sealed[1]
    _tamper("UPDATE ccm_auditevent SET actor_email = 'x@x.test' WHERE id = %s", [target.pk])
    assert audit.verify().changed == [target.pk]
    output = _verify_output()
    assert f"event {target.pk} changed" in output
    assert admin.user.email not in output
    assert "x@x.test" not in output


def test_verify_reports_a_deleted_sealed_row(sealed):
    target = sealed[3]
    _tamper("DELETE FROM ccm_auditevent WHERE id = %s", [target.pk])
    assert audit.verify().removed == [target.pk]
    assert f"event {target.pk} removed" in _verify_output()


def test_verify_reports_a_truncated_log(sealed):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE ccm_auditevent")
    assert audit.verify().removed == [event.pk for event in sealed]


def test_verify_reports_a_back_dated_insert(sealed, admin):
    when = timezone.now() - dt.timedelta(days=3)
    forged = AuditEvent.objects.for_practice(admin.practice).create(
        practice=admin.practice, actor=admin.user, action="patient.read", created_at=when
    )
    assert audit.verify().added == [forged.pk]
    assert f"event {forged.pk} added" in _verify_output()


def test_verify_reports_a_row_inserted_into_a_sealed_id_range(admin):
    first = audit.record_for(admin, "patient.read")
    with connection.cursor() as cursor:  # a rolled-back insert leaves such a gap
        cursor.execute("SELECT nextval('ccm_auditevent_id_seq')")
        [gap] = cursor.fetchone()
    audit.record_for(admin, "patient.read")
    audit.seal(delay_seconds=0)
    AuditEvent.objects.for_practice(admin.practice).create(
        id=gap, practice=admin.practice, action="patient.read", created_at=first.created_at
    )
    assert audit.verify().added == [gap]


def _tamper_with_second_seal(sql):
    """Run `sql` (with the seal's id as its one parameter) past the seal table's triggers, as
    someone with database access would; returns the seal."""
    seal = AuditSeal.objects.order_by("sequence")[1]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE ccm_auditseal DISABLE TRIGGER USER")
        cursor.execute(sql, [seal.pk])
    return seal


def test_verify_reports_a_rewritten_seal(sealed):
    seal = _tamper_with_second_seal("UPDATE ccm_auditseal SET event_count = 1 WHERE id = %s")
    result = audit.verify()
    assert result.broken_seals == [seal.sequence]
    assert f"seal {seal.sequence} altered" in _verify_output()


def test_verify_reports_a_deleted_seal(sealed):
    _tamper_with_second_seal("DELETE FROM ccm_auditseal WHERE id = %s")
    assert not audit.verify().ok


def test_seal_table_refuses_update_and_delete(sealed):
    for sql in ("UPDATE ccm_auditseal SET hash = 'x'", "DELETE FROM ccm_auditseal"):
        with (
            pytest.raises((InternalError, ProgrammingError), match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)


def test_seal_leaves_the_last_hour_for_a_later_run(admin):
    old = audit.record_for(admin, "patient.read")
    _tamper(
        "UPDATE ccm_auditevent SET created_at = %s WHERE id = %s",
        [timezone.now() - dt.timedelta(hours=2), old.pk],
    )
    recent = audit.record_for(admin, "patient.read")
    assert audit.seal() == audit.SealResult(seals=1, events=1)
    assert AuditSeal.objects.get().last_event_id == old.pk
    assert audit.seal() == audit.SealResult(seals=0, events=0)
    assert audit.seal(delay_seconds=0).events == 1
    assert AuditSeal.objects.order_by("sequence").last().last_event_id == recent.pk
    assert audit.verify().ok


def test_audit_seal_command_seals_and_reports_counts(admin):
    audit.record_for(admin, "patient.read")
    out = io.StringIO()
    call_command("audit_seal", "--delay", "0", stdout=out)
    assert out.getvalue().strip() == "Sealed 1 events in 1 seals."


def test_beat_seals_the_events_older_than_an_hour(admin):
    assert BEAT_SCHEDULE["audit-seal"]["task"] == tasks.audit_seal.name
    old = audit.record_for(admin, "patient.read")
    _tamper(
        "UPDATE ccm_auditevent SET created_at = %s WHERE id = %s",
        [timezone.now() - dt.timedelta(hours=2), old.pk],
    )
    audit.record_for(admin, "patient.read")
    assert tasks.audit_seal() == 1
