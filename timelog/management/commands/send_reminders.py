"""manage.py send_reminders [--practice SLUG]: the daily outreach job, run once now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ccm.models import Practice
from timelog import reminders


class Command(BaseCommand):
    help = "Create today's outreach tasks (idempotent) and send each member's digest email."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--practice", help="Slug of one practice (default: every practice).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["practice"]:
            practice = Practice.objects.filter(slug=options["practice"]).first()
            if practice is None:
                raise CommandError(f"No practice with slug {options['practice']!r}.")
            ids = [str(practice.pk)]
        else:
            ids = reminders.practices_to_remind()
        tasks = digests = 0
        for practice_id in ids:
            outcome = reminders.send_reminders(practice_id=practice_id)
            tasks += outcome.tasks_created
            digests += outcome.digests_sent
        self.stdout.write(
            f"{len(ids)} practice(s): {tasks} task(s) created, {digests} digest(s) sent."
        )
