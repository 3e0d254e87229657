"""CareMonth's system checks (registered in ccm.apps).

Django runs them on runserver, migrate and `manage.py check [--deploy]`; gunicorn
(ccm.gunicorn_conf) and Celery worker and beat (ccm.celery) run them at start through
`refuse_to_start_on_errors`, so a production process with an unsafe setting does not start.
"""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.management.base import BaseCommand, SystemCheckError

# Backends that write each message, links and all, to the process output (the log).
PRINTING_EMAIL_BACKENDS = frozenset({"django.core.mail.backends.console.EmailBackend"})

E001_MESSAGE = (
    "EMAIL_URL is not set and DEBUG is off: invitations and password resets cannot be sent."
)
E001_HINT = (
    "Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.org:587 (README, Configuration). "
    "Printing mail to the log is for DEBUG=1 only: its links sign people in."
)
E002_MESSAGE = "EMAIL_URL prints mail to the log (console backend) and DEBUG is off."
E002_HINT = "Use a mail server (smtp+tls://...). Printed invitation and reset links sign people in."


@checks.register(checks.Tags.security)
def email_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Production never prints mail: DEBUG=0 needs EMAIL_URL, and not the console backend."""
    if settings.DEBUG:
        return []
    if not settings.EMAIL_URL:
        return [checks.Error(E001_MESSAGE, hint=E001_HINT, id="ccm.E001")]
    if settings.EMAIL_BACKEND in PRINTING_EMAIL_BACKENDS:
        return [checks.Error(E002_MESSAGE, hint=E002_HINT, id="ccm.E002")]
    return []


def refuse_to_start_on_errors() -> None:
    """Run the system checks as runserver does; exit with their report on any error."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    try:
        BaseCommand().check(display_num_errors=False)
    except SystemCheckError as exc:
        raise SystemExit(str(exc)) from None
