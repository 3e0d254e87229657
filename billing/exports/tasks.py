"""Celery tasks for exports (ids only): a large month's file is built by a worker, never in
a request (issue 18). Late acks: a killed worker's export is redelivered and built again."""

from celery import shared_task

from billing.exports import services


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def export_prepare(practice_id: str, export_id: str) -> str:
    prepared = services.export_prepare(practice_id=practice_id, export_id=export_id)
    return str(prepared.status)
