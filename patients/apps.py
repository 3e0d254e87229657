from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from patients import (
            careteam_fhir,  # noqa: F401  (CareTeam and RelatedPerson in the bundle)
            careteam_panels,  # noqa: F401  (care team, preferences)
            medication_panels,  # noqa: F401  (the chart's medication list)
            panels,  # noqa: F401  (registers the census and coverage panels)
        )
