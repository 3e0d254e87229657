"""Seal the unsealed audit events into the hash chain now (beat does it hourly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ccm import audit


class Command(BaseCommand):
    help = "Chain the audit events older than --delay seconds into new seals (ccm.audit.seal)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--delay",
            type=int,
            default=audit.SEAL_DELAY_SECONDS,
            help="leave events younger than this many seconds (default: one hour)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit.seal(delay_seconds=options["delay"])
        self.stdout.write(f"Sealed {result.events} events in {result.seals} seals.")
