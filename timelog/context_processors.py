from typing import Any

from django.http import HttpRequest

from timelog.services import timer_get


def running_timer(request: HttpRequest) -> dict[str, Any]:
    """The running timer shows in the header on every page (its start lives on the server)."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if membership is None or user is None or not user.is_authenticated:
        return {}
    # A view that read it with its own query (the worklist) left it on the request.
    running = getattr(request, "running_timer", _UNREAD)
    if running is _UNREAD:
        running = timer_get(membership=membership)
    return {"running_timer": running}


_UNREAD = object()
