"""Prometheus metrics (docs/observability.md): Celery task counters, scrape-time collectors,
the readiness probes, and the exposition behind /metrics.

Request latency by view comes from django-prometheus's middleware (settings.py). Database
queries are counted and timed here, by an execute wrapper every new connection gets
(`_count_queries`): django-prometheus's own database backend would change the
ENGINE, which the project keeps as Django's PostgreSQL backend (tests/ccm/test_devdb.py).

With several processes (gunicorn workers, Celery's pool) every process writes its samples
to files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode) and a scrape of
any web worker sums them all. The directory is shared by web and worker containers, so
each file is named by host AND pid: two containers' pid 7 would otherwise write into one
file. That naming is set when this module is imported, which `ccm/__init__` (through
ccm.celery) does before Django loads django-prometheus and creates its metrics.

Nothing here carries a patient, a name or a practice: labels are task, view and
database alias names only.
"""

from __future__ import annotations

import hmac
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric

logger = structlog.get_logger(__name__)


def _process_identifier() -> str:
    """`<host>-<pid>`: unique across containers sharing the directory (no `_`: the file
    name's separator)."""
    host = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}"


MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROC_DIR:
    values.ValueClass = values.MultiProcessValue(_process_identifier)

# A month close runs for minutes; a reminder or a ping in milliseconds.
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200)

TASK_DURATION = Histogram(
    "caremonth_celery_task_duration_seconds",
    "Run time of Celery tasks, by task name",
    ["task"],
    buckets=TASK_BUCKETS,
)
TASKS = Counter(
    "caremonth_celery_tasks",
    "Celery tasks run, by task name and final state (SUCCESS, FAILURE, RETRY, ...)",
    ["task", "state"],
)
TASK_FAILURES = Counter(
    "caremonth_celery_task_failures",
    "Celery tasks that raised, by task name",
    ["task"],
)

# Seconds: most queries take a millisecond; the worklist's and a close batch's take seconds.
QUERY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

QUERIES = Counter(
    "caremonth_db_queries",
    "SQL statements executed through Django (an executemany counts once), by database alias",
    ["alias"],
)
QUERY_DURATION = Histogram(
    "caremonth_db_query_duration_seconds",
    "Duration of SQL statements executed through Django, by database alias",
    ["alias"],
    buckets=QUERY_BUCKETS,
)
QUERY_ERRORS = Counter(
    "caremonth_db_query_errors",
    "SQL statements that raised, by database alias and exception class",
    ["alias", "error"],
)

# Scrape-time collectors registered by apps above ccm (billing's month close, ccm/hooks style):
# each returns metric families computed when Prometheus asks.
scrape_collectors: list[Callable[[], Iterable[Metric]]] = []

PROBE_TIMEOUT = 2.0  # seconds, for the database and Redis probes and the queue depth
_probe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ccm-probe")


def process_dead(pid: int) -> None:
    """Drop a dead process's live gauges (gunicorn's child_exit); its counters stay summed."""
    if MULTIPROC_DIR:
        host_pid = _process_identifier().rsplit("-", 1)[0] + f"-{pid}"
        multiprocess.mark_process_dead(host_pid)


# --- Database queries -----------------------------------------------------------------------


class _QueryCounter:
    """A Django execute wrapper (one per connection object): counts, times and classifies
    every statement run through Django's cursors, the ORM's and `connection.cursor()`'s."""

    def __init__(self, alias: str) -> None:
        self.count = QUERIES.labels(alias)
        self.duration = QUERY_DURATION.labels(alias)
        self.alias = alias

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.count.inc()
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            QUERY_ERRORS.labels(self.alias, type(exc).__name__).inc()
            raise
        finally:
            self.duration.observe(time.perf_counter() - started)


