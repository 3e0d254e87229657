"""Print a new API token for a member of a practice (the only place it is ever shown)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ccm import services
from ccm.models import Membership, Practice
from ccm.tenancy import practice_scope


class Command(BaseCommand):
    help = "Create an API token for EMAIL's membership in practice SLUG and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--practice", required=True, help="practice slug")
        parser.add_argument("--name", default="command line")

    def handle(self, *args: Any, **options: Any) -> None:
        practice = Practice.objects.filter(slug=options["practice"]).first()
        if practice is None:
            raise CommandError(f"No practice with slug '{options['practice']}'.")
        with practice_scope(practice):
            membership = (
                Membership.objects.filter(user__email__iexact=options["email"], is_active=True)
                .select_related("user", "practice")
                .first()
            )
            if membership is None:
                raise CommandError("That email has no active membership in this practice.")
            try:
                _, raw = services.token_create(
                    practice=practice, actor=membership, membership=membership, name=options["name"]
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(raw)
