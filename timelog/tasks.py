"""Celery tasks for time and outreach (scheduled in ccm/celery.py). Thin, ids only."""

from celery import shared_task

from ccm import jobs
from timelog import reminders


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
