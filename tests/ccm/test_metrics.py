"""/metrics: Prometheus text behind a bearer token (404 otherwise), with real numbers after a
walk-through: request latency by view, database queries, Celery task durations and failures,
month-close progress and queue depth; several processes' samples summed (multiprocess mode)."""

import json
import os
import subprocess
import sys
import uuid

import pytest
import time_machine
from celery import shared_task
from django.db import transaction
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from billing.close.tasks import month_close
from billing.models import CloseStatus, MonthClose
from ccm.tenancy import practice_scope
from tests.billing.test_month_close import AFTER, OCTOBER, _cast
from tests.factories import PASSWORD
from tests.helpers import token_client

TOKEN = "metrics-token-for-tests-0123456789"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def scrape(client=None):
    response = (client or Client()).get("/metrics", **AUTH)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def samples(text):
    """{(sample name, frozenset of labels): value} of an exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text, name, **labels):
    wanted = set(labels.items())
    return sum(v for (n, lab), v in samples(text).items() if n == name and wanted <= lab)


@shared_task(name="tests.ccm.fails")
def fails():
    raise ValueError("boom")


# --- Protection -----------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="")
def test_without_a_configured_token_metrics_is_404():
    assert Client().get("/metrics", **AUTH).status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN]
)
def test_a_missing_or_wrong_bearer_token_gets_404(header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 404
    assert b"django_http" not in response.content


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_a_signed_in_member_without_the_token_gets_404(admin_client):
    assert admin_client.get("/metrics").status_code == 404


# --- The walk-through -----------------------------------------------------------------------


def _latency_count(text, view, method="GET"):
    return value(
        text, "django_http_requests_latency_seconds_by_view_method_count", view=view, method=method
    )


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_walk_through_shows_real_numbers(practice, physician, coordinator):
    with time_machine.travel(AFTER, tick=False):
        patients = _cast(practice, physician, coordinator, count=2)
        before = scrape()
        browser = Client()
        signed_in = browser.post(
            "/accounts/login/", {"login": coordinator.user.email, "password": PASSWORD}
        )
        assert signed_in.status_code == 302
        assert browser.get("/worklist/").status_code == 200
        page = browser.get(f"/patients/{patients[0].pk}/")
        assert page.status_code == 200
        api = token_client(coordinator).get("/api/v1/patients/")
        assert api.status_code == 200
        result = month_close.apply(
            kwargs={"practice_id": str(practice.pk), "month": OCTOBER.strftime("%Y-%m")}
        )
        assert result.successful()
        after = scrape()

    for view in ("timelog:worklist", "patients:patient-detail"):
        assert _latency_count(after, view) == _latency_count(before, view) + 1, view
    login = _latency_count(after, "account_login", "POST")
    assert login == _latency_count(before, "account_login", "POST") + 1
    api_views = {
        dict(lab)["view"]
        for (n, lab), v in samples(after).items()
        if n == "django_http_requests_latency_seconds_by_view_method_count"
        and dict(lab)["view"].startswith("api")
        and v > 0
    }
    assert api_views, "no API view counted"
    queries = "caremonth_db_queries_total"
    assert value(after, queries, alias="default") > value(before, queries, alias="default") > 0
    timed = "caremonth_db_query_duration_seconds_count"
    assert value(after, timed, alias="default") > value(before, timed, alias="default")
    task = "billing.tasks.month_close"
    assert value(after, "caremonth_celery_tasks_total", task=task, state="SUCCESS") == (
        value(before, "caremonth_celery_tasks_total", task=task, state="SUCCESS") + 1
    )
    count = "caremonth_celery_task_duration_seconds_count"
    assert value(after, count, task=task) == value(before, count, task=task) + 1
    assert value(after, "caremonth_celery_task_duration_seconds_sum", task=task) > 0
    assert value(after, "caremonth_month_closes", status="closed") == 1
    assert value(after, "caremonth_month_closes_running") == 0


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_nothing_of_a_patient_or_practice_is_in_the_metrics(practice, physician, coordinator):
    with time_machine.travel(AFTER, tick=False):
        [patient] = _cast(practice, physician, coordinator, count=1)
        client = Client()
        client.force_login(coordinator.user)
        client.get(f"/patients/{patient.pk}/?q={patient.mrn}")
        text = scrape()
    for needle in (patient.mrn, patient.last_name, str(patient.pk), str(practice.pk)):
        assert needle not in text, needle
    assert practice.name not in text


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_a_failing_task_is_counted_as_a_failure():
    # As in the worker: the failure is recorded, not raised into the caller (eager tasks in
    # tests propagate it, CELERY_TASK_EAGER_PROPAGATES, before any failure signal is sent).
    conf = fails.app.conf
    before = scrape()
    propagates, conf.task_eager_propagates = conf.task_eager_propagates, False
    try:
        result = fails.apply()
    finally:
        conf.task_eager_propagates = propagates
    after = scrape()
    assert result.failed()
    name = "tests.ccm.fails"
    assert value(after, "caremonth_celery_task_failures_total", task=name) == (
        value(before, "caremonth_celery_task_failures_total", task=name) + 1
    )
    assert value(after, "caremonth_celery_tasks_total", task=name, state="FAILURE") >= 1


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_month_close_progress_sums_the_running_closes(practice, other_practice):
    for owner, done, total in ((practice, 40, 100), (other_practice, 5, 10)):
        with practice_scope(owner):
            MonthClose.objects.for_practice(owner).create(
                practice=owner,
                month=OCTOBER,
                status=CloseStatus.RUNNING,
                patients_done=done,
                patients_total=total,
            )
    text = scrape()
    assert value(text, "caremonth_month_closes_running") == 2
    assert value(text, "caremonth_month_close_patients_done") == 45
    assert value(text, "caremonth_month_close_patients_total") == 110
    assert value(text, "caremonth_month_closes", status="running") == 2


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN, REDIS_URL="redis://127.0.0.1:6379/13")
def test_queue_depth_is_read_from_redis(settings):
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    queue = f"obs-test-{uuid.uuid4().hex}"
    client.rpush(queue, "a", "b", "c")
    try:
        with override_settings(CELERY_TASK_DEFAULT_QUEUE=queue):
            text = scrape()
    finally:
        client.delete(queue)
    assert value(text, "caremonth_redis_up") == 1
    assert value(text, "caremonth_celery_queue_length", queue=queue) == 3


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN, REDIS_URL="redis://127.0.0.1:1/0")
def test_an_unreachable_redis_does_not_fail_the_scrape():
    text = scrape()
    assert value(text, "caremonth_redis_up") == 0
    assert "caremonth_celery_queue_length" not in text
    assert "django_http_requests" in text


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_each_query_is_counted_once_and_a_failing_one_as_an_error():
    from django.db import DatabaseError, connection

    count = "caremonth_db_queries_total"
    first = scrape()
    second = scrape()  # nothing between: the scrape's own queries (the month-close gauges)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT 2")
    third = scrape()
    own = value(second, count) - value(first, count)
    assert value(third, count) - value(second, count) == own + 2
    errors = "caremonth_db_query_errors_total"
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_for_metrics")
    fourth = scrape()
    assert value(fourth, errors, error="ProgrammingError") == (
        value(third, errors, error="ProgrammingError") + 1
    )


# --- Several processes ----------------------------------------------------------------------

_CHILD = """
import django, os
django.setup()
from ccm import metrics
metrics.TASKS.labels("tests.multi", "SUCCESS").inc()
print(os.getpid())
"""

_SCRAPE = """
import django
django.setup()
from ccm import metrics
metrics.scrape_collectors.clear()  # no database here: only what the processes wrote
print(metrics.exposition()[0].decode())
"""


def _python(code, env):
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_several_processes_are_summed_in_multiprocess_mode(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DEBUG": "1"}
    env.pop("REDIS_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "ccm.settings"
    pids = {_python(_CHILD, env).strip() for _ in range(2)}
    assert len(pids) == 2
    files = sorted(p.name for p in tmp_path.iterdir())
    assert any(name.startswith("counter_") for name in files), files
    assert all("_" not in name.removesuffix(".db").split("_", 1)[1] for name in files), files
    text = _python(_SCRAPE, env)
    assert value(text, "caremonth_celery_tasks_total", task="tests.multi") == 2
    # The files name the host and the pid: one per process, never shared across containers.
    assert json.dumps(files).count("-") >= 2
