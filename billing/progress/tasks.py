"""Celery tasks of the worklist's progress (scheduled in ccm/celery.py). Thin, ids only."""

from celery import shared_task

from billing.progress import services
from ccm import jobs
from timelog import reminders


# Task names kept from when these lived in timelog.tasks: beat rows and queued jobs name them.
@shared_task(name="timelog.tasks.progress_reconcile", acks_late=True)
def progress_reconcile(missing_only: bool = False) -> int:
    """Fan out the worklist progress check: one task per practice."""
    practice_ids = reminders.practices_to_remind()
    for practice_id in practice_ids:
        jobs.enqueue(progress_reconcile_practice, practice_id, missing_only)
    return len(practice_ids)


@shared_task(
    name="timelog.tasks.progress_reconcile_practice",
    acks_late=True,
    task_reject_on_worker_lost=True,
)
def progress_reconcile_practice(practice_id: str, missing_only: bool = False) -> int:
    outcome = services.progress_reconcile(practice_id=practice_id, missing_only=missing_only)
    return outcome.added + outcome.corrected
