"""manage.py progress_reconcile [--practice SLUG] [--month YYYY-MM ...] [--missing-only]."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.progress import services
from ccm.models import Practice
from ccm.months import parse_month


class Command(BaseCommand):
    help = (
        "Check the worklist's stored progress against the billing engine and write missing or "
        "differing rows (default: this month and the last, every practice). Safe to re-run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--practice", help="Slug of one practice (default: every practice).")
        parser.add_argument("--month", action="append", default=[], help="YYYY-MM (repeatable).")
        parser.add_argument("--missing-only", action="store_true", help="Only add missing rows.")

    def handle(self, *args: Any, **options: Any) -> None:
        practices = Practice.objects.order_by("slug")
        if options["practice"]:
            practices = practices.filter(slug=options["practice"])
            if not practices.exists():
                raise CommandError(f"No practice with slug {options['practice']!r}.")
        try:
            months = [parse_month(text) for text in options["month"]]
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        for practice in practices:
            outcome = services.progress_reconcile(
                practice_id=practice.pk, months=months, missing_only=options["missing_only"]
            )
            self.stdout.write(
                f"{practice.slug}: {outcome.checked} checked, {outcome.added} added, "
                f"{outcome.corrected} corrected."
            )
