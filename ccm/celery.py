"""The Celery app. JSON only, time limits, late acks; broker settings in ccm/settings.py.

The whole periodic schedule is BEAT_SCHEDULE below (django-celery-beat loads it into its
database scheduler at start, so admins can see it; this file stays the source).
"""

import logging
import os
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    setup_logging,
    worker_init,
)

# Before Django loads django-prometheus: names this process's metric files (ccm/metrics.py).
from ccm import logging_config, metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")

app = Celery("ccm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_to_start_on_check_errors(**kwargs: Any) -> None:
    """Worker and beat run the system checks at start, before they take or send a task, as
    runserver does (ccm.E001: no EMAIL_URL in production); an error exits (SystemExit: Celery
    logs and swallows other exceptions of signal receivers)."""
    from ccm.checks import refuse_to_start_on_errors

    refuse_to_start_on_errors()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_urls(logger: logging.Logger, **kwargs: Any) -> None:
    """Celery replaces the root logger's handlers with its own: give them the same filter as
    settings.LOGGING's (no query strings, no reset keys)."""
    from ccm.log_filters import RedactUrls

    for handler in logger.handlers:
        handler.addFilter(RedactUrls())


@setup_logging.connect
def _keep_django_logging(**kwargs: Any) -> None:
    """Worker and beat log through settings.LOGGING (JSON lines, URL redaction) instead of
    Celery's own handlers: connecting this signal tells Celery not to configure logging."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


# Every task, in the worker or eager in a request: duration, state and failures for /metrics,
# its id and name on its log lines.
metrics.connect_celery_signals()
logging_config.connect_task_context()


BEAT_SCHEDULE = {
    # Every minute: queue the jobs a request kept while the broker did not answer (ccm.jobs);
    # runs once Redis is back, so a saved change's job waits at most a minute more.
    "pending-jobs-send": {
        "task": "ccm.tasks.pending_jobs_send",
        "schedule": crontab(),
    },
    # 03:17 UTC daily: delete expired sessions (signed-out and timed-out sessions pile up).
    "sessions-clear-expired": {
        "task": "ccm.tasks.sessions_clear_expired",
        "schedule": crontab(hour=3, minute=17),
    },
    # 03:37 UTC daily: forget axes failure records older than the lockout window.
    "login-failures-clean": {
        "task": "ccm.tasks.login_failures_clean",
        "schedule": crontab(hour=3, minute=37),
    },
    # 11:05 UTC daily (06:05 in New York, 03:05 in Honolulu): outreach tasks and digests, one
    # Celery task per practice; idempotent, so a re-run or a second beat changes nothing.
    "outreach-reminders": {
        "task": "timelog.tasks.send_reminders",
        "schedule": crontab(hour=11, minute=5),
    },
    # Hourly at :23: add the worklist's missing progress rows (a new month's first hours in
    # each zone, new patients); cheap when nothing is missing.
    "progress-fill": {
        "task": "timelog.tasks.progress_reconcile",
        "schedule": crontab(minute=23),
        "kwargs": {"missing_only": True},
    },
    # Hourly at :47: chain the audit events older than an hour into a new seal (ccm.audit.seal);
    # `manage.py audit_verify` then shows any sealed event added, changed or removed. First it
    # creates the audit log's monthly partitions ahead (ccm.audit.partitions_ensure).
    "audit-seal": {
        "task": "ccm.tasks.audit_seal",
        "schedule": crontab(minute=47),
    },
    # 04:43 UTC daily: check every progress row of this month and the last against the
    # engine; a correction means a write path forgot to refresh (logged as a warning).
    "progress-reconcile": {
        "task": "timelog.tasks.progress_reconcile",
        "schedule": crontab(hour=4, minute=43),
    },
    # Every 30 s: re-queue month closes whose heartbeat is older than MONTH_CLOSE_STALE_AFTER
    # (60 s; a whole worker killed leaves its task unacked in Redis for an hour). Half the
    # threshold, so a dead close is resumed 60-90 s after its last batch; cheap (running
    # closes only); expires so a backlog never piles these up.
    "month-close-resume": {
        "task": "billing.tasks.month_close_resume_stalled",
        "schedule": timedelta(seconds=30),
        "options": {"expire_seconds": 25},  # django-celery-beat's name for `expires`
    },
    # 02:13 UTC daily: back up the database and uploaded files to BACKUP_DIR (ccm/backup.py),
    # then rotate (BACKUP_KEEP_DAILY / BACKUP_KEEP_WEEKLY); RPO one day (docs/operations.md).
    "backup-create": {
        "task": "ccm.tasks.backup_create",
        "schedule": crontab(hour=2, minute=13),
    },
    # 04:23 UTC daily: delete the files of practice data archives past their 7 days (the rows
    # stay: who asked and when; docs/data-retention.md).
    "practice-archives-purge": {
        "task": "billing.exports.tasks.practice_archives_purge",
        "schedule": crontab(hour=4, minute=23),
    },
}
app.conf.beat_schedule = BEAT_SCHEDULE
