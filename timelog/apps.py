from django.apps import AppConfig


class TimelogConfig(AppConfig):
    name = "timelog"
    verbose_name = "Time and outreach"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The worklist's progress is timelog's: patients' engine-input helper (a lower app)
        # refreshes it through this registration, never by importing timelog. Imported here:
        # services need the models, loaded only once the registry is ready.
        from patients import engine_inputs
        from timelog.services import progress_refresh

        engine_inputs.register_refresher(progress_refresh)
