"""Month close: closing a month (idempotent batches, resumable), reopening, the pre-close
check and their Celery tasks."""
