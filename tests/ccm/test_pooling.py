"""Transaction pooling (PgBouncer, docs/pooling.md): the app keeps no session state, the
settings under DATABASE_POOLER=transaction, and - when the suite runs through PgBouncer
(`make test-pgbouncer`) - jit=off, UTC in every transaction, no cursor or prepared statement
left on a server connection."""

from __future__ import annotations

import ast
import re
import runpy
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections

from ccm.models import Practice
from tests.factories import PracticeFactory

ROOT = Path(__file__).resolve().parents[2]
# The code web, worker and beat run through the pooler. Migrations and `db_roles` run as the
# one-off `migrate` service, directly on PostgreSQL (docker-compose.yml).
APPS = ("ccm", "patients", "careplans", "timelog", "billing")
DIRECT_ONLY = ("migrations", "ccm/management/commands/db_roles.py", "ccm/devdb.py")

# SQL (upper case, as the code writes it) whose effect outlives the transaction, so that the
# next transaction on that server connection - another client's - would inherit it.
SESSION_SQL = {
    "SET without LOCAL": re.compile(
        r"(?:\A|;)\s*(SET|RESET)\s+(?!LOCAL\b|CONSTRAINTS\b|TRANSACTION\b)"
    ),
    "session advisory lock": re.compile(r"\bpg_(try_)?advisory_(un)?lock(_shared|_all)?\s*\("),
    "LISTEN": re.compile(r"(?:\A|;)\s*(UN)?LISTEN\b"),
    "WITH HOLD cursor": re.compile(r"\bWITH\s+HOLD\b"),
    "temporary table": re.compile(
        r"\bCREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\s+TABLE\b(?![^;]*\bON\s+COMMIT\s+DROP\b)"
    ),
    "SQL prepared statement": re.compile(r"(?:\A|;)\s*(PREPARE|DEALLOCATE|DISCARD)\s"),
    "session set_config": re.compile(r"\bset_config\s*\([^)]*,\s*false\s*\)", re.IGNORECASE),
}
# Python calls that keep state on the connection: a named (server-side) cursor, a holdable
# one, psycopg's server-side prepare, a connection made beside Django's.
SESSION_CALLS = {
    "prepare": "psycopg prepared statement (prepare=True)",
    "withhold": "WITH HOLD cursor (withhold=True)",
    "prepare_threshold": "psycopg automatic prepared statements",
    "get_new_connection": "a connection beside Django's",
}


def _text(node: ast.AST) -> str | None:
    """A string literal's text (an f-string's fields as {}), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def session_state(source: str) -> list[tuple[int, str]]:
    """(line, what) for everything in this module's source that transaction pooling breaks."""
    found = []
    tree = ast.parse(source)
    # An f-string's literal parts are read with it, as one text, not on their own.
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        text = _text(node)
        if text is not None and id(node) not in parts:
            found += [(node.lineno, what) for what, rx in SESSION_SQL.items() if rx.search(text)]
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                flag = isinstance(keyword.value, ast.Constant) and keyword.value.value
                if keyword.arg in ("prepare", "withhold") and flag is not False:
                    found.append((node.lineno, SESSION_CALLS[keyword.arg]))
                if keyword.arg == "prepare_threshold":
                    found.append((node.lineno, SESSION_CALLS[keyword.arg]))
            func = node.func
            named = any(k.arg == "name" for k in node.keywords) or bool(node.args)
            if isinstance(func, ast.Attribute) and func.attr == "cursor" and named:
                found.append((node.lineno, "named (server-side) cursor"))
        if isinstance(node, ast.Attribute) and node.attr == "get_new_connection":
            found.append((node.lineno, SESSION_CALLS["get_new_connection"]))
    return sorted(set(found))


def _app_modules() -> list[Path]:
    paths = [p for app in APPS for p in sorted((ROOT / app).rglob("*.py"))]
    return [p for p in paths if not any(d in p.relative_to(ROOT).as_posix() for d in DIRECT_ONLY)]


def test_app_code_keeps_no_session_state():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _app_modules()
        for line, what in session_state(path.read_text())
    ]
    assert len(_app_modules()) > 100
    assert found == []


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ('cursor.execute("SET statement_timeout = 0")', "SET without LOCAL"),
        ("cursor.execute(\"SET TIME ZONE 'UTC'\")", "SET without LOCAL"),
        ('cursor.execute(f"SET ROLE {role}")', "SET without LOCAL"),
        ('cursor.execute("RESET ALL")', "SET without LOCAL"),
        ('cursor.execute("SELECT 1; SET search_path TO x")', "SET without LOCAL"),
        ('cursor.execute("SELECT pg_advisory_lock(%s)", [1])', "session advisory lock"),
        ('cursor.execute("SELECT pg_try_advisory_lock(1)")', "session advisory lock"),
        ('cursor.execute("LISTEN jobs")', "LISTEN"),
        ('cursor.execute("DECLARE c CURSOR WITH HOLD FOR SELECT 1")', "WITH HOLD cursor"),
        ('cursor.execute("CREATE TEMP TABLE t (id int)")', "temporary table"),
        ('cursor.execute("PREPARE q AS SELECT 1")', "SQL prepared statement"),
        ("cursor.execute(\"SELECT set_config('x', '1', false)\")", "session set_config"),
        ("cursor.execute(sql, params, prepare=True)", "psycopg prepared statement (prepare=True)"),
        ('connection.connection.cursor("big", withhold=True)', "WITH HOLD cursor (withhold=True)"),
        ('raw.cursor(name="big")', "named (server-side) cursor"),
        ("psycopg.connect(dsn, prepare_threshold=5)", "psycopg automatic prepared statements"),
        ("connection.get_new_connection(params)", "a connection beside Django's"),
    ],
)
def test_the_scan_finds_session_state(source, what):
    assert what in [w for _, w in session_state(source)]


