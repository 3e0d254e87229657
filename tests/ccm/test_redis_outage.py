"""A frozen (SIGSTOP) or dead Redis: sign-in and pages that queue nothing do not wait for it;
requests that queue work answer within seconds with JOBS_DOWN_MESSAGE, their change is saved,
and the job runs once Redis is back (ccm.jobs keeps it in the outbox until then).

Each test starts its own redis-server on a free port and configures the app for it exactly as
production is (ccm/settings.py evaluated with REDIS_URL pointing there): cache and Celery."""

from __future__ import annotations

import os
import runpy
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import time_machine
from django.core import mail
from django.test import Client, override_settings
from kombu import Connection
from kombu import pools as kombu_pools
from rest_framework.test import APIClient

from billing.models import CloseStatus, FeeSchedule, MonthClose
from ccm import jobs
from ccm.celery import app
from ccm.models import Membership, PendingJob
from tests.billing.test_month_close import AFTER, _cast
from tests.factories import PASSWORD

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")

# A functional bound, not a timing: without the settings (one publish attempt, 1 s socket
# timeout) a frozen Redis blocks the request for good (no socket timeout). Generous, because a
# loaded 2-core machine took 3.3 s for a 1 s wait plus the request (a 3 s bound was flaky).
BOUND = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    url: str

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.thaw()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def _start_redis(tmp_path: Path) -> RedisServer:
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = RedisServer(process, f"redis://127.0.0.1:{port}/0")
    client = redis.Redis.from_url(server.url, socket_timeout=1)
    for _ in range(100):
        try:
            if client.ping():
                return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("redis-server did not start")


def _settings_for(url: str) -> dict[str, Any]:
    """ccm/settings.py evaluated as production would with REDIS_URL=url."""
    before = os.environ.get("REDIS_URL")
    os.environ["REDIS_URL"] = url
    try:
        import ccm.settings

        return runpy.run_path(ccm.settings.__file__)
    finally:
        if before is None:
            del os.environ["REDIS_URL"]
        else:
            os.environ["REDIS_URL"] = before


