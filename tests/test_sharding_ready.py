"""The migrated schema is ready for row-based sharding by practice (Citus), issue 19 item 4.

Read from the database catalogs after `migrate` (not from the models): what a Citus coordinator
would see. Every table is one of three kinds:

- distributed by `practice_id` (every table with a `practice_id` column, unless listed below):
  `practice_id NOT NULL`, every unique constraint and unique index includes it, and every
  foreign key to another distributed table is composite with `practice_id` on both sides
  (Citus refuses any other; `ccm.tenancy.tenant_fk_sql` writes them);
- a reference table (REFERENCE): small, global or read before the practice is known,
  replicated to every node; may only reference other reference tables;
- a coordinator-local table (LOCAL): global machinery that no distributed table references.

Primary keys that are `id` alone are listed with the change Citus needs (`(practice_id, id)`);
they are not changed here (docs/scaling.md says how). The second part records every SQL
statement of a walk through the pages and API as a practice member and checks that each
statement constrains every distributed table it reads to the practice.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from tests.factories import (
    CareContactFactory,
    ConditionFactory,
    PatientFactory,
    SummaryAttemptFactory,
    TaskFactory,
    TimeEntryFactory,
)
from tests.helpers import token_client
from tests.test_url_walk import (  # the walk's cast and URL machinery, one copy
    ROUTES,
    _concrete,
    _kwargs,
    _nothing_reaches_the_broker,  # noqa: F401  (autouse fixture: no month close reaches Redis)
    _values,
    cast,  # noqa: F401  (fixture)
)

# Replicated to every node (Citus reference tables): global, or read before the practice is
# known, small and rarely written.
REFERENCE = {
    "ccm_practice": "the tenant itself; every distributed table references it",
    "ccm_user": "a user may belong to several practices; looked up at sign-in by email",
    "ccm_user_groups": "Django auth link of users (unused by the app's roles)",
    "ccm_user_user_permissions": "Django auth link of users (unused by the app's roles)",
    "ccm_membership": (
        "a user's role per practice: read on every page request by user id across practices "
        "(the practice switcher), before a practice is chosen; one row per user and practice"
    ),
    "ccm_apitoken": (
        "looked up on every API request by token_hash (unique across practices, 256 random "
        "bits) before the practice is known; references ccm_membership (reference too)"
    ),
    "auth_group": "Django auth code list",
    "auth_group_permissions": "Django auth code list",
    "auth_permission": "Django auth code list",
    "django_content_type": "Django code list (permissions, generic relations)",
    "account_emailaddress": "allauth: a user's sign-in email (global, like users)",
    "account_emailconfirmation": "allauth: email confirmation keys of users",
    "mfa_authenticator": "allauth MFA: a user's TOTP and recovery codes (global, like users)",
}

# Kept on the coordinator only (Citus local tables): global machinery, never referenced by a
# distributed table.
LOCAL = {
    "ccm_auditevent": (
        "the append-only, month-partitioned audit log: one id sequence and one hash chain of "
        "seals across all practices (ccm_auditseal names events by id range), and events with "
        "no practice (a failed sign-in for an unknown email): practice_id stays NULL-able"
    ),
    "ccm_auditseal": "the hash chain over the whole audit log (all practices)",
    "ccm_pendingjob": "the Celery outbox: task names and ids while the broker is away",
    "ccm_cache": "Django's database cache table",
    "django_session": "sessions (signed-in users, before and across practices)",
    "django_migrations": "migration history",
    "axes_accessattempt": "sign-in throttling by user name and IP (before any practice)",
    "axes_accessattemptexpiration": "sign-in throttling (before any practice)",
    "axes_accessfailurelog": "sign-in failures (before any practice)",
    "axes_accesslog": "sign-in log (before any practice)",
    "django_celery_beat_clockedschedule": "the periodic schedule (one for the deployment)",
    "django_celery_beat_crontabschedule": "the periodic schedule",
    "django_celery_beat_intervalschedule": "the periodic schedule",
    "django_celery_beat_periodictask": "the periodic schedule",
    "django_celery_beat_periodictasks": "the periodic schedule",
    "django_celery_beat_solarschedule": "the periodic schedule",
}

# Distributed tables whose primary key is `id` alone: Citus needs (practice_id, id). Pinned so
# a new table shows up here; the list is in the failure message and in docs/scaling.md.
ID_ONLY_PRIMARY_KEYS = 51

TABLES_SQL = """
SELECT c.relname, a.attnotnull
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'practice_id' AND NOT a.attisdropped
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""

