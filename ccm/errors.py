"""Answers for errors Django handles itself, outside any API view (an unknown URL, a crash,
a malformed request): JSON under /api/, as the API's own errors are, and the HTML pages
everywhere else. Wired as handler400/403/404/500 in ccm/urls.py."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"
# DRF's own wording for the same errors, so a client sees one message per status.
BAD_REQUEST_MESSAGE = "Malformed request."
FORBIDDEN_MESSAGE = "You do not have permission to perform this action."
NOT_FOUND_MESSAGE = "Not found."
SERVER_ERROR_MESSAGE = "A server error occurred."


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": BAD_REQUEST_MESSAGE}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": FORBIDDEN_MESSAGE}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": NOT_FOUND_MESSAGE}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": SERVER_ERROR_MESSAGE}, status=500)
    return defaults.server_error(request)
