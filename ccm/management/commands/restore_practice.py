"""Bring back one practice's rows from a scratch database into this one (docs/operations.md,
"Restore one practice"): first restore the full backup into the scratch database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ccm import backup
from ccm.backup_practice import practice_restore


class Command(BaseCommand):
    help = (
        "Copy the rows of one practice that are missing here from a scratch database (a full "
        "backup restored with `DATABASE_URL=<scratch> manage.py restore`), in foreign-key "
        "order, in one transaction. Rows that exist here are kept; other practices untouched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="source", required=True, metavar="SCRATCH_URL")
        parser.add_argument("--practice", required=True, metavar="SLUG")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            inserted = practice_restore(
                source=backup.libpq_params(options["source"]),
                target=backup.libpq_params(),
                slug=options["practice"],
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        for table, count in inserted.items():
            self.stdout.write(f"{table}: {count} rows restored")
        self.stdout.write(
            f"Practice {options['practice']}: {sum(inserted.values())} rows restored in "
            f"{len(inserted)} tables; existing rows kept."
        )
