"""Idempotent demo data: practices `demo` and `other` and the contract's five demo users."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from ccm.demo import DemoSeed, app_hooks
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
        demo = DemoSeed(practices, memberships, options["patients"], options["months"])
        demo.extra_staff = self._extra_staff(practices["demo"], options["patients"])
        # Each app seeds its rows (ccm/demo.py), then derives what depends on all of them.
        for hook in [*app_hooks("seed_demo"), *app_hooks("finish_demo")]:
            hook(demo)
        if options["verbosity"] > 0:
            self.stdout.write(
                f"Demo ready: {len(practices)} practices, {len(USERS)} demo users "
                f"(password {DEMO_PASSWORD}), {demo.added['patients']} patients, "
                f"{demo.added['time entries']} time entries and {demo.added['tasks']} tasks added."
            )

    def _extra_staff(self, demo: Practice, patients: int) -> list[Membership]:
        """More staff for big demos, about one coordinator per 400 patients."""
        staff = []
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
            staff.append(member)
        return staff
