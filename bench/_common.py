"""Shared fixtures of the benchmark scripts: the demo coordinator and their clients, and the
bulk seeding of time entries."""

import datetime as dt
import random
from typing import Any

import _setup  # noqa: F401  (Django set-up)
from django.core.management import call_command
from django.test import Client

from ccm import services
from ccm.models import Membership, Practice
from ccm.tenancy import practice_scope
from patients.models import Patient
from timelog.demo import demo_entry
from timelog.models import TimeEntry


def demo_coordinator() -> tuple[Membership, Client, Client]:
    """Seed the demo data; its coordinator, a browser logged in as them and an API client
    with a fresh Bearer token of theirs."""
    call_command("seed_demo", verbosity=0)
    coordinator = (
        Membership.objects.unscoped()  # no practice in scope yet: the login is the lookup
        .select_related("practice", "user")
        .get(user__email="coordinator@demo.test")
    )
    with practice_scope(coordinator.practice):
        _, raw = services.token_create(
            practice=coordinator.practice, actor=coordinator, membership=coordinator, name="bench"
        )
    browser = Client()
    browser.force_login(coordinator.user)
    return coordinator, browser, Client(headers={"Authorization": f"Bearer {raw}"})


class EntryBatches:
    """The benchmark's seeded time entries (`demo_entry`, created when they start), inserted
    FLUSH_AT at a time so a seed of 100,000 entries never sits in memory whole."""

    FLUSH_AT = 20_000

    def __init__(self, practice: Practice, month: dt.date, rng: random.Random) -> None:
        self.practice, self.month, self.rng = practice, month, rng
        self.batch: list[TimeEntry] = []
        self.added = 0

    def add(self, patient: Patient, performer: Membership, **entry: Any) -> None:
        """`entry`: demo_entry's physician, started and minutes (and face_to_face_share)."""
        entry.update(month=self.month, created_at=entry["started"])  # created as it starts
        self.batch.append(demo_entry(self.rng, self.practice, patient, performer, **entry))
        if len(self.batch) >= self.FLUSH_AT:
            self.flush()

    def flush(self) -> int:
        """Insert what is waiting; the number of entries inserted so far."""
        TimeEntry.objects.for_practice(self.practice).bulk_create(self.batch, batch_size=5000)
        self.added, self.batch = self.added + len(self.batch), []
        return self.added