@pytest.mark.parametrize(
    "source",
    [
        'cursor.execute("SET LOCAL synchronous_commit TO OFF")',
        'cursor.execute("SET CONSTRAINTS ALL DEFERRED")',
        'cursor.execute("UPDATE t\\n   SET a = 1\\n WHERE b")',
        'cursor.execute("CREATE TEMP TABLE t (id int) ON COMMIT DROP")',
        'cursor.execute("SELECT pg_advisory_xact_lock(%s)", [1])',
        'cursor.execute(f"UPDATE t " f"SET {names} FROM v")',
        'messages.success(request, "Set up an authenticator app.")',
        "with connection.cursor() as cursor: pass",
    ],
)
def test_the_scan_lets_transaction_scoped_sql_pass(source):
    assert session_state(source) == []


def _settings_with(monkeypatch, **environ: str) -> dict[str, Any]:
    """ccm/settings.py evaluated with these environment variables."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    import ccm.settings

    return runpy.run_path(ccm.settings.__file__)


def test_the_pooler_setting_drops_session_state(monkeypatch):
    url = "postgres://caremonth_app:secret@pgbouncer:6432/caremonth"
    pooled = _settings_with(monkeypatch, DATABASE_URL=url, DATABASE_POOLER="transaction")
    database = pooled["DATABASES"]["default"]
    assert database["PORT"] == 6432
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert database["OPTIONS"] == {"prepare_threshold": None}
    assert database["CONN_MAX_AGE"] == 60


def test_without_the_pooler_jit_is_off_by_startup_options(monkeypatch):
    monkeypatch.delenv("DATABASE_POOLER", raising=False)
    url = "postgres://caremonth_app:secret@postgres:5432/caremonth"
    database = _settings_with(monkeypatch, DATABASE_URL=url)["DATABASES"]["default"]
    assert database["OPTIONS"] == {"options": "-c jit=off"}
    assert not database.get("DISABLE_SERVER_SIDE_CURSORS")


def test_an_unknown_pool_mode_is_refused(monkeypatch):
    url = "postgres://caremonth_app:secret@pgbouncer:6432/caremonth"
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOLER"):
        _settings_with(monkeypatch, DATABASE_URL=url, DATABASE_POOLER="session")


def test_a_query_run_often_is_not_prepared_on_the_server(db):
    # psycopg prepares a query on the server after 5 runs unless prepare_threshold is None
    # (Django's default); behind a transaction pooler the statement would be on another
    # server connection, or missing, the next time.
    assert connection.connection.prepare_threshold is None
    for _ in range(10):
        list(Practice.objects.filter(slug="pooling").values_list("pk"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0


pooled = pytest.mark.skipif(
    not settings.DATABASE_POOLER, reason="runs through PgBouncer: make test-pgbouncer"
)


@pooled
def test_the_suite_runs_through_the_pooler(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        server_port = cursor.fetchone()[0]
    assert int(connection.settings_dict["PORT"]) != server_port
    assert "options" not in connection.settings_dict["OPTIONS"]


@pooled
def test_jit_is_off_through_the_pooler(db):
    # Not from Django's startup options (PgBouncer refuses them): from its connect_query.
    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SHOW jit")
            assert cursor.fetchone()[0] == "off"
    finally:
        fresh.close()
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


@pooled
def test_every_transaction_sees_utc_when_another_client_shares_the_server(db):
    # Another client sets a session time zone on the server connection it is given; PgBouncer
    # tracks TimeZone per client and sets each client's own on the server connection it gets
    # next. Both clients are in autocommit: every statement may change server connection.
    other = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    ours = connections.create_connection("default")
    try:
        other.execute("SET TIME ZONE 'America/New_York'")
        seen = []
        for _ in range(5):
            row = other.execute("SELECT pg_backend_pid(), current_setting('TimeZone')")
            seen.append(("other", *row.fetchone()))
            with ours.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid(), current_setting('TimeZone'), now()")
                pid, zone, now = cursor.fetchone()
            seen.append(("ours", pid, zone))
            assert now.utcoffset().total_seconds() == 0
    finally:
        other.close()
        ours.close()
    assert {zone for who, _, zone in seen if who == "ours"} == {"UTC"}
    assert {zone for who, _, zone in seen if who == "other"} == {"America/New_York"}
    # The check means something only if the two shared a server connection.
    assert {pid for who, pid, _ in seen if who == "ours"} & {
        pid for who, pid, _ in seen if who == "other"
    }


@pooled
def test_iterating_a_queryset_opens_no_server_side_cursor(db):
    PracticeFactory.create_batch(3)
    seen = []
    for _ in Practice.objects.order_by("pk").iterator(chunk_size=1):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors")
            seen.append(cursor.fetchone()[0])
    assert seen == [0, 0, 0]
