"""What each request's log lines carry (ccm/logging_config.py has the format).

django-structlog's RequestMiddleware logs `request_started` and `request_finished` and clears
the context after each request. Its lines would say `GET /patients/<id>/?q=<name>` and carry
the browser's user agent and IP; here, through its signals, they carry the route pattern
(`patients/<uuid:patient_id>/`: no ids, no query) and the view's name instead, and the
request id is the one ccm.middleware gave the request (X-Request-ID, in the audit log too).
`LogContextMiddleware`, after TenantMiddleware, adds the active practice and the user, and
the view once the URL is resolved. `request_started` is logged at DEBUG
(DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL): `request_finished` says all of it, once a request.
No name, email, IP or user agent is logged (settings: DJANGO_STRUCTLOG_IP_LOGGING_ENABLED).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django_structlog import signals

UNMATCHED = "<unmatched>"


def _route(request: HttpRequest) -> tuple[str, str]:
    """(view name, route pattern) of the request's path; no ids, no query string."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNMATCHED, UNMATCHED
    return match.view_name or UNMATCHED, "/" + match.route


@receiver(signals.bind_extra_request_metadata)
def _request_started(request: HttpRequest, log_kwargs: dict[str, Any], **kwargs: Any) -> None:
    request_id = getattr(request, "request_id", None)
    if request_id:
        structlog.contextvars.bind_contextvars(request_id=request_id)
    log_kwargs.pop("user_agent", None)
    # Not resolved yet (and not worth a second resolve per request): the method only.
    log_kwargs["request"] = request.method


@receiver(signals.bind_extra_request_finished_metadata)
@receiver(signals.bind_extra_request_failed_metadata)
def _request_ended(request: HttpRequest, log_kwargs: dict[str, Any], **kwargs: Any) -> None:
    view, route = _route(request)
    structlog.contextvars.bind_contextvars(view=view)  # also when no view ran (404, refusals)
    log_kwargs["request"] = f"{request.method} {route}"


class LogContextMiddleware:
    """Bind the active practice's id and the user's id (UUIDs) to the request's log lines.

    After TenantMiddleware (it resolves the practice from the session or the API token).
    For an API token the user is the token's membership's; DRF sets request.user later."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = getattr(request, "membership", None)
        user = getattr(request, "user", None)
        user_id = membership.user_id if membership is not None else None
        if user_id is None and user is not None and user.is_authenticated:
            user_id = user.pk
        structlog.contextvars.bind_contextvars(
            practice_id=str(membership.practice_id) if membership is not None else None,
            user_id=str(user_id) if user_id is not None else None,
        )
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, *args: Any) -> None:
        match = request.resolver_match
        structlog.contextvars.bind_contextvars(view=(match and match.view_name) or UNMATCHED)
