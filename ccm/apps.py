from django.apps import AppConfig


class CcmConfig(AppConfig):
    name = "ccm"
    verbose_name = "CareMonth core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ccm import (
            checks,  # noqa: F401  (registers the system checks)
            receivers,  # noqa: F401  (connects the audit receivers)
        )
        from ccm.api import make_text_fields_strict

        make_text_fields_strict()
