"""API base view. Every API view subclasses `ApiView`: authentication (token or session), an
active membership, the practice scope and the role check are fixed here; subclasses can only
narrow `allowed_roles` or add permissions.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from ccm.api_auth import ALL_ROLES, ApplicationError, HasPracticeRole, Pagination

__all__ = [
    "ApiView",
    "ApplicationError",
    "EnumField",
    "Pagination",
    "error_responses",
    "page_of",
]


class ApiView(APIView):
    """Base of every API view: tenant-scoped, role-checked. Use `self.practice`/`membership`."""

    allowed_roles: tuple[str, ...] = ALL_ROLES
    # Roles for writes (anything but GET/HEAD/OPTIONS), when narrower than `allowed_roles`.
    write_roles: tuple[str, ...] | None = None

    def get_permissions(self) -> list[Any]:
        if self.write_roles is not None and self.request.method not in ("GET", "HEAD", "OPTIONS"):
            self.allowed_roles = self.write_roles
        # Subclasses may add permissions but never drop the membership/role check.
        return [HasPracticeRole(), *super().get_permissions()]

    @property
    def membership(self) -> Any:
        return self.request._request.membership  # type: ignore[attr-defined]

    @property
    def practice(self) -> Any:
        return self.request._request.practice  # type: ignore[attr-defined]


# --- Schema helpers shared by every app's API ---------------------------------------------


class EnumField(serializers.ChoiceField):
    """A ChoiceField whose OpenAPI enum is a component with a fixed name.

    drf-spectacular names enums after the field, and several `status` fields with different
    choices (patient, condition, other apps) would collide and fail `--fail-on-warn`.
    """

    def __init__(self, choices: Any, *, enum_name: str, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(choices, **kwargs)


class EnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnumField

    def get_name(self) -> str:
        return str(self.target.enum_name)

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        choices = self.target.choices
        lines = [f"* `{value}` - {label}" for value, label in choices.items()]
        return {"type": "string", "enum": list(choices), "description": "\n".join(lines)}


@extend_schema_serializer(component_name="ApiError")
class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


_ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description='Invalid input: {"field": ["message"]}; errors of no single field are '
        'under "detail". Nothing was saved.',
    ),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid or revoked token."),
    403: OpenApiResponse(ErrorSerializer, description="The caller's role may not do this."),
    404: OpenApiResponse(ErrorSerializer, description="Not found in this practice."),
    409: OpenApiResponse(ErrorSerializer, description="The object's state forbids this."),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema of the contract's error answers for these status codes (401 always)."""
    return {code: _ERRORS[code] for code in (*codes, 401)}


def page_of(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The schema of a paginated list of `item` (the contract's count/next/previous/results)."""

    @extend_schema_serializer(component_name=name)
    class PageSerializer(serializers.Serializer):
        count = serializers.IntegerField()
        next = serializers.URLField(allow_null=True)
        previous = serializers.URLField(allow_null=True)
        results = item(many=True)

    return PageSerializer