# (table, columns in key order, is primary, definition) of every unique index; a UNIQUE
# constraint is backed by one. Expression columns (attnum 0) come out as NULL.
UNIQUE_SQL = """
SELECT c.relname,
       array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(num, ord)
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num
             ORDER BY k.ord),
       i.indisprimary, pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND i.indisunique AND NOT c.relispartition
"""

# Foreign keys declared on a table (not the clones PostgreSQL puts on partitions).
FOREIGN_KEYS_SQL = """
SELECT con.conname, c.relname, p.relname,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord),
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_class p ON p.oid = con.confrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND con.contype = 'f' AND con.conparentid = 0
  AND NOT c.relispartition
"""


def _rows(sql: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _tables() -> dict[str, bool | None]:
    """Every table → whether its practice_id is NOT NULL (None: no practice_id)."""
    return dict(_rows(TABLES_SQL))  # type: ignore[arg-type]


def _distributed() -> set[str]:
    with_practice = {t for t, notnull in _tables().items() if notnull is not None}
    return with_practice - set(REFERENCE) - set(LOCAL)


def _kind(table: str, distributed: set[str]) -> str:
    if table in distributed:
        return "distributed"
    return "reference" if table in REFERENCE else "local"


# --- The schema --------------------------------------------------------------------------


def _unlisted_tables() -> list[str]:
    tables = _tables()
    return sorted(
        t
        for t, notnull in tables.items()
        if notnull is None and t not in REFERENCE and t not in LOCAL
    )


def _nullable_practice() -> list[str]:
    tables = _tables()
    return sorted(t for t in _distributed() if not tables[t])


def _unique_keys_without_practice() -> list[str]:
    distributed = _distributed()
    return sorted(
        definition
        for table, columns, primary, definition in _rows(UNIQUE_SQL)
        if table in distributed and not primary and "practice_id" not in columns
    )


def _foreign_keys_citus_refuses() -> list[str]:
    """distributed → distributed: with practice_id ↔ practice_id; distributed → reference:
    any; reference → reference only; local → local or reference only."""
    distributed = _distributed()
    wrong = []
    for name, child, parent, columns, parent_columns in _rows(FOREIGN_KEYS_SQL):
        kinds = (_kind(child, distributed), _kind(parent, distributed))
        if kinds == ("distributed", "distributed"):
            ok = ("practice_id", "practice_id") in set(zip(columns, parent_columns, strict=True))
        else:
            ok = kinds in {
                ("distributed", "reference"),
                ("reference", "reference"),
                ("local", "reference"),
                ("local", "local"),
            }
        if not ok:
            wrong.append(f"{name}: {child}{list(columns)} → {parent}{list(parent_columns)} {kinds}")
    return sorted(wrong)


def _links_without_same_practice_key() -> list[str]:
    """Model links between distributed tables that no composite (practice_id, x_id) key
    checks: the other side of dropping the single-column keys (db_constraint=False)."""
    from django.apps import apps

    distributed = _distributed()
    composite = {
        (child, columns[1], parent)
        for _, child, parent, columns, parent_columns in _rows(FOREIGN_KEYS_SQL)
        if list(columns[:1]) == ["practice_id"] and list(parent_columns) == ["practice_id", "id"]
    }
    return sorted(
        f"{model._meta.db_table}.{field.column} → {field.related_model._meta.db_table}"
        for model in apps.get_models()
        for field in model._meta.local_fields
        if field.is_relation
        and model._meta.db_table in distributed
        and field.related_model._meta.db_table in distributed
        and (model._meta.db_table, field.column, field.related_model._meta.db_table)
        not in composite
    )


@pytest.mark.django_db
def test_every_table_is_distributed_by_practice_or_listed_with_a_reason():
    unlisted = _unlisted_tables()
    assert not unlisted, f"tables without practice_id: add practice_id or list them: {unlisted}"
    stale = sorted((set(REFERENCE) | set(LOCAL)) - set(_tables()))
    assert not stale, f"listed tables that do not exist: {stale}"
    assert not set(REFERENCE) & set(LOCAL)


@pytest.mark.django_db
def test_every_distributed_table_has_practice_id_not_null():
    nullable = _nullable_practice()
    assert not nullable, f"practice_id may be NULL in {nullable}"


@pytest.mark.django_db
def test_the_audit_log_is_the_one_table_whose_practice_may_be_empty():
    # A failed sign-in for an unknown email names no practice (ccm/receivers.py): the log is
    # coordinator-local, not distributed, for that and for its one hash chain (LOCAL).
    nullable = sorted(t for t, notnull in _tables().items() if notnull is False)
    assert nullable == ["ccm_auditevent"]


@pytest.mark.django_db
def test_every_unique_key_of_a_distributed_table_includes_practice_id():
    missing = _unique_keys_without_practice()
    assert not missing, "Citus needs the distribution column in every unique key:\n" + "\n".join(
        missing
    )


@pytest.mark.django_db
def test_every_foreign_key_follows_the_citus_rules():
    wrong = _foreign_keys_citus_refuses()
    assert not wrong, "foreign keys Citus refuses:\n" + "\n".join(wrong)


@pytest.mark.django_db
def test_every_link_between_distributed_tables_is_enforced_by_a_same_practice_key():
    unchecked = _links_without_same_practice_key()
    assert not unchecked, "links without a same-practice foreign key:\n" + "\n".join(unchecked)


@pytest.mark.django_db
def test_the_schema_checks_can_fail():
    # Break each rule inside the test's transaction (PostgreSQL DDL is transactional, so the
    # test's rollback undoes it) and see each check name the break.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE shard_probe (id integer PRIMARY KEY)")
        cursor.execute("ALTER TABLE patients_condition ALTER COLUMN practice_id DROP NOT NULL")
        cursor.execute("CREATE UNIQUE INDEX shard_probe_unique ON timelog_timeentry (id, note)")
        cursor.execute(
            "ALTER TABLE timelog_task ADD CONSTRAINT shard_probe_fk "
            "FOREIGN KEY (patient_id) REFERENCES patients_patient (id)"
        )
        cursor.execute(
            "ALTER TABLE timelog_timeentry "
            "DROP CONSTRAINT timelog_timeentry_patient_id_same_practice_fk"
        )
    assert _unlisted_tables() == ["shard_probe"]
    assert _nullable_practice() == ["patients_condition"]
    assert [d for d in _unique_keys_without_practice() if "shard_probe_unique" in d]
    assert [w for w in _foreign_keys_citus_refuses() if w.startswith("shard_probe_fk")]
    assert _links_without_same_practice_key() == ["timelog_timeentry.patient_id → patients_patient"]


@pytest.mark.django_db
def test_primary_keys_that_citus_needs_as_practice_id_and_id_are_listed():
    distributed = _distributed()
    primary = {t: list(cols) for t, cols, is_primary, _ in _rows(UNIQUE_SQL) if is_primary}
    id_only = sorted(t for t in distributed if primary.get(t) == ["id"])
    other = sorted(t for t in distributed if primary.get(t) != ["id"])
    # Any other primary key must already hold the distribution column.
    assert all("practice_id" in primary.get(t, []) for t in other), other
    changes = "\n".join(f"{t}: PRIMARY KEY (id) → (practice_id, id)" for t in id_only)
    assert len(id_only) == ID_ONLY_PRIMARY_KEYS, f"{len(id_only)} tables:\n{changes}"


# --- Integrity without the single-column keys ---------------------------------------------


def _update_fails(table: str, column: str, value: Any, row_id: Any) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, row_id])  # noqa: S608
    except IntegrityError:
        return True
    return False


