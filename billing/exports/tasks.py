"""Celery tasks for exports (ids only): a large month's file is built by a worker, never in
a request (issue 18). Late acks: a killed worker's export is redelivered and built again."""

from celery import shared_task

from billing.exports import services


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def export_prepare(practice_id: str, export_id: str) -> str:
    prepared = services.export_prepare(practice_id=practice_id, export_id=export_id)
    return str(prepared.status)


# --- issue 19: the practice archive (billing.exports.practice_services) ----------------------


# Longer limits than the default 15/20 minutes: the 10,000-patient demo's archive took 32 s
# (docs/data-retention.md); a practice with ten times the patients and years of audit log
# still fits in an hour.
@shared_task(
    acks_late=True, task_reject_on_worker_lost=True, soft_time_limit=60 * 60, time_limit=65 * 60
)
def practice_archive_build(practice_id: str, archive_id: str) -> str:
    from billing.exports import practice_services

    archive = practice_services.practice_archive_build(
        practice_id=practice_id, archive_id=archive_id
    )
    return str(archive.status)


@shared_task
def practice_archives_purge() -> int:
    """Daily: delete the files of expired practice archives."""
    from billing.exports import practice_services

    return practice_services.practice_archives_purge_all()