@receiver(connection_created, dispatch_uid="ccm.metrics.queries")
def _count_queries(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Every connection counts its queries: connected when this module is imported, which
    every process does (ccm/__init__ through ccm.celery) before its first connection."""
    # connection_created fires on every (re)connect of the same wrapper object: add it once.
    # First in the list: execute_wrapper() context managers append and pop after it.
    if not any(isinstance(w, _QueryCounter) for w in connection.execute_wrappers):
        connection.execute_wrappers.insert(0, _QueryCounter(connection.alias))


# --- Celery signals -------------------------------------------------------------------------


def task_started(task: Any, **kwargs: Any) -> None:
    task.request._ccm_started_at = time.monotonic()


def task_finished(task: Any, state: str | None = None, **kwargs: Any) -> None:
    started = getattr(task.request, "_ccm_started_at", None)
    if started is not None:
        TASK_DURATION.labels(task.name).observe(time.monotonic() - started)
    TASKS.labels(task.name, state or "UNKNOWN").inc()


def task_failed(sender: Any = None, **kwargs: Any) -> None:
    TASK_FAILURES.labels(getattr(sender, "name", "unknown")).inc()


def connect_celery_signals() -> None:
    """Count and time every task in this process (worker pool children, or eager in web)."""
    from celery.signals import task_failure, task_postrun, task_prerun

    task_prerun.connect(task_started, weak=False, dispatch_uid="ccm.metrics.prerun")
    task_postrun.connect(task_finished, weak=False, dispatch_uid="ccm.metrics.postrun")
    task_failure.connect(task_failed, weak=False, dispatch_uid="ccm.metrics.failure")


# --- Probes (readiness and queue depth) -----------------------------------------------------


def _in_thread(check: Callable[[], Any]) -> Any:
    """Run `check` with a deadline: a frozen server must not hold the request or the scrape
    (a socket timeout does not cover every wait of a database driver)."""
    return _probe_pool.submit(check).result(timeout=PROBE_TIMEOUT)


def _database_select_one() -> None:
    from django.db import connections

    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # The probe's thread outlives the request: never leave its connection open.
        connection.close()


def database_ready() -> bool:
    """PostgreSQL answers SELECT 1 within PROBE_TIMEOUT (opens and closes a connection)."""
    try:
        _in_thread(_database_select_one)
    except Exception:  # the deadline (TimeoutError) or any database error
        return False
    return True


def _redis_client() -> Any:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=PROBE_TIMEOUT / 2,
        socket_connect_timeout=PROBE_TIMEOUT / 2,
    )


def redis_ready() -> bool | None:
    """Redis answers PING within PROBE_TIMEOUT; None when no REDIS_URL is configured."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return None
    client = _redis_client()
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def queue_names() -> list[str]:
    from django.conf import settings

    return [settings.CELERY_TASK_DEFAULT_QUEUE]


def _queue_lengths() -> dict[str, int]:
    # kombu keeps a queue's prioritised messages in lists named `<queue>\x06\x16<priority>`.
    client = _redis_client()
    try:
        lengths = {}
        for name in queue_names():
            keys = [name] + [f"{name}\x06\x16{p}" for p in (3, 6, 9)]
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
            lengths[name] = sum(int(n) for n in pipe.execute())
        return lengths
    finally:
        client.close()


def queue_metrics() -> Iterator[Metric]:
    """Celery queue depth (LLEN in Redis) and whether Redis answered, at scrape time."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    up = GaugeMetricFamily("caremonth_redis_up", "Redis answered the scrape's queue lengths")
    try:
        lengths = _queue_lengths()
    except Exception:
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    depth = GaugeMetricFamily(
        "caremonth_celery_queue_length", "Messages waiting in a Celery queue", labels=["queue"]
    )
    for name, length in lengths.items():
        depth.add_metric([name], length)
    yield depth


class _ScrapeCollector:
    """The collectors computed at scrape time (queue depth, registered app collectors). One
    that fails (the database is down) is left out and logged; the scrape still answers."""

    def collect(self) -> Iterator[Metric]:
        yield from queue_metrics()
        for collector in scrape_collectors:
            try:
                families = list(collector())
            except Exception:
                logger.warning("metrics_collector_failed", collector=collector.__name__)
                continue
            yield from families


# --- Exposition -----------------------------------------------------------------------------


def token_matches(header: str, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, value = header.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def exposition() -> tuple[bytes, str]:
    """The text format of every metric: all processes' (multiprocess mode) or this one's,
    then the scrape-time collectors."""
    if MULTIPROC_DIR:
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(_ScrapeCollector())
    return generate_latest(base) + generate_latest(scraped), CONTENT_TYPE_LATEST
