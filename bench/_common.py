"""Shared fixtures of the benchmark scripts that measure pages and the API on the demo data."""

import _setup  # noqa: F401  (Django set-up)
from django.core.management import call_command
from django.test import Client

from ccm import services
from ccm.models import Membership
from ccm.tenancy import practice_scope


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