# A child built in a practice (the factory keeps its parents there) and its link column.
LINKS = {
    "time entry → patient": (TimeEntryFactory, "patient_id"),
    "condition → patient": (ConditionFactory, "patient_id"),
    "task → patient": (TaskFactory, "patient_id"),
    "care contact → patient": (CareContactFactory, "patient_id"),
    "contact attempt → patient": (SummaryAttemptFactory, "patient_id"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("link", sorted(LINKS))
def test_the_database_refuses_a_missing_or_another_practices_parent(link):
    build, column = LINKS[link]
    mine, theirs = build(), build()  # each in a practice of its own, parents included
    assert mine.practice_id != theirs.practice_id
    table = type(mine)._meta.db_table
    assert _update_fails(table, column, getattr(theirs, column), mine.pk), "other practice"
    assert _update_fails(table, column, uuid.uuid4(), mine.pk), "missing parent"
    assert not _update_fails(table, column, getattr(mine, column), mine.pk), "own parent"


@pytest.mark.django_db
def test_the_database_refuses_to_delete_a_parent_that_still_has_children():
    entry = TimeEntryFactory()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        # Coverage rows point at the patient too; the composite keys refuse either way.
        cursor.execute("DELETE FROM patients_patient WHERE id = %s", [entry.patient_id])


@pytest.mark.django_db
def test_the_orm_still_follows_and_protects_the_links(scope):
    from django.db.models import ProtectedError

    entry = TimeEntryFactory(patient=PatientFactory(practice=scope))
    assert entry.patient.practice_id == scope.pk  # the relation still works
    with pytest.raises(ProtectedError):
        entry.patient.delete()  # on_delete=PROTECT is the ORM's, unchanged


# --- Every query of a distributed table names the practice ----------------------------------

# `alias."practice_id" = …`, `IN (…)`, `= ANY(…)`, or a join on practice_id.
_REF = r'(?:FROM|JOIN|UPDATE|INTO)\s+"?(\w+)"?(?:\s+(?:AS\s+)?"?(\w+)"?)?'
_NOT_ALIAS = {
    "ON", "WHERE", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "JOIN", "ORDER", "GROUP", "LIMIT",
    "USING", "SET", "VALUES", "AS", "WITH", "FOR", "OFFSET", "HAVING", "UNION", "RETURNING",
}  # fmt: skip


def _references(sql: str, distributed: set[str]) -> Iterator[tuple[str, str]]:
    """(table, name it is referred to by) for each distributed table the statement reads."""
    for match in re.finditer(_REF, sql, flags=re.IGNORECASE):
        table, alias = match.group(1), match.group(2)
        if table not in distributed:
            continue
        if alias is None or alias.upper() in _NOT_ALIAS:
            alias = table
        yield table, alias


def _names_practice(sql: str, alias: str) -> bool:
    column = rf'(?<!\w)"?{re.escape(alias)}"?\."?practice_id"?'
    predicate = rf"{column}\s*(?:=|IN\b)|=\s*{column}"
    insert = rf'INSERT\s+INTO\s+"?{re.escape(alias)}"?\s*\([^)]*"?practice_id"?'
    return bool(
        re.search(predicate, sql, flags=re.IGNORECASE)
        or re.search(insert, sql, flags=re.IGNORECASE)
    )


def _fk_joined(sql: str, alias: str, constrained: set[str]) -> bool:
    """Joined by id to a reference already constrained to the practice: the composite
    same-practice foreign key then guarantees the joined row is the practice's too."""
    a = re.escape(alias)
    for other in constrained:
        o = re.escape(other)
        for left, right in ((a, o), (o, a)):
            child = rf'(?<!\w)"?{left}"?\."?\w+_id"?'
            parent = rf'(?<!\w)"?{right}"?\."?id"?(?!\w)'
            pattern = rf"{child}\s*=\s*{parent}|{parent}\s*=\s*{child}"
            if re.search(pattern, sql, flags=re.IGNORECASE):
                return True
    return False


def _unscoped(sql: str, distributed: set[str]) -> tuple[list[str], list[str]]:
    """(tables read without the practice, tables reached only by an FK join)."""
    references = list(_references(sql, distributed))
    constrained = {alias for _, alias in references if _names_practice(sql, alias)}
    joined, changed = [], True
    while changed:  # a chain of joins: patient → coverage → payer
        changed = False
        for _, alias in references:
            if alias not in constrained and _fk_joined(sql, alias, constrained):
                constrained.add(alias)
                joined.append(alias)
                changed = True
    missing = [table for table, alias in references if alias not in constrained]
    return missing, joined


# (route, table) → why a statement of that route may read the table by id alone. Each is a
# lazy foreign-key load: Django's related descriptor queries the parent by id through the base
# manager. Tenancy holds (the composite key keeps the parent in the child's practice), but on
# Citus such a lookup goes to every shard; the fix is select_related in the view.
LAZY_LOADS: dict[tuple[str, str], str] = {}


def test_the_sql_check_can_fail():
    distributed = {"patients_patient", "timelog_timeentry"}
    scoped = 'SELECT 1 FROM "patients_patient" WHERE "patients_patient"."practice_id" = %s'
    assert _unscoped(scoped, distributed) == ([], [])
    assert _unscoped('SELECT 1 FROM "patients_patient" WHERE "id" = %s', distributed)[0]
    joined = (
        'SELECT 1 FROM "timelog_timeentry" INNER JOIN "patients_patient" ON '
        '("timelog_timeentry"."patient_id" = "patients_patient"."id") '
        'WHERE "timelog_timeentry"."practice_id" = %s'
    )
    assert _unscoped(joined, distributed) == ([], ["patients_patient"])
    reverse = joined.replace(
        '"timelog_timeentry"."patient_id" = "patients_patient"."id"',
        '"patients_patient"."id" = "timelog_timeentry"."patient_id"',
    )
    assert _unscoped(reverse, distributed) == ([], ["patients_patient"])
    aliased = 'SELECT 1 FROM "timelog_timeentry" U0 WHERE "timelog_timeentry"."practice_id" = 1'
    assert _unscoped(aliased, distributed)[0] == ["timelog_timeentry"]


@pytest.mark.django_db(transaction=False)
def test_every_statement_of_a_walk_through_pages_and_api_names_the_practice(cast):  # noqa: F811
    """GET every page and API route as the practice's admin (pages by session, the API by
    token) and check each SQL statement: every distributed table it reads is constrained to
    the practice, or joined by id to one that is (the composite key keeps that row in the
    practice). Writes (POST) go through the same scoped managers and are not walked."""
    distributed = _distributed()
    admin = cast["admin"]
    page_client, api_client = Client(), token_client(admin)
    page_client.force_login(admin.user)
    statements: list[tuple[str, str]] = []
    current = {"url": ""}

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((current["url"], sql))
        return execute(sql, params, many, context)

    ok = set()
    with connection.execute_wrapper(record):
        for route in ROUTES:
            url = _concrete(route, _values(_kwargs(route), cast, filler="x"))
            current["url"] = route
            client = api_client if url.startswith("/api/") else page_client
            response = client.get(url)
            assert response.status_code < 500, url
            if response.status_code == 200:
                ok.add(route)
    # The walk reached the pages and lists that matter (not only 403s and 404s).
    for route in (
        "worklist/",
        "patients/<uuid:patient_id>/",
        "billing/months/<str:month>/claims/",
        "api/v1/patients/",
        "api/v1/worklist/",
        "api/v1/time-entries/",
        "api/v1/tasks/",
        "api/v1/billing/months/<str:month>/claims/",
    ):
        assert route in ok, f"{route} did not answer 200"
    failures, allowed = [], set()
    for url, sql in statements:
        missing, _ = _unscoped(sql, distributed)
        allowed |= {(url, table) for table in missing if (url, table) in LAZY_LOADS}
        missing = [table for table in missing if (url, table) not in LAZY_LOADS]
        if missing:
            failures.append(f"{url}: {missing}: {sql}")
    assert len(statements) > len(ROUTES)
    assert allowed == set(LAZY_LOADS), "fixed lazy loads: remove them from LAZY_LOADS"
    assert not failures, f"{len(failures)} statements without the practice:\n" + "\n".join(
        failures[:20]
    )
