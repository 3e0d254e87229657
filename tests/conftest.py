"""The fixed cast (style.md §7): practice, other_practice, admin, physician, coordinator,
biller, outsider — each a Membership — and a logged-in client for each."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.test import Client

from ccm.models import Membership, Practice, Role
from ccm.tenancy import practice_scope
from tests.factories import MembershipFactory, PracticeFactory, enroll_totp, reset_for_test

# The suite runs with DEBUG=0 (production settings); the servers and Celery workers tests
# start as subprocesses inherit this, so they start (no EMAIL_URL → ccm.E001) and keep any
# mail in memory.
os.environ.setdefault("EMAIL_URL", "memorymail://")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture builds data: the same names, MRNs and e-mails for a test on every run,
    # whatever ran before it on its xdist worker. A hook, not a fixture, so hypothesis tests see
    # no function-scoped fixture.
    reset_for_test(item.nodeid)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    # PBKDF2's production cost would dominate the suite; hashing itself is Django's job.
    # Session-scoped, so hypothesis tests see no function-scoped fixture.
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()


@pytest.fixture(autouse=True, scope="session")
def _plain_http():
    # The suite runs with DEBUG=0, whose default redirects http to https; the test client and
    # the browser tests' live server speak plain http. Production's redirect has its own tests
    # (tests/ccm/test_security.py).
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def practice(db) -> Practice:
    return PracticeFactory(name="Sunrise Clinic", slug="sunrise", time_zone="America/New_York")


@pytest.fixture
def other_practice(db) -> Practice:
    return PracticeFactory(name="Elsewhere Medical", slug="elsewhere", time_zone="America/Chicago")


def _member(practice: Practice, role: str, email: str, *, mfa: bool = False) -> Membership:
    membership = MembershipFactory(practice=practice, role=role, user__email=email)
    if mfa:
        enroll_totp(membership.user)
    return membership


@pytest.fixture
def admin(practice) -> Membership:
    return _member(practice, Role.ADMIN, "alice.admin@sunrise.test", mfa=True)


@pytest.fixture
def physician(practice) -> Membership:
    return _member(practice, Role.PHYSICIAN, "pat.physician@sunrise.test")


@pytest.fixture
def coordinator(practice) -> Membership:
    return _member(practice, Role.COORDINATOR, "casey.coordinator@sunrise.test")


@pytest.fixture
def biller(practice) -> Membership:
    return _member(practice, Role.BILLER, "blair.biller@sunrise.test", mfa=True)


@pytest.fixture
def outsider(other_practice) -> Membership:
    return _member(other_practice, Role.ADMIN, "oscar@elsewhere.test", mfa=True)


def _signed_in(member: str) -> Any:
    """A fixture: a browser client signed in as the user of the cast fixture `member`."""

    @pytest.fixture
    def signed_in_client(request: pytest.FixtureRequest, db: None) -> Client:
        # `db` stated here, not only reached through getfixturevalue(member): a test that
        # asks for nothing but a client must still get the test database set up first.
        client = Client()
        client.force_login(request.getfixturevalue(member).user)
        return client

    return signed_in_client


admin_client = _signed_in("admin")
physician_client = _signed_in("physician")
coordinator_client = _signed_in("coordinator")
biller_client = _signed_in("biller")
outsider_client = _signed_in("outsider")


@pytest.fixture
def scope(practice):
    """Run the test body inside the practice's scope (for direct model/service calls)."""
    with practice_scope(practice):
        yield practice
