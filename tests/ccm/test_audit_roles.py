"""The runtime role (web, worker, beat) may add and read audit rows, never change or erase them.

The test database is created and migrated by the owner (DATABASE_URL's role); `db_roles` then
gives the runtime role its grants, and a connection as that role tries every way to erase.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from ccm import audit
from ccm.models import AuditEvent, AuditSeal
from tests.factories import PatientFactory

RUNTIME_ROLE = "caremonth_app"
APPEND_ONLY = (AuditEvent._meta.db_table, AuditSeal._meta.db_table)
INSERT_EVENT = """
INSERT INTO ccm_auditevent
    (action, actor_email, role, object_type, object_id, user_agent, request_id,
     changed_fields, created_at)
VALUES ('probe.read', '', '', '', '', '', '', '{}', now()) RETURNING id
"""


def _connect_as(role: str) -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=role,
        autocommit=True,
    )


@pytest.fixture
def runtime(transactional_db) -> Iterator[psycopg.Connection]:
    call_command("db_roles", verbosity=0)
    call_command("db_roles", verbosity=0)  # idempotent: a second run changes nothing
    with _connect_as(RUNTIME_ROLE) as conn:
        yield conn


def test_runtime_role_inserts_and_reads_audit_rows(runtime):
    [event_id] = runtime.execute(INSERT_EVENT).fetchone()
    assert runtime.execute("SELECT action FROM ccm_auditevent WHERE id = %s", [event_id]).fetchone()
    runtime.execute(
        "INSERT INTO ccm_auditseal (sequence, after_event_id, last_event_id, event_count, "
        "sealed_through, digests, previous_hash, hash, created_at) "
        "VALUES (1, 0, 0, 0, now(), '', '', 'x', now())"
    )
    assert runtime.execute("SELECT count(*) FROM ccm_auditseal").fetchone() == (1,)


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE {table}",
        "ALTER TABLE {table} DISABLE TRIGGER USER",
        "ALTER TABLE {table} OWNER TO " + RUNTIME_ROLE,
        "DROP TABLE {table}",
        "DELETE FROM {table}",
        "UPDATE {table} SET id = id",
    ],
)
def test_runtime_role_cannot_erase_or_alter_the_audit_tables(runtime, table, statement):
    runtime.execute(INSERT_EVENT)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        runtime.execute(statement.format(table=table))
    assert runtime.execute("SELECT count(*) FROM ccm_auditevent").fetchone() == (1,)


def _partition(runtime: psycopg.Connection, event_id: int) -> str:
    row = runtime.execute(
        "SELECT tableoid::regclass::text FROM ccm_auditevent WHERE id = %s", [event_id]
    ).fetchone()
    return row[0]


@pytest.mark.parametrize(
    "statement", ["TRUNCATE {table}", "DELETE FROM {table}", "UPDATE {table} SET id = id"]
)
def test_runtime_role_cannot_erase_a_partition_of_the_log_named_directly(runtime, statement):
    partition = _partition(runtime, runtime.execute(INSERT_EVENT).fetchone()[0])
    for table in (partition, "ccm_auditevent_default"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute(statement.format(table=table))
    assert runtime.execute("SELECT count(*) FROM ccm_auditevent").fetchone() == (1,)


def test_the_runtime_role_creates_months_ahead_that_it_cannot_erase(runtime):
    # The seal job runs as the runtime role: the owner's function creates the partitions,
    # and takes back the UPDATE/DELETE that default privileges gave the runtime role.
    runtime.execute("SELECT ccm_audit_partitions_ensure(5)")
    month = runtime.execute(
        "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '5 months', "
        "'YYYY_MM')"
    ).fetchone()[0]
    for statement in ("DELETE FROM {table}", "TRUNCATE {table}"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute(statement.format(table=f"ccm_auditevent_{month}"))


def test_runtime_role_has_normal_dml_on_other_tables_and_future_ones(runtime):
    runtime.execute("UPDATE ccm_practice SET name = name")
    runtime.execute("DELETE FROM django_session")
    with connection.cursor() as cursor:  # a later migration, run by the owner
        cursor.execute("CREATE TABLE ccm_probe_future (id bigserial PRIMARY KEY, n int)")
    try:
        runtime.execute("INSERT INTO ccm_probe_future (n) VALUES (1)")
        runtime.execute("UPDATE ccm_probe_future SET n = 2")
        runtime.execute("DELETE FROM ccm_probe_future")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE ccm_probe_future")


def test_db_roles_refuses_to_restrict_the_owner_itself(db):
    with pytest.raises(Exception, match="runtime role"):
        call_command("db_roles", role=connection.settings_dict["USER"] or "postgres")


def test_the_app_serves_audits_and_seals_as_the_runtime_role(coordinator_client, coordinator):
    patient = PatientFactory(practice=coordinator.practice)
    call_command("db_roles", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {RUNTIME_ROLE}")
    try:
        assert coordinator_client.get(f"/patients/{patient.pk}/").status_code == 200
        assert coordinator_client.get("/patients/").status_code == 200
        assert audit.seal(delay_seconds=0).events > 0
        assert audit.verify().ok
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert AuditEvent.objects.unscoped().filter(action="patient.read").count() == 1