def _reset_celery_connections() -> None:
    # kombu keeps one connection pool and one producer pool per broker URL in process-global
    # registries (app.pool is kombu's pool, not the app's). Closing app._pool alone left the
    # suite's own broker pool closed *and registered*: a later test on the same xdist worker
    # that publishes to REDIS_URL failed with "Acquire on closed pool". Close and forget all.
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def outage_redis(tmp_path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, with cache and Celery pointed at it. Always thawed
    and killed at the end, and the Celery app put back as it was."""
    with _outage_redis(tmp_path) as server:
        yield server


@contextmanager
def _outage_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = _start_redis(tmp_path)
    values = _settings_for(server.url)
    celery = {key[7:].lower(): value for key, value in values.items() if key.startswith("CELERY_")}
    saved = {key: app.conf[key] for key in celery}
    try:
        with override_settings(CACHES=values["CACHES"]):
            app.conf.update(celery)
            _reset_celery_connections()
            yield server
    finally:
        server.kill()
        app.conf.update(saved)
        _reset_celery_connections()


def _warm(client: Any, url: str) -> None:
    """Load the code of a page before Redis freezes: a first request imports modules
    (allauth's forms, the views), which takes seconds on a busy machine and is not Redis."""
    assert client.get(url).status_code == 200


def _timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def _queued(url: str) -> list[tuple[str, list[Any]]]:
    """Every task message waiting in Redis (task name, args), consumed."""
    found = []
    with Connection(url) as conn:
        queue = conn.SimpleQueue("celery")
        try:
            while True:
                try:
                    message = queue.get(timeout=1)
                except queue.Empty:
                    break
                found.append((message.headers["task"], message.payload[0]))
                message.ack()
        finally:
            queue.close()
    return found


def _run(tasks_sent: list[tuple[str, list[Any]]]) -> None:
    """What a worker does with the messages: run each task."""
    for name, args in tasks_sent:
        app.tasks[name].apply(args=args).get()


# --- Pages and sign-in that queue nothing ---------------------------------------------------


def test_sign_in_and_the_page_after_do_not_wait_for_a_frozen_redis(
    client, coordinator, outage_redis
):
    warm = Client()
    warm.post("/accounts/login/", {"login": coordinator.user.email, "password": PASSWORD})
    _warm(warm, "/home/")
    outage_redis.freeze()
    login, took = _timed(
        lambda: client.post(
            "/accounts/login/", {"login": coordinator.user.email, "password": PASSWORD}
        )
    )
    assert login.status_code == 302, took
    assert took < BOUND
    page, took = _timed(lambda: client.get(login["Location"], follow=True))
    assert page.status_code == 200
    assert took < BOUND


def test_a_page_that_queues_nothing_does_not_wait_for_a_frozen_redis(
    coordinator_client, outage_redis
):
    _warm(coordinator_client, "/worklist/")
    outage_redis.freeze()
    page, took = _timed(lambda: coordinator_client.get("/home/"))
    assert page.status_code == 200
    assert took < BOUND


# --- Requests that queue work ---------------------------------------------------------------


def _send_when_back(server: RedisServer) -> list[tuple[str, list[Any]]]:
    """While frozen the outbox stays; once thawed it is sent and the messages reach Redis."""
    kept = PendingJob.objects.count()
    assert kept
    count, took = _timed(jobs.pending_jobs_send)
    assert count == 0
    assert took < BOUND
    assert PendingJob.objects.count() == kept
    server.thaw()
    assert jobs.pending_jobs_send() == kept
    assert not PendingJob.objects.exists()
    return _queued(server.url)


def _invite_while_redis_is_out(admin_client):
    """An admin invites a nurse: answered within BOUND, the page says the e-mail will follow."""
    page, took = _timed(
        lambda: admin_client.post(
            "/practice/members/", {"email": "new.nurse@sunrise.test", "role": "coordinator"}
        )
    )
    assert page.status_code == 302
    assert took < BOUND
    assert jobs.UNAVAILABLE_MESSAGE in admin_client.get(page["Location"]).content.decode()


def test_an_invitation_with_redis_frozen_is_saved_and_sent_when_it_is_back(
    transactional_db, admin_client, practice, outage_redis
):
    _warm(admin_client, "/practice/members/")
    outage_redis.freeze()
    _invite_while_redis_is_out(admin_client)
    membership = Membership.objects.unscoped().get(user__email="new.nurse@sunrise.test")
    assert not mail.outbox

    sent = _send_when_back(outage_redis)
    assert sent == [("ccm.tasks.member_invitation_send", [str(membership.pk)])]
    _run(sent)
    assert [m.to for m in mail.outbox] == [["new.nurse@sunrise.test"]]


def test_the_close_api_with_redis_frozen_answers_202_with_the_message_and_closes_later(
    practice, biller, physician, coordinator, outage_redis
):
    _cast(practice, physician, coordinator)
    api = APIClient()
    api.force_login(biller.user)
    _warm(api, "/api/v1/billing/months/2026-10/")
    outage_redis.freeze()
    with time_machine.travel(AFTER, tick=False):
        answer, took = _timed(lambda: api.post("/api/v1/billing/months/2026-10/close/"))
        assert answer.status_code == 202
        assert took < BOUND
        assert answer.json()["message"] == jobs.UNAVAILABLE_MESSAGE
        assert jobs.UNAVAILABLE_MESSAGE in answer["Warning"]
        assert answer.json()["month"]["status"] == CloseStatus.RUNNING
        assert answer.json()["job"] == str(PendingJob.objects.get().pk)

        sent = _send_when_back(outage_redis)
        assert [name for name, _args in sent] == ["billing.tasks.month_close"]
        _run(sent)
    assert MonthClose.objects.unscoped().get().status == CloseStatus.CLOSED


def test_the_close_page_with_redis_frozen_says_so_and_closes_later(
    practice, biller_client, physician, coordinator, outage_redis
):
    _cast(practice, physician, coordinator)
    with time_machine.travel(AFTER, tick=False):
        _warm(biller_client, "/billing/months/2026-10/")
        outage_redis.freeze()
        page, took = _timed(
            lambda: biller_client.post("/billing/months/2026-10/close/", {"confirm": "yes"})
        )
        assert page.status_code == 302
        assert took < BOUND
        shown = biller_client.get(page["Location"]).content.decode()
        assert jobs.UNAVAILABLE_MESSAGE in shown
        assert MonthClose.objects.unscoped().get().status == CloseStatus.RUNNING
        _run(_send_when_back(outage_redis))
    assert MonthClose.objects.unscoped().get().status == CloseStatus.CLOSED


def test_the_fee_schedule_api_with_redis_frozen_saves_and_says_so_in_a_warning_header(
    transactional_db, admin, outage_redis
):
    api = APIClient()
    api.force_login(admin.user)
    _warm(api, "/api/v1/billing/fee-schedule/")
    outage_redis.freeze()
    answer, took = _timed(
        lambda: api.put("/api/v1/billing/fee-schedule/", {"99490": "70.00"}, format="json")
    )
    assert answer.status_code == 200
    assert took < BOUND
    assert jobs.UNAVAILABLE_MESSAGE in answer["Warning"]
    assert FeeSchedule.objects.for_practice(admin.practice).get().amount == Decimal("70.00")
    sent = _send_when_back(outage_redis)
    assert sent == [("timelog.tasks.progress_reconcile_practice", [str(admin.practice.pk)])]
    _run(sent)


# --- A dead Redis ---------------------------------------------------------------------------


def test_with_redis_dead_sign_in_works_and_work_is_kept_at_once(
    transactional_db, client, admin_client, coordinator, outage_redis
):
    _warm(client, "/accounts/login/")
    _warm(admin_client, "/practice/members/")
    outage_redis.kill()
    login, took = _timed(
        lambda: client.post(
            "/accounts/login/", {"login": coordinator.user.email, "password": PASSWORD}
        )
    )
    assert login.status_code == 302
    assert took < BOUND
    _invite_while_redis_is_out(admin_client)
    assert Membership.objects.unscoped().filter(user__email="new.nurse@sunrise.test").exists()
    assert PendingJob.objects.get().task == "ccm.tasks.member_invitation_send"


# --- The suite's own broker afterwards ------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real broker)")
def test_the_suites_broker_still_takes_messages_after_an_outage_test(tmp_path):
    queue = f"test-after-outage-{os.getpid()}"
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        app.send_task("ccm.tasks.ping", args=["before"], queue=queue)  # the suite's pools exist
        with _outage_redis(tmp_path):
            pass
        app.send_task("ccm.tasks.ping", args=["after"], queue=queue)  # was: closed pool
        assert client.llen(queue) == 2
    finally:
        client.delete(queue, f"_kombu.binding.{queue}")
        client.close()
