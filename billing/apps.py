from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery's autodiscovery imports `<app>.tasks` only; the tasks live in billing/close/.
        from billing.close import tasks  # noqa: F401
