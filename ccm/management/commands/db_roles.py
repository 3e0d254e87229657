"""Create or update the runtime database role and its grants; run by the tables' owner.

    manage.py migrate && manage.py db_roles

The web, worker and beat processes connect as the runtime role (RUNTIME_DATABASE_URL's user,
default `caremonth_app`): SELECT, INSERT, UPDATE and DELETE on the app's tables, its sequences
usable, and on the audit tables (`ccm_auditevent`, `ccm_auditseal`) INSERT and SELECT only,
as on each monthly partition of `ccm_auditevent` (a query may name a partition; partitions
created later by `ccm_audit_partition_create` get the same grants there).
It owns nothing and is no member of the owner, so it can neither TRUNCATE, ALTER (switch off
the append-only trigger) nor DROP a table. Tables a later migration creates get the DML grants
by default privileges; `migrate` is always followed by this command, which is idempotent.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from psycopg import sql

from ccm.models import AuditEvent, AuditSeal

APPEND_ONLY_TABLES = (AuditEvent._meta.db_table, AuditSeal._meta.db_table)
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
IS_OWNER = (
    "The runtime role must not be the tables' owner or a member of it ({role}): set "
    "RUNTIME_DATABASE_URL to another role, and DATABASE_URL to the owner for this command."
)

CREATE_ROLE = """
DO $$ BEGIN
    CREATE ROLE {role} LOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- exists, or just created
END $$
"""
GRANTS = (
    "GRANT CONNECT ON DATABASE {database} TO {role}",
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
    "REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {schema} FROM {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
    "REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",  # no setval
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
    "REVOKE ALL ON TABLE {append_only} FROM {role}",
    "GRANT SELECT, INSERT ON TABLE {append_only} TO {role}",
    # Tables and sequences the owner creates later (new migrations): the same DML grants.
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
)


def runtime_role() -> tuple[str, str]:
    """The runtime role's name and password (empty: none) from RUNTIME_DATABASE_URL."""
    url = urlsplit(settings.RUNTIME_DATABASE_URL)
    return unquote(url.username or ""), unquote(url.password or "")


class Command(BaseCommand):
    help = (
        "Create or update the runtime role (RUNTIME_DATABASE_URL's user): DML on the app's "
        "tables, INSERT and SELECT only on the audit tables. Run as the owner after migrate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", help="runtime role name (default: RUNTIME_DATABASE_URL's)")

    def handle(self, *args: Any, **options: Any) -> None:
        role, password = runtime_role()
        if options["role"] and options["role"] != role:
            role, password = options["role"], ""
        if not ROLE_NAME.match(role):
            raise CommandError(f"Invalid runtime role name {role!r} (lower case, digits, _).")
        names = {
            "role": sql.Identifier(role),
            "database": sql.Identifier(connection.settings_dict["NAME"]),
            "schema": sql.Identifier(self._scalar("SELECT current_schema()")),
            "append_only": sql.SQL(", ").join(
                sql.Identifier(t) for t in (*APPEND_ONLY_TABLES, *self._partitions())
            ),
        }
        with transaction.atomic():
            owner = self._scalar("SELECT current_user")
            if role == owner:
                raise CommandError(IS_OWNER.format(role=role))
            self._execute(sql.SQL(CREATE_ROLE).format(**names))
            attributes = self._row(
                "SELECT rolsuper, rolcanlogin, rolbypassrls, pg_has_role(%s, %s, 'MEMBER') "
                "FROM pg_roles WHERE rolname = %s",
                [role, owner, role],
            )
            if attributes[0] or attributes[3]:
                raise CommandError(IS_OWNER.format(role=role))
            if password or not attributes[1] or attributes[2]:
                # Only when something changes: ALTER ROLE rewrites a row shared by every
                # database of the cluster (two concurrent runs would conflict).
                alter = sql.SQL("ALTER ROLE {role} LOGIN NOBYPASSRLS").format(**names)
                if password:
                    alter = sql.SQL("{} PASSWORD {}").format(alter, sql.Literal(password))
                self._execute(alter)
            for statement in GRANTS:
                self._execute(sql.SQL(statement).format(**names))
        if options["verbosity"]:
            self.stdout.write(
                f"Runtime role {role}: DML on the app's tables, INSERT and SELECT only on "
                f"{', '.join(APPEND_ONLY_TABLES)}."
            )

    def _partitions(self) -> list[str]:
        """The audit log's partitions (migration 0009), each append-only like the log."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
                [AuditEvent._meta.db_table],
            )
            return [name for (name,) in cursor.fetchall()]

    def _execute(self, statement: sql.Composable) -> None:
        with connection.cursor() as cursor:
            cursor.execute(statement.as_string(connection.connection))

    def _row(self, query: str, params: list[Any] | None = None) -> tuple[Any, ...]:
        with connection.cursor() as cursor:
            cursor.execute(query, params or [])
            return tuple(cursor.fetchone() or ())

    def _scalar(self, query: str) -> Any:
        return self._row(query)[0]
