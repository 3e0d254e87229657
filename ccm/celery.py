"""The Celery app. JSON only, time limits, late acks; broker settings in ccm/settings.py.

The whole periodic schedule is BEAT_SCHEDULE below (django-celery-beat loads it into its
database scheduler at start, so admins can see it; this file stays the source).
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")

app = Celery("ccm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

BEAT_SCHEDULE = {
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
    # `manage.py audit_verify` then shows any sealed event added, changed or removed.
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
}
app.conf.beat_schedule = BEAT_SCHEDULE
