"""Celery tasks for billing (ids only). Month close acks late: a killed worker's task is
redelivered, and the close resumes where the last committed batch ended. A whole worker
killed leaves its task unacked in Redis for the visibility timeout (an hour): the periodic
month_close_resume_stalled re-queues such a close once its heartbeat is stale."""

from celery import shared_task

from billing.close import services
from ccm.months import parse_month


# The task names predate billing/close/: queued jobs and django-celery-beat rows name them.
@shared_task(name="billing.tasks.month_close", acks_late=True, task_reject_on_worker_lost=True)
def month_close(
    practice_id: str,
    month: str,
    actor_id: str | None = None,
    confirm_changes: bool = False,
    generation: int | None = None,
) -> str:
    close = services.month_close(
        practice_id=practice_id,
        month=parse_month(month),
        actor_id=actor_id,
        confirm_changes=confirm_changes,
        generation=generation,
    )
    return str(close.pk)


@shared_task(name="billing.tasks.month_close_resume_stalled")
def month_close_resume_stalled() -> int:
    return services.month_close_resume_stalled()
