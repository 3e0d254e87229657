"""Check the audit log against its seals; exit 1 naming (by id) every event added, changed or
removed since it was sealed, and every altered seal. Prints ids and hashes only, never PHI."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ccm import audit
from ccm.models import AuditSeal

ALTERED = "The audit log was altered after sealing: {count} problems (listed above)."


class Command(BaseCommand):
    help = (
        "Recompute the audit log's hash chain; exit 1 if any sealed event was added, changed "
        "or removed. --expect HASH also requires a seal hash recorded earlier (from the "
        "worker log's 'audit seal' lines) to be in the chain, so a rewritten chain shows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--expect", action="append", default=[], metavar="HASH")

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit.verify()
        problems = result.problems
        for expected in options["expect"]:
            if not AuditSeal.objects.filter(hash=expected).exists():
                problems.append(f"seal with hash {expected} is missing")
        for line in problems:
            self.stderr.write(line)
        if problems:
            raise CommandError(ALTERED.format(count=len(problems)))
        self.stdout.write(
            f"OK: {result.seals} seals, {result.events} events; last seal hash {result.head or '-'}"
        )
