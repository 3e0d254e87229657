"""Queueing background work so that a frozen or dead broker never breaks a request.

Every enqueue point goes through `enqueue` (or `enqueue_on_commit`). It sends the task once,
within the broker's short timeouts (ccm/settings.py, CELERY_*: about 1 s when Redis is frozen,
at once when it is down). When the broker does not answer, the task is kept in the outbox
(`PendingJob`) instead of failing the request: the change that asked for the job is already
committed, and `pending_jobs_send` (every minute, ccm/celery.py) queues the outbox once the
broker is back. Tasks are idempotent (style.md §6), so a job sent twice does no harm.

A request learns that a job had to wait through `tracking()`: ccm.middleware's
JobsUnavailableMiddleware shows UNAVAILABLE_MESSAGE on the next page, and the API sends it in a
`Warning` header (the month close API also in its body).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from kombu.exceptions import ConnectionLimitExceeded, OperationalError
from redis.exceptions import RedisError

from ccm.models import PendingJob

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = (
    "Background jobs are unavailable; your change is saved and will run when they are back."
)
# What a frozen, dead or full broker raises from a publish (kombu wraps most as OperationalError).
BROKER_ERRORS = (OperationalError, ConnectionLimitExceeded, RedisError, OSError)
SEND_BATCH = 500

_waiting: ContextVar[list[str] | None] = ContextVar("ccm_jobs_waiting", default=None)


@dataclass(frozen=True)
class Enqueued:
    job_id: str  # Celery's task id; for a kept job, the id it will be sent with
    queued: bool  # False: the broker did not answer, the job waits in the outbox


@dataclass
class Tracked:
    waiting: list[str] = field(default_factory=list)  # names of tasks kept for later

    @property
    def deferred(self) -> bool:
        return bool(self.waiting)


@contextmanager
def tracking() -> Iterator[Tracked]:
    """Collect the jobs kept for later while the block runs (one request)."""
    tracked = Tracked()
    token = _waiting.set(tracked.waiting)
    try:
        yield tracked
    finally:
        _waiting.reset(token)


def enqueue(task: Any, *args: Any) -> Enqueued:
    """Queue `task(*args)` (ids only), or keep it in the outbox if the broker does not answer."""
    try:
        result = task.delay(*args)
    except BROKER_ERRORS as exc:
        job = PendingJob.objects.create(task=task.name, args=list(args))
        # No PHI: the task name and the error class only.
        logger.warning(
            "broker unavailable (%s): %s kept as %s", type(exc).__name__, task.name, job.pk
        )
        waiting = _waiting.get()
        if waiting is not None:
            waiting.append(task.name)
        return Enqueued(job_id=str(job.pk), queued=False)
    return Enqueued(job_id=str(result.id), queued=True)


def enqueue_on_commit(task: Any, *args: Any) -> None:
    """`enqueue` once the current transaction commits (style.md §6)."""
    transaction.on_commit(lambda: enqueue(task, *args))


def pending_jobs_send() -> int:
    """Queue the outbox, oldest first, under its ids; stops at the first broker error (still
    down: the rest waits for the next run). Returns how many were sent."""
    from ccm.celery import app

    sent = 0
    with transaction.atomic():
        jobs = list(PendingJob.objects.select_for_update(skip_locked=True)[:SEND_BATCH])
        for job in jobs:
            task = app.tasks.get(job.task)
            if task is None:  # renamed or removed since: it can never run
                logger.error("pending job %s names no task (%s): dropped", job.pk, job.task)
                job.delete()
                continue
            try:
                task.apply_async(args=job.args, task_id=str(job.pk))
            except BROKER_ERRORS as exc:
                logger.warning(
                    "broker still unavailable (%s): %d jobs wait",
                    type(exc).__name__,
                    len(jobs) - sent,
                )
                break
            job.delete()
            sent += 1
    return sent
