from django.apps import AppConfig


class TimelogConfig(AppConfig):
    name = "timelog"
    verbose_name = "Time and outreach"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from timelog import (
            contact_panels,  # noqa: F401  (registers the chart's contact panel)
            summary_panels,  # noqa: F401  (registers the summaries' chart panel)
            transition_tasks,  # noqa: F401  (care transitions' follow-up)
        )
