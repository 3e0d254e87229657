"""Core periodic tasks (scheduled in ccm/celery.py). Thin: each calls one service."""

from celery import shared_task

from ccm import audit, backup, jobs, services


@shared_task(acks_late=True)
def sessions_clear_expired() -> int:
    return services.sessions_clear_expired()


@shared_task(acks_late=True)
def login_failures_clean() -> int:
    return services.login_failures_clean()


@shared_task(acks_late=True)
def audit_seal() -> int:
    # The months ahead get their partitions first (idempotent; usually nothing to do).
    audit.partitions_ensure()
    return audit.seal().events


@shared_task(ignore_result=False)
def ping(value: str) -> str:
    """Round trip used by the health check and the real-worker test."""
    return f"pong:{value}"


@shared_task(acks_late=True)
def member_invitation_send(membership_id: str) -> None:
    services.member_invitation_send(membership_id=membership_id)


@shared_task(acks_late=True)
def pending_jobs_send() -> int:
    """Queue the jobs kept while the broker was unavailable (ccm.jobs)."""
    return jobs.pending_jobs_send()


# Longer limits than the default 15/20 min: a large database's dump may take a while.
@shared_task(acks_late=True, soft_time_limit=2 * 60 * 60, time_limit=2 * 60 * 60 + 300)
def backup_create() -> str:
    """A backup under BACKUP_DIR, then the rotation (ccm.backup.backup_run); its name."""
    return backup.backup_run()
