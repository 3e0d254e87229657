from django.apps import AppConfig


class CareplansConfig(AppConfig):
    name = "careplans"
    verbose_name = "Care plans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the chart panels and FHIR sections (the plan's, the transitions').
        from careplans import panels, transition_panels  # noqa: F401
