"""Idempotent demo data: practices `demo` and `other` and the contract's five demo users."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
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


class Command(BaseCommand):
    help = "Create or refresh the demo practices and users (safe to run again)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        practices = {}
        for slug, fields in PRACTICES.items():
            practice, _ = Practice.objects.get_or_create(slug=slug, defaults=fields)
            practices[slug] = practice
        for email, name, slug, role, npi in USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name)
            Membership.objects.unscoped().get_or_create(
                practice=practices[slug], user=user, defaults={"role": role, "npi": npi}
            )
        if options["verbosity"] > 0:
            self.stdout.write(
                f"Demo ready: {len(practices)} practices, {len(USERS)} users "
                f"(password {DEMO_PASSWORD})."
            )
