"""Month-close progress for /metrics (ccm/metrics.py), computed at scrape time; registered by
BillingConfig.ready. Aggregates over all practices only: no practice, patient or month label."""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from billing.models import CloseStatus, MonthClose


def month_close_metrics() -> Iterator[Metric]:
    """Closes running (and stalled), their patients done and total; two aggregate queries."""
    stale_before = timezone.now() - settings.MONTH_CLOSE_STALE_AFTER
    # Across practices on purpose: one count for the whole installation, no row leaves.
    totals = (
        MonthClose.objects.unscoped()
        .filter(status=CloseStatus.RUNNING)
        .aggregate(
            running=Count("id"),
            stalled=Count("id", filter=Q(heartbeat_at__lt=stale_before)),
            done=Sum("patients_done"),
            total=Sum("patients_total"),
        )
    )
    for name, key, text in (
        ("caremonth_month_closes_running", "running", "Month closes running now"),
        ("caremonth_month_closes_stalled", "stalled", "Running closes with a stale heartbeat"),
        ("caremonth_month_close_patients_done", "done", "Patients done in running closes"),
        ("caremonth_month_close_patients_total", "total", "Patients to do in running closes"),
    ):
        yield GaugeMetricFamily(name, text, value=totals[key] or 0)
    by_status = GaugeMetricFamily(
        "caremonth_month_closes", "Month close rows by status", labels=["status"]
    )
    # Across practices on purpose: a count per status for the installation, no row leaves.
    counts = dict(
        MonthClose.objects.unscoped()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    for status in CloseStatus.values:
        by_status.add_metric([status], counts.get(status, 0))
    yield by_status
