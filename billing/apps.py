from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery's autodiscovery imports `<app>.tasks` only; billing's tasks live in its parts.
        # Imported here, not at the top: they need the models, loaded once the registry is.
        from billing import panels  # noqa: F401  (registers the home and chart panels)
        from billing.close import tasks  # noqa: F401
        from billing.exports import tasks as export_tasks  # noqa: F401
        from billing.progress import tasks as progress_tasks  # noqa: F401
        from billing.progress.services import progress_refresh
        from patients import engine_inputs

        # The worklist's progress is computed by the engine: billing registers its refresh with
        # patients' engine-input helper (a lower app), which never imports billing.
        engine_inputs.register_refresher(progress_refresh)

        # Month-close progress on /metrics, read at scrape time (ccm.metrics is below billing).
        from billing.close.metrics import month_close_metrics
        from ccm.metrics import scrape_collectors

        scrape_collectors.append(month_close_metrics)
