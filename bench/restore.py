"""Backup and restore of the 10,000-patient demo (issue 19), each next to its floor measured in
the same run: a bare `pg_dump --format=custom` of the same database (the backup's floor) and a
bare `pg_restore --single-transaction` of that dump into an empty database (the restore's
floor). The service adds the snapshot's row counts and audit state, the media tar, SHA-256 of
everything, and on restore the checks before and the verification after (every table's rows,
the audit seal chain, every file's checksum).

Median of 3 each. The demo is seeded (`seed_demo --patients 10000`, audit sealed) into a
throwaway database next to the dev DB or DATABASE_URL's, dropped at the end (`--keep` keeps it,
`--reuse` uses a kept one); uploaded files go to a temporary folder. `--patients N` changes the
size, `--encrypt` encrypts the backups with a fresh age key (`--reuse` has no uploaded files:
they lived in the first run's temporary folder).
Run from the repository root: .venv/bin/python bench/restore.py
"""

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _setup  # noqa: F401 (Django set-up)
import pyrage
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import override_settings

from ccm import audit, backup

REPEAT = 3


def _median(run: Callable[[], None]) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _recreate(name: str) -> None:
    """An empty database `name` (dropped first if it exists)."""
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')


def _drop(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _point_at(name: str) -> None:
    connection.close()
    connection.settings_dict["NAME"] = name


def seed(patients: int, reuse: bool) -> str:
    """Create and seed `<db>_bench_restore` (or reuse it); the name of the original DB."""
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_bench_restore"
    if reuse:
        _point_at(connection.settings_dict["TEST"]["NAME"])
        return old_name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    start = time.perf_counter()
    call_command("seed_demo", patients=patients, months=3, verbosity=0)
    sealed = audit.seal(delay_seconds=0)
    print(f"seeded {patients:,} patients in {time.perf_counter() - start:.0f} s; "
          f"{sealed.events:,} audit events sealed")  # fmt: skip
    return old_name


def run(work: Path) -> None:
    source = connection.settings_dict["NAME"]
    params = backup.libpq_params()
    with backup._connect(params) as conn:
        major = backup._server_major(conn)
    pg_dump, pg_restore = backup.pg_tool("pg_dump", major), backup.pg_tool("pg_restore", major)
    env = backup._pg_env(params)
    folder = work / "backups"

    def service_backup() -> None:
        shutil.rmtree(folder, ignore_errors=True)  # backups are named by the second
        backup.backup_create(backup_dir=folder)

    def bare_dump() -> None:
        subprocess.run(
            [pg_dump, "--format=custom", "--file", work / "bare.dump"], env=env, check=True
        )

    backup_time, dump_time = _median(service_backup), _median(bare_dump)
    (path,) = backup.backups_list(folder)
    manifest = backup.manifest_read(path)
    size = sum(a["bytes"] for a in manifest["artifacts"].values())
    rows = sum(manifest["tables"].values())
    print(f"database: {len(manifest['tables'])} tables, {rows:,} rows; "
          f"{len(manifest['media_files'])} files; backup {size / 1e6:.1f} MB"
          f"{' (age-encrypted)' if manifest['encryption'] else ''}")  # fmt: skip
    print(f"backup  (manage.py backup's service) median {backup_time:6.2f} s | "
          f"bare pg_dump {dump_time:6.2f} s | ratio {backup_time / dump_time:.2f}")  # fmt: skip

    target = f"{source}_target"
    media = work / "restored-media"
    results = []

    def service_restore() -> None:
        _point_at(source)
        _recreate(target)
        shutil.rmtree(media, ignore_errors=True)
        _point_at(target)
        start = time.perf_counter()
        results.append(backup.backup_restore(path, media_root=media))
        restore_times.append(time.perf_counter() - start)

    def bare_restore() -> None:
        _point_at(source)
        _recreate(target)
        start = time.perf_counter()
        subprocess.run(
            [pg_restore, "--single-transaction", "--exit-on-error", "--no-owner", "--no-acl",
             "--dbname", target, work / "bare.dump"],
            env=env, check=True,
        )  # fmt: skip
        bare_times.append(time.perf_counter() - start)

    restore_times: list[float] = []
    bare_times: list[float] = []
    try:
        for _ in range(REPEAT):
            service_restore()
            bare_restore()
    finally:
        _point_at(source)
        _drop(target)
    assert all(r.ok for r in results), [r.problems for r in results]
    restore_time, bare_time = statistics.median(restore_times), statistics.median(bare_times)
    print(f"restore (manage.py restore's service, verified) median {restore_time:6.2f} s | "
          f"bare pg_restore {bare_time:6.2f} s | ratio {restore_time / bare_time:.2f}")  # fmt: skip
    print(f"  restores: {', '.join(f'{t:.2f}' for t in restore_times)} s; each verified "
          f"{results[-1].tables} tables, {results[-1].rows:,} rows, {results[-1].files} files, "
          f"{results[-1].audit_seals} audit seals")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--encrypt", action="store_true", help="age-encrypt the backups")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--reuse", action="store_true", help="use the kept database")
    args = parser.parse_args()
    identity = pyrage.x25519.Identity.generate()
    with tempfile.TemporaryDirectory(prefix="bench-restore-") as tmp:
        work = Path(tmp)
        storage = {"location": str(work / "media"), "base_url": "/no-public-url/"}
        storages = {**settings.STORAGES, "default": {**settings.STORAGES["default"]}}
        storages["default"]["OPTIONS"] = storage
        with override_settings(
            MEDIA_ROOT=work / "media",
            STORAGES=storages,
            BACKUP_DATABASE_URL="",
            BACKUP_AGE_RECIPIENT=str(identity.to_public()) if args.encrypt else "",
            BACKUP_AGE_IDENTITY=str(identity) if args.encrypt else "",
        ):  # fmt: skip
            old_name = seed(args.patients, args.reuse)
            try:
                run(work)
            finally:
                if not (args.keep or args.reuse):
                    connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
