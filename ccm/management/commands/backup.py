"""Write a backup (database + uploaded files, checksums, manifest) under BACKUP_DIR, then
apply the rotation (BACKUP_KEEP_DAILY / BACKUP_KEEP_WEEKLY). `make backup` runs this."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ccm import backup


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump, custom format) and MEDIA_ROOT into a new directory "
        "under BACKUP_DIR named by the UTC time, with a manifest and SHA-256 checksums; then "
        "delete the backups outside the rotation (never the newest)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, help="backup folder (default: BACKUP_DIR)")
        parser.add_argument("--no-rotate", action="store_true", help="keep every older backup")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = backup.backup_create(backup_dir=options["dir"])
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = backup.manifest_read(path)
        deleted = [] if options["no_rotate"] else backup.backup_rotate(path.parent)
        encrypted = " (age-encrypted)" if manifest["encryption"] else ""
        self.stdout.write(
            f"Backup {path}{encrypted}: {len(manifest['tables'])} tables, "
            f"{sum(manifest['tables'].values())} rows, {len(manifest['media_files'])} files, "
            f"audit seals {manifest['audit']['seals']}; rotation deleted {len(deleted)}."
        )
