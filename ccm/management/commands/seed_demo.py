"""Idempotent demo data: practices `demo` and `other` and the contract's five demo users."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from ccm.models import Membership, Practice, Role, User

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105  (documented demo password, contract §1)

PRACTICES = {
    "demo": {
        "name": "Demo Family Medicine",
        "time_zone": "America/New_York",
        "billing_npi": "1234567893",
        "tax_id": "12-3456789",
        "address_line1": "100 Main Street",
        "city": "Springfield",
        "state": "NY",
        "postal_code": "12345",
        "phone": "(555) 010-0100",
    },
    "other": {
        "name": "Other Internal Medicine",
        "time_zone": "America/Chicago",
        "billing_npi": "1245319599",
        "tax_id": "98-7654321",
        "address_line1": "9 Elm Avenue",
        "city": "Shelbyville",
        "state": "IL",
        "postal_code": "62565",
        "phone": "(555) 020-0200",
    },
}

USERS = [
    ("admin@demo.test", "Avery Admin", "demo", Role.ADMIN, ""),
    ("physician@demo.test", "Dr. Pat Physician", "demo", Role.PHYSICIAN, "1679576722"),
    ("coordinator@demo.test", "Casey Coordinator", "demo", Role.COORDINATOR, ""),
    ("biller@demo.test", "Blair Biller", "demo", Role.BILLER, ""),
    ("outsider@other.test", "Oscar Outsider", "other", Role.ADMIN, ""),
]


# Extra clinical staff so worklists can be split between coordinators.
EXTRA_STAFF = [
    ("nurse@demo.test", "Noor Nurse", "demo", Role.COORDINATOR, ""),
    ("coordinator@other.test", "Olive Other", "other", Role.COORDINATOR, ""),
    ("physician@other.test", "Dr. Omar Other", "other", Role.PHYSICIAN, "1245319599"),
]


class Command(BaseCommand):
    help = (
        "Create or refresh the demo practices, users and patients (safe to run again: "
        "existing rows are kept, missing ones added)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--patients", type=int, default=60, help="patients in the demo practice (default 60)"
        )
        parser.add_argument(
            "--months", type=int, default=3, help="months of time entries (default 3)"
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        practices = {}
        for slug, fields in PRACTICES.items():
            practice, _ = Practice.objects.get_or_create(slug=slug, defaults=fields)
            practices[slug] = practice
        memberships: dict[str, Membership] = {}
        for email, name, slug, role, npi in USERS + EXTRA_STAFF:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name)
            memberships[email], _ = Membership.objects.for_practice(practices[slug]).get_or_create(
                practice=practices[slug], user=user, defaults={"role": role, "npi": npi}
            )
        added = self._patients(practices, memberships, options["patients"])
        entries, tasks = self._time(practices, memberships, options["patients"], options["months"])
        if options["verbosity"] > 0:
            self.stdout.write(
                f"Demo ready: {len(practices)} practices, {len(USERS)} demo users "
                f"(password {DEMO_PASSWORD}), {added} patients, {entries} time entries and "
                f"{tasks} tasks added."
            )

    def _time(
        self,
        practices: dict[str, Practice],
        memberships: dict[str, Membership],
        patients: int,
        months: int,
    ) -> tuple[int, int]:
        """Time entries by the coordinators and the physician (more staff for big demos,
        about one coordinator per 400 patients), then the daily job's outreach tasks."""
        from billing.progress.services import progress_reconcile
        from timelog.demo import recent_months, seed_time
        from timelog.reminders import create_due_tasks

        demo = practices["demo"]
        performers = [
            memberships[e]
            for e in ("coordinator@demo.test", "nurse@demo.test", "physician@demo.test")
        ]
        for n in range(1, patients // 400 + 1):
            user = User.objects.filter(email=f"staff{n}@demo.test").first() or (
                User.objects.create_user(
                    email=f"staff{n}@demo.test",
                    password=DEMO_PASSWORD,
                    full_name=f"Staff Nurse {n}",
                )
            )
            member, _ = Membership.objects.for_practice(demo).get_or_create(
                practice=demo, user=user, defaults={"role": Role.COORDINATOR}
            )
            performers.append(member)
        other = [memberships["coordinator@other.test"], memberships["physician@other.test"]]
        entries = seed_time(practice=demo, performers=performers, months=months)
        entries += seed_time(practice=practices["other"], performers=other, months=months)
        self._care_plans(practices, memberships)
        for practice in practices.values():
            # Bulk inserts skip the services: compute the worklist's progress rows once.
            progress_reconcile(practice_id=practice.pk, months=recent_months(practice, months))
        tasks = sum(create_due_tasks(practice=p) for p in practices.values())
        self._close_old_months(demo, recent_months(demo, months))
        return entries, tasks

    def _close_old_months(self, demo: Practice, months: list[Any]) -> None:
        """Close the demo's older months (idempotent), so billing has a history; last month
        stays open for the biller to close, this month is still running."""
        from billing.close.services import month_close

        for month in months[:-2]:
            month_close(practice_id=demo.pk, month=month)

    def _care_plans(
        self, practices: dict[str, Practice], memberships: dict[str, Membership]
    ) -> None:
        from careplans.demo import seed_care_plans

        for slug, physician, coordinators in (
            ("demo", "physician@demo.test", ("coordinator@demo.test", "nurse@demo.test")),
            ("other", "physician@other.test", ("coordinator@other.test",)),
        ):
            seed_care_plans(
                practice=practices[slug],
                physician=memberships[physician],
                coordinators=[memberships[e] for e in coordinators],
            )

    def _patients(
        self, practices: dict[str, Practice], memberships: dict[str, Membership], count: int
    ) -> int:
        from patients.demo import Staff, seed_patients

        today = practices["demo"].today()
        demo = Staff(
            physician=memberships["physician@demo.test"],
            coordinators=(memberships["coordinator@demo.test"], memberships["nurse@demo.test"]),
        )
        other = Staff(
            physician=memberships["physician@other.test"],
            coordinators=(memberships["coordinator@other.test"],),
        )
        # The other practice gets a smaller list: enough to prove it never shows in demo.
        return seed_patients(
            practice=practices["demo"], staff=demo, count=count, today=today
        ) + seed_patients(
            practice=practices["other"], staff=other, count=max(12, count // 5), today=today
        )
