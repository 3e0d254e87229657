"""Request context for the audit log, no-store caching, inactivity logout, MFA enforcement,
and the notice that a background job has to wait for the broker."""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import get_script_prefix, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from ccm import audit, jobs

LAST_ACTIVITY_KEY = "ccm_last_activity"
ACTIVITY_WRITE_SECONDS = 60
MFA_REQUIRED_MESSAGE = (
    "Your practice requires two-factor authentication for your role. "
    "Set up an authenticator app to continue."
)
TIMED_OUT_MESSAGE = "You were signed out after {minutes} minutes without activity."
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Give every request an id (X-Request-ID) and expose who/where to the audit log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        ctx = audit.RequestContext(
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
            request_id=request_id,
        )
        token = audit.set_request_context(ctx)
        try:
            response = self.get_response(request)
        finally:
            audit.reset_request_context(token)
        response["X-Request-ID"] = request_id
        return response


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer the app renders: pages, fragments, API, downloads.

    Pages, exports and API answers carry patient data, so no browser, proxy or CDN may keep a
    copy. Applied to every response that reaches Django, signed in or not (sign-out, timeouts
    and refusals included), so no view has to remember it. Static files and /favicon.ico are
    answered by WhiteNoise before this runs and stay cacheable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Replaces what a view or allauth's never_cache set: no-store alone says it all.
        response["Cache-Control"] = "no-store"
        return response


def _is_passive(request: HttpRequest) -> bool:
    # The inactivity warning's status poll must not count as activity.
    return request.path == _status_path(get_script_prefix())


@functools.lru_cache(maxsize=16)
def _status_path(script_prefix: str) -> str:
    """The status poll's path under this script prefix (reverse() once per process, not per
    request)."""
    return reverse("ccm:session-status")


class InactivityTimeoutMiddleware:
    """Sign a session out after the practice's inactivity timeout (checked on the server)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and getattr(request, "api_token", None) is None:
            timeout = timeout_seconds(request)
            now = time.time()
            last = request.session.get(LAST_ACTIVITY_KEY)
            if last is not None and now - float(last) > timeout:
                return self._sign_out(request, timeout)
            # Write the session at most once a minute: each write is a commit (the clock may
            # run up to a minute early, never late: a timeout is never extended).
            stale = last is None or now - float(last) > ACTIVITY_WRITE_SECONDS
            if stale and (not _is_passive(request) or last is None):
                request.session[LAST_ACTIVITY_KEY] = now
        response = self.get_response(request)
        session_user = getattr(request, "api_token", None) is None  # tokens have no session
        if (
            session_user
            and request.user.is_authenticated
            and LAST_ACTIVITY_KEY not in request.session
        ):
            # Signed in during this request (the session was cycled): the clock starts now.
            request.session[LAST_ACTIVITY_KEY] = time.time()
        return response

    def _sign_out(self, request: HttpRequest, timeout: int) -> HttpResponse:
        request._ccm_logout_reason = "auth.timeout"  # type: ignore[attr-defined]
        logout(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Your session ended after inactivity."}, status=401)
        messages.info(request, TIMED_OUT_MESSAGE.format(minutes=timeout // 60))
        login = reverse("account_login")
        target = request.get_full_path()
        if request.method == "GET" and url_has_allowed_host_and_scheme(target, None):
            login = f"{login}?{urlencode({'next': target})}"
        response = HttpResponseRedirect(login)
        if request.headers.get("HX-Request"):
            response["HX-Redirect"] = login
        return response


def timeout_seconds(request: HttpRequest) -> int:
    from django.conf import settings

    practice = getattr(request, "practice", None)
    minutes = (
        practice.inactivity_timeout_minutes
        if practice is not None
        else settings.DEFAULT_INACTIVITY_TIMEOUT_MINUTES
    )
    return int(minutes) * 60


_MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/session/", "/healthz", "/readyz", "/metrics")


def is_navigation(request: HttpRequest) -> bool:
    """A page the person opens in the tab: not a favicon, fetch(), htmx swap or prefetch.

    Browsers say which in their Fetch Metadata headers; a client that sends none (an older
    browser, a script) counts as navigating.
    """
    if request.headers.get("HX-Request"):
        return False
    purpose = request.headers.get("Sec-Purpose", "") + request.headers.get("Purpose", "")
    if "prefetch" in purpose:
        return False
    mode = request.headers.get("Sec-Fetch-Mode", "navigate")
    dest = request.headers.get("Sec-Fetch-Dest", "document")
    return mode == "navigate" and dest == "document"


class MfaRequiredMiddleware:
    """Admins and billers of a practice requiring MFA set it up before anything else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = getattr(request, "membership", None)
        if (
            membership is not None
            and getattr(request, "api_token", None) is None
            and membership.needs_mfa
            and not request.path.startswith(_MFA_EXEMPT_PREFIXES)
            and not user_has_mfa(request.user)
        ):
            return _mfa_required(request)
        return self.get_response(request)


def _mfa_required(request: HttpRequest) -> HttpResponse:
    setup = reverse("mfa_activate_totp")
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": MFA_REQUIRED_MESSAGE}, status=403)
    if not is_navigation(request):
        # Refused, not redirected: a followed redirect loaded the set-up page behind the
        # person's back (it made a new secret, so the one on screen went stale) and queued
        # the message for a page nobody saw. htmx moves the whole tab to the set-up page.
        response = HttpResponse(MFA_REQUIRED_MESSAGE, status=403, content_type="text/plain")
        if request.headers.get("HX-Request"):
            response["HX-Redirect"] = setup
        return response
    messages.warning(request, MFA_REQUIRED_MESSAGE)
    return HttpResponseRedirect(setup)


def user_has_mfa(user: object) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class JobsUnavailableMiddleware:
    """Say so when a job the request asked for waits for the broker (ccm.jobs): the change is
    saved and the job runs when the broker is back. Pages get a message (shown on the page the
    form redirects to), the API a `Warning` header. After MessageMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with jobs.tracking() as tracked:
            response = self.get_response(request)
        if tracked.deferred:
            if request.path.startswith("/api/"):
                response["Warning"] = f'199 caremonth "{jobs.UNAVAILABLE_MESSAGE}"'
            else:
                messages.warning(request, jobs.UNAVAILABLE_MESSAGE)
        return response
