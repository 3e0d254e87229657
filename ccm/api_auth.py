"""API plumbing loaded by DRF's settings: Bearer tokens, the capability permission, pagination,
error shapes. (Kept apart from ccm.api, which imports DRF's views, to avoid an import cycle.)"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from ccm.roles import Capability, can
from ccm.tenancy import NO_MEMBERSHIP_MESSAGE, ROLE_FORBIDDEN_MESSAGE


class ApplicationError(Exception):
    """A state conflict a client can understand (409), e.g. editing a locked month."""

    status_code = status.HTTP_409_CONFLICT

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


# Both bases declare `message` (a str here: both set it to the one message).
class StateConflict(ApplicationError, DjangoValidationError):  # type: ignore[misc]
    """A request that is well formed but that the current state of what it acts on forbids
    (enrolling an enrolled patient, a second draft, closing a month that has not ended):
    the API answers 409 through the one mapping below; pages, which catch Django's
    ValidationError, show it as they show any other error of the form."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer cm_…`. The token was resolved by ccm.tenancy.TenantMiddleware."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("bearer "):
            return None
        token = getattr(request._request, "api_token", None)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token.")
        return token.membership.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "ccm.api_auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A CareMonth API token."}


class HasPracticeRole(BasePermission):
    """Authenticated, with an active membership holding the view's `capability` (ccm/roles.py)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        membership = getattr(request._request, "membership", None)
        if membership is None:
            self.message = NO_MEMBERSHIP_MESSAGE
            return False
        if not can(membership, getattr(view, "capability", Capability.VIEW_PRACTICE)):
            self.message = ROLE_FORBIDDEN_MESSAGE
            return False
        return True


class Pagination(PageNumberPagination):
    """`page` (from 1; past the last page is a 404) and `page_size` (1 to 200, default 50).
    A value that is not such a number is a 400, as the schema's bounds say (DRF alone would
    answer 404 for `page=0` and quietly use its default for `page_size=x`)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ()

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        _whole_number(request, self.page_query_param, PAGE_MESSAGE)
        _whole_number(request, self.page_size_query_param, PAGE_SIZE_MESSAGE, self.max_page_size)
        return super().paginate_queryset(queryset, request, view)


PAGE_MESSAGE = "Give the page as a whole number from 1."
PAGE_SIZE_MESSAGE = f"Give page_size as a whole number from 1 to {Pagination.max_page_size}."


def _whole_number(request: Request, name: str, message: str, maximum: int | None = None) -> None:
    values = request.query_params.getlist(name)
    for value in values:
        number = int(value) if value.isascii() and value.isdigit() else 0
        if number < 1 or (maximum is not None and number > maximum):
            raise exceptions.ValidationError({name: [message]})


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map service errors to the contract's shapes: 400 field errors, 403, 404, 409."""
    if isinstance(exc, ApplicationError):  # StateConflict included: 409, not 400
        return Response({"detail": exc.message, **exc.extra}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        # Field errors stay lists ({"field": ["message"]}); an error of no single field is
        # the contract's {"detail": "..."} string.
        if hasattr(exc, "error_dict"):
            detail: dict[str, Any] = dict(exc.message_dict)
            if "__all__" in detail:
                detail["detail"] = " ".join(detail.pop("__all__"))
        else:
            detail = {"detail": " ".join(exc.messages)}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)
