"""Celery tasks for time and outreach (scheduled in ccm/celery.py). Thin, ids only."""

from celery import shared_task

from ccm import jobs
from timelog import reminders, services


@shared_task(acks_late=True)
def send_reminders() -> int:
    """Fan out the daily outreach job: one task per practice."""
    practice_ids = reminders.practices_to_remind()
    for practice_id in practice_ids:
        jobs.enqueue(send_reminders_for_practice, practice_id)
    return len(practice_ids)


@shared_task(acks_late=True)
def send_reminders_for_practice(practice_id: str) -> int:
    return reminders.send_reminders(practice_id=practice_id).tasks_created


@shared_task(acks_late=True)
def progress_reconcile(missing_only: bool = False) -> int:
    """Fan out the worklist progress check: one task per practice."""
    practice_ids = reminders.practices_to_remind()
    for practice_id in practice_ids:
        jobs.enqueue(progress_reconcile_practice, practice_id, missing_only)
    return len(practice_ids)


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def progress_reconcile_practice(practice_id: str, missing_only: bool = False) -> int:
    outcome = services.progress_reconcile(practice_id=practice_id, missing_only=missing_only)
    return outcome.added + outcome.corrected
