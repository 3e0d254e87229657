"""Helpers the tests share that build no data (data: tests/factories.py): an API client with a
Bearer token, threads with their own database connections, a frozen-clock fixture, and the
test database's URL for subprocesses."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.html import escape
from rest_framework.test import APIClient

from ccm import services as ccm_services
from ccm.audit_selectors import about_patient
from ccm.models import AuditEvent, Membership
from ccm.tenancy import practice_scope

APPLIED = "applied"


def token_client(membership: Membership, name: str = "t") -> APIClient:
    """A Bearer-token API client for a membership, as an integrator calls us."""
    with practice_scope(membership.practice):
        _, raw = ccm_services.token_create(
            practice=membership.practice, actor=membership, membership=membership, name=name
        )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def frozen_clock(moment: dt.datetime, *, autouse: bool = False) -> Any:
    """A fixture holding the clock still at `moment`; it yields the traveller (to shift)."""

    def frozen() -> Iterator[Any]:
        with time_machine.travel(moment, tick=False) as traveller:
            yield traveller

    return pytest.fixture(autouse=autouse)(frozen)


def start_in_threads(
    targets: list[Callable[[], object]],
) -> tuple[list[threading.Thread], list[BaseException]]:
    """Start each target in its own thread; each closes its own database connection when done
    (else the test database cannot be dropped). The errors list fills as threads fail."""
    errors: list[BaseException] = []

    def run(target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as exc:  # reported to the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    return threads, errors


def run_in_threads(targets: list[Callable[[], object]], timeout: float = 60) -> list[BaseException]:
    """Run each target in its own thread and wait for all; returns the errors they raised."""
    threads, errors = start_in_threads(targets)
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def at_once(action: Callable[[], object], times: int = 2) -> list[BaseException]:
    """Run `action` in `times` threads released together by a barrier; returns the errors."""
    barrier = threading.Barrier(times)

    def released() -> None:
        barrier.wait()
        action()

    return run_in_threads([released] * times)


def outcomes_at_once(action: Callable[[], object], times: int = 2) -> list[str]:
    """Each thread's outcome of `action` run at once: APPLIED, or the refusal's message."""
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            action()
            outcomes.append(APPLIED)
        except ValidationError as exc:
            outcomes.append(exc.messages[0])

    errors = at_once(attempt, times)
    if errors:
        raise errors[0]
    return outcomes


def database_url() -> str:
    """The test database as a DATABASE_URL, for the servers and workers tests start."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


def audited(action: str, **filters: Any) -> bool:
    """Whether an audit event `action` matching `filters` was recorded (in any practice).
    `patient_id=X`: an event about X alone or a list's naming X (`about_patient`)."""
    events = AuditEvent.objects.unscoped().filter(action=action)
    if "patient_id" in filters:
        events = events.filter(about_patient(filters.pop("patient_id")))
    return events.filter(**filters).exists()


def assert_form_error(response: Any, message: str) -> None:
    """The page came back refused (400) and shows `message`, HTML-escaped as rendered."""
    assert response.status_code == 400
    assert escape(message) in response.content.decode()


def wait_for(what: str, check: Callable[[], Any], *, within: float, every: float, log: Any) -> Any:
    """Poll `check` every `every` seconds until it returns something truthy (returned), or
    fail after `within` seconds showing `log()`: what the subprocesses printed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}; {log()}")
