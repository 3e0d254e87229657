"""manage.py close_month --practice SLUG --month YYYY-MM: close a billing month now."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.close import services
from ccm.formats import money
from ccm.models import Practice
from ccm.months import parse_month


class Command(BaseCommand):
    help = (
        "Close a billing month: lock its time, run every patient-month through the billing "
        "engine and store the claims (same service as the page and API; running it twice "
        "changes nothing)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--practice", required=True, help="Slug of the practice.")
        parser.add_argument("--month", required=True, help="YYYY-MM")

    def handle(self, *args: Any, **options: Any) -> None:
        practice = Practice.objects.filter(slug=options["practice"]).first()
        if practice is None:
            raise CommandError(f"No practice with slug {options['practice']!r}.")
        try:
            month = parse_month(options["month"])
            close = services.month_close(practice_id=practice.pk, month=month)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(
            f"{practice.slug} {options['month']}: {close.get_status_display().lower()}, "
            f"{close.patients_total} patient-months, {close.claims} claims, "
            f"{money(close.amount)}."
        )
