"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import threading
import time
import zoneinfo
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.close import services as close_services
from billing.close import tasks as close_tasks
from ccm.management.commands.seed_demo import DEMO_PASSWORD
from ccm.models import User
from tests.factories import enroll_totp

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(autouse=True, scope="session")
def _allow_orm_beside_playwright():
    # Playwright's sync API runs an event loop in this thread; the ORM calls of fixtures and
    # assertions are still synchronous and safe here. Only for the browser tests (this
    # conftest's session fixture is active only when tests of this folder run).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo(transactional_db):
    """The contract's demo practices and users, in the live server's database."""
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)
    return DEMO_PASSWORD


@pytest.fixture
def shot():
    """Save a full-page screenshot as a test artefact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def csp_violations(page):
    """Collect console errors about the Content Security Policy (there must be none)."""
    seen: list[str] = []
    page.on(
        "console",
        lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return seen


def totp_code(secret: str, used: set[str] | None = None) -> str:
    """A TOTP code valid for a few more seconds, and not one used before (allauth refuses
    a code twice): waits for the next 30-second step when needed."""
    import time

    import pyotp

    totp = pyotp.TOTP(secret)
    while True:
        left = totp.interval - time.time() % totp.interval
        code = totp.now()
        if left > 3 and (used is None or code not in used):
            if used is not None:
                used.add(code)
            return code
        time.sleep(left + 0.1)


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    """Send the sign-in form; the caller checks where it lands (a second step, or a page)."""
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_with_totp(page: Page, base: str, email: str, password: str) -> None:
    """Enrol a TOTP authenticator for the user, then sign in with the password and a code
    (members of roles that must use MFA reach no page before the second step)."""
    secret = enroll_totp(User.objects.get(email=email))
    sign_in(page, base, email, password)
    page.locator("input[name=code]").fill(totp_code(secret))
    page.get_by_role("button", name="Sign In").click()


def main_nav(page: Page, link: str) -> None:
    """Follow a link of the main navigation."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()


@pytest.fixture
def admin_page(page: Page, live_server, demo) -> Page:
    """The demo admin, with TOTP enrolled, signed in, on the home page."""
    sign_in_with_totp(page, live_server.url, "admin@demo.test", demo)
    expect(page).to_have_url(f"{live_server.url}/home/")
    return page


@pytest.fixture
def coordinator_page(page: Page, live_server, demo) -> Page:
    """The demo coordinator signed in, on the worklist (where a coordinator's day starts)."""
    sign_in(page, live_server.url, "coordinator@demo.test", demo)
    expect(page).to_have_url(f"{live_server.url}/worklist/")
    return page


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Tasks queued by the live server run in it, as in development: nothing reaches a real
    broker (CI sets REDIS_URL) where no worker would take them."""
    from ccm.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@contextlib.contextmanager
def queued_in_a_thread(task, job_id: str):
    """`task.delay(...)` runs the task in a background thread, as a worker would (the page
    polls its progress meanwhile); the threads are joined on the way out."""
    threads = []

    def run(*args):
        def work():
            try:
                task.apply(args=args)
            finally:
                connection.close()

        thread = threading.Thread(target=work)
        thread.start()
        threads.append(thread)
        return mock.Mock(id=job_id)

    with mock.patch.object(task, "delay", side_effect=run):
        try:
            yield
        finally:
            for thread in threads:
                thread.join(timeout=60)


@pytest.fixture
def slow_worker():
    """The queued close runs in a background thread in small, slowed batches, as a worker
    would, so the page shows it running and polls its progress."""
    real_batch = close_services._close_batch

    def slow_batch(*args, **kwargs):
        time.sleep(0.4)
        return real_batch(*args, **kwargs)

    with (
        mock.patch.object(close_services, "BATCH", 4),
        mock.patch.object(close_services, "_close_batch", slow_batch),
        queued_in_a_thread(close_tasks.month_close, "e2e-job"),
    ):
        yield


def recent_local_times(zone: zoneinfo.ZoneInfo, count: int) -> list[dt.datetime]:
    """`count` past minutes of this month in `zone`, a minute apart, oldest first, for contacts
    the page must show under this month: in a month's first minutes it waits (at most `count`
    + 1 minutes) until that many minutes of the month have passed, instead of reaching back
    into last month."""
    while True:
        now = timezone.now().astimezone(zone).replace(second=0, microsecond=0)
        month_start = now.replace(day=1, hour=0, minute=0)
        if now - month_start > dt.timedelta(minutes=count):
            return [now - dt.timedelta(minutes=count - n) for n in range(count)]
        time.sleep(5)
