"""Restore a backup directory into the EMPTY configured database and media folder, then
verify it against its manifest. `make restore FILE=.data/backups/20261208T021500Z` runs this."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ccm import backup

FAILED = "The restored data does not match the backup: {count} problems (listed above)."


class Command(BaseCommand):
    help = (
        "Restore a backup (a directory written by `manage.py backup`) into an empty database "
        "and an empty MEDIA_ROOT: checksums first, then pg_restore and the files, then row "
        "counts, the audit seal chain and every file's checksum are compared with the manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the backup directory")
        parser.add_argument(
            "--check", action="store_true", help="only verify the checksums; change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["check"]:
                manifest = backup.backup_verify(options["path"])
                self.stdout.write(f"OK: backup {manifest['name']}, checksums match.")
                return
            result = backup.backup_restore(options["path"])
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        for problem in result.problems:
            self.stderr.write(problem)
        if not result.ok:
            raise CommandError(FAILED.format(count=len(result.problems)))
        self.stdout.write(
            f"Restored backup {result.name} in {result.seconds:.1f} s: {result.tables} tables "
            f"and {result.rows} rows match the manifest; {result.files} files match their "
            f"checksums; audit seal chain OK ({result.audit_seals} seals, "
            f"{result.audit_events} events sealed).\n"
            "Next: `manage.py db_roles` (the runtime role's grants), then `manage.py migrate` "
            "if this code is newer than the backup."
        )
