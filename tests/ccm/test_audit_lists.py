"""Audit that scales (issue 18): one event per list view, found by patient; the log partitioned
by month, still append-only and sealed."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import InternalError, ProgrammingError, connection, transaction
from django.utils import timezone

from ccm import audit, selectors
from ccm.audit_selectors import about_patient
from ccm.models import AuditEvent
from tests.factories import PatientFactory
from tests.helpers import token_client


@pytest.fixture
def shown(practice, coordinator):
    """Three patients of the practice, listed by the coordinator on the patient list."""
    return [PatientFactory(practice=practice, coordinator=coordinator) for _ in range(3)]


def _list_events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.unscoped().filter(action=action))


def test_a_list_page_writes_one_event_naming_every_patient_shown(coordinator_client, shown):
    assert coordinator_client.get("/patients/").status_code == 200
    [event] = _list_events("patient.list")
    assert event.patient_id is None
    assert set(event.patient_ids) == {p.pk for p in shown}
    assert event.object_type == "patients.patient"


def test_a_list_api_writes_one_event_naming_every_patient_shown(coordinator, shown):
    assert token_client(coordinator).get("/api/v1/patients/").status_code == 200
    [event] = _list_events("patient.list")
    assert set(event.patient_ids) == {p.pk for p in shown}


def test_read_many_of_nothing_writes_nothing_and_names_each_patient_once(coordinator, shown):
    assert audit.read_many(coordinator, [], action="patient.list") == 0
    assert audit.read_many(coordinator, [shown[0], shown[1], shown[0]], action="x.list") == 1
    [event] = _list_events("x.list")
    assert event.patient_ids == [shown[0].pk, shown[1].pk]


def test_record_many_writes_one_event_per_object(coordinator, shown, practice):
    batch = practice  # any object: an export batch naming its patients
    assert audit.record_many(coordinator, [(batch, p.pk) for p in shown], action="x.export") == 1
    [event] = _list_events("x.export")
    assert (event.object_id, len(event.patient_ids)) == (str(practice.pk), 3)
    pairs = [(p, p.pk) for p in shown]  # three objects, one patient each: three events
    assert audit.record_many(coordinator, pairs, action="x.status") == 3
    assert {e.patient_id for e in _list_events("x.status")} == {p.pk for p in shown}


def test_about_patient_finds_single_and_list_events(coordinator, shown, practice):
    alone, among, other = shown
    audit.read(coordinator, alone, patient_id=alone.pk)
    audit.read_many(coordinator, [alone, among], action="patient.list")
    events = AuditEvent.objects.for_practice(practice)
    assert {e.action for e in events.filter(about_patient(alone.pk))} == {
        "patient.read",
        "patient.list",
    }
    assert [e.action for e in events.filter(about_patient(among.pk))] == ["patient.list"]
    assert not events.filter(about_patient(other.pk)).exists()


def test_who_saw_a_patient_on_the_audit_page_api_and_export(
    admin, admin_client, coordinator, shown
):
    target = shown[1]
    audit.read_many(coordinator, shown, action="worklist.list")
    audit.read(coordinator, shown[0], patient_id=shown[0].pk)
    today = timezone.now().date().isoformat()
    body = (
        token_client(admin)
        .get("/api/v1/audit-events/", {"patient": target.pk, "date_from": today, "date_to": today})
        .json()
    )
    assert [r["action"] for r in body["results"]] == ["worklist.list"]
    assert str(target.pk) in body["results"][0]["patient_ids"]
    page = admin_client.get("/audit/", {"patient": target.last_name}).content.decode()
    assert "worklist.list" in page
    assert "3 patients" in page
    assert "patient.read" not in page
    export = admin_client.get("/audit/export.csv", {"patient": str(target.pk)})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][-1] == "patient_ids"
    assert [r[3] for r in rows[1:]] == ["worklist.list"]
    assert str(target.pk) in rows[1][-1]


def test_the_date_filter_is_a_range_on_created_at(admin, coordinator, shown):
    audit.read_many(coordinator, shown, action="worklist.list")
    today = timezone.now().date()
    events = selectors.audit_event_list(
        practice=admin.practice, patient_id=shown[0].pk, date_from=today, date_to=today
    )
    assert events.count() == 1
    assert "::date" not in str(events.query)  # the partitions are pruned on created_at
    yesterday = today - dt.timedelta(days=1)
    assert not selectors.audit_event_list(
        practice=admin.practice, patient_id=shown[0].pk, date_to=yesterday
    ).exists()


# --- Partitions --------------------------------------------------------------------------------


def _partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM ccm_auditevent WHERE id = %s", [event_id]
        )
        return cursor.fetchone()[0]


def test_events_land_in_their_months_partition(coordinator):
    event = audit.record_for(coordinator, "patient.read")
    assert _partition_of(event.pk) == f"ccm_auditevent_{event.created_at:%Y_%m}"


def test_partitions_ensure_creates_the_months_ahead_idempotently(db):
    audit.partitions_ensure()  # the migration made this month and the next two
    assert audit.partitions_ensure() == 0
    audit.partitions_ensure(months_ahead=4)  # 2 more (or 0: a committed test made them)
    assert audit.partitions_ensure(months_ahead=4) == 0
    first = timezone.now().date().replace(day=1)
    fourth = (first + dt.timedelta(days=31 * 4)).replace(day=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"ccm_auditevent_{fourth:%Y_%m}"])
        assert cursor.fetchone()[0]


def test_the_seal_job_creates_the_months_ahead(db, monkeypatch):
    from ccm import tasks

    calls = []
    monkeypatch.setattr(audit, "partitions_ensure", lambda: calls.append(1) or 0)
    tasks.audit_seal()
    assert calls == [1]


@pytest.mark.parametrize("statement", ["UPDATE {t} SET action = 'x'", "DELETE FROM {t}"])
def test_every_partition_refuses_update_and_delete(coordinator, statement):
    event = audit.record_for(coordinator, "patient.read")
    with connection.cursor() as cursor:  # 1990: no month partition, the default one
        cursor.execute(
            "INSERT INTO ccm_auditevent (action, actor_email, role, object_type, object_id, "
            "user_agent, request_id, changed_fields, created_at) "
            "VALUES ('x', '', '', '', '', '', '', '{}', '1990-01-01')"
        )
    for table in (_partition_of(event.pk), "ccm_auditevent_default"):
        with (
            pytest.raises((InternalError, ProgrammingError), match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement.format(t=table))


def test_a_changed_list_of_patients_is_caught_by_the_seal(coordinator, shown):
    from tests.ccm.test_audit_seal import _tamper

    audit.read_many(coordinator, shown, action="patient.list")
    audit.read(coordinator, shown[0], patient_id=shown[0].pk)  # no list: the old form
    audit.seal(delay_seconds=0)
    assert audit.verify().ok
    [event] = _list_events("patient.list")
    _tamper("UPDATE ccm_auditevent SET patient_ids = patient_ids[1:2] WHERE id = %s", [event.pk])
    assert audit.verify().changed == [event.pk]
