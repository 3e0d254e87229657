import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from ccm import services, tasks
from ccm.celery import BEAT_SCHEDULE, app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_sessions_clear_expired_deletes_only_expired_sessions(db):
    alive = SessionStore()
    alive.create()
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert services.sessions_clear_expired() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [alive.session_key]


def test_celery_is_configured_for_safe_month_end_work():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.accept_content == ["json"]
    assert app.conf.broker_connection_timeout <= 5
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit


@pytest.mark.celery_worker
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real broker)")
def test_a_real_worker_runs_a_task_end_to_end():
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ccm.settings"}
    queue = f"test-{os.getpid()}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ccm", "worker", "-Q", queue,
         "--pool=solo", "--loglevel=WARNING", "--without-heartbeat", "--without-gossip"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        started = time.monotonic()
        result = tasks.ping.apply_async(args=["caremonth"], queue=queue)
        assert result.get(timeout=60) == "pong:caremonth"
        assert time.monotonic() - started < 60
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
