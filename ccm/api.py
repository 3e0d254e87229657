"""API base view. Every API view subclasses `ApiView`: authentication (token or session), an
active membership, the practice scope and the role check are fixed here; subclasses can only
narrow `allowed_roles` or add permissions.
"""

from __future__ import annotations

from typing import Any

from rest_framework.views import APIView

from ccm.api_auth import ALL_ROLES, ApplicationError, HasPracticeRole, Pagination

__all__ = ["ApiView", "ApplicationError", "Pagination"]


class ApiView(APIView):
    """Base of every API view: tenant-scoped, role-checked. Use `self.practice`/`membership`."""

    allowed_roles: tuple[str, ...] = ALL_ROLES

    def get_permissions(self) -> list[Any]:
        # Subclasses may add permissions but never drop the membership/role check.
        return [HasPracticeRole(), *super().get_permissions()]

    @property
    def membership(self) -> Any:
        return self.request._request.membership  # type: ignore[attr-defined]

    @property
    def practice(self) -> Any:
        return self.request._request.practice  # type: ignore[attr-defined]
