"""API base view. Every API view subclasses `ApiView`: authentication (token or session), an
active membership, the practice scope and the role check are fixed here; subclasses can only
narrow `capability` (ccm/roles.py) or add permissions.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.http import Http404, QueryDict
from django.utils.http import parse_etags
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ccm import audit
from ccm.api_auth import ApplicationError, HasPracticeRole, Pagination
from ccm.months import MONTH_PATTERN, parse_month
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404, lock_for_practice_or_404
from ccm.versioning import etag_of

__all__ = [
    "BLANK_PATTERN",
    "MONTH_PATH",
    "NON_BLANK_PATTERN",
    "PAGE_PARAMETERS",
    "REFERENCE_MESSAGE",
    "ApiView",
    "ApplicationError",
    "EnumField",
    "MemberSerializer",
    "MonthField",
    "Pagination",
    "PreconditionFailed",
    "RowLock",
    "error_responses",
    "page_of",
    "paginate",
    "read_answer",
    "read_page",
    "reference_or_404",
    "validated",
]

M = TypeVar("M", bound=models.Model)


PRECONDITION_MESSAGE = (
    "This record was changed since you read it (its ETag differs from If-Match). "
    "Read it again and apply your change to the new version."
)
CONDITIONAL_METHODS = ("PATCH", "PUT", "DELETE")


class PreconditionFailed(exceptions.APIException):
    """412: the If-Match of a write names a version that is no longer current."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = PRECONDITION_MESSAGE
    default_code = "precondition_failed"


def _of_practice(model: type[models.Model], practice: Any) -> Any:
    """The practice's rows of a tenant table; for Practice itself, its own row."""
    manager: Any = model._default_manager
    if hasattr(manager, "for_practice"):
        return manager.for_practice(practice)
    return manager.filter(pk=practice.pk)


# The rows a write locks before its object: (model, {field: the object's attribute}), or a
# callable (practice, object) locking them through their app's helper.
FirstLock = tuple[type[models.Model], dict[str, str]] | Callable[[Any, Any], object]


class RowLock:
    """The rows a view's writes lock, in the services' order: the object by the URL keyword
    holding its id (no keyword: the practice row, which settings writes lock), after the
    row(s) the service locks before it: `first` = (model, {its field: the object's attribute}),
    or a callable (practice, object) that locks them through their app's helper (a patient's
    rows: patients.engine_inputs). The same order as the services: no deadlock."""

    def __init__(
        self,
        model: type[models.Model],
        url_kwarg: str | None = None,
        *,
        first: FirstLock | None = None,
    ) -> None:
        self.model, self.url_kwarg, self.first = model, url_kwarg, first

    def __call__(self, view: ApiView, kwargs: dict[str, Any]) -> None:
        if self.url_kwarg is None:
            list(_of_practice(self.model, view.practice).select_for_update().values("pk"))
            return
        object_id = kwargs[self.url_kwarg]
        if self.first is not None:
            obj = get_for_practice_or_404(self.model, view.practice, object_id)
            _lock_first(self.first, view.practice, obj)
        lock_for_practice_or_404(
            _of_practice(self.model, view.practice).only("pk"), view.practice, object_id
        )


def _lock_first(first: FirstLock, practice: Any, obj: models.Model) -> None:
    if callable(first):
        first(practice, obj)
        return
    parent, fields = first
    lookup = {field: getattr(obj, attr) for field, attr in fields.items()}
    list(_of_practice(parent, practice).select_for_update().filter(**lookup).values("pk"))


_ERRORS_SCHEMA = {
    400: {
        "description": 'Invalid input: {"field": ["message"]}. Nothing was saved.',
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_ETAG_HEADER = {
    "ETag": {
        "description": "The version of this representation: send it as If-Match on a write.",
        "schema": {"type": "string"},
    }
}
_IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "Optional: an ETag from GET. The write happens only if the object is still "
    "at that version (else 412 and nothing is saved); `*` matches any version.",
    "schema": {"type": "string"},
}


# Text DRF's CharField refuses as blank (it strips what Python's str.strip() strips, which
# includes the separators \x1c-\x1f that regex engines' \s may not) and its opposite.
NON_BLANK_PATTERN = r"[^\s\x1c-\x1f]"
BLANK_PATTERN = r"^[\s\x1c-\x1f]*$"
# What every text field takes: no NUL (DRF's ProhibitNullCharactersValidator); and, when it may
# not be blank, at least one character that is not a space.
_TEXT_PATTERN = r"^[^\x00]+$"  # a blank one is drf-spectacular's second oneOf branch
_NON_BLANK_TEXT_PATTERN = r"^[^\x00]*[^\s\x1c-\x1f\x00][^\x00]*$"
TEXT_TYPE_MESSAGE = "Give this as a JSON string."


def _text_only(field: serializers.CharField, data: Any) -> Any:
    if not isinstance(data, str):
        field.fail("not_text")
    return _lenient_text(field, data)


_lenient_text = serializers.CharField.to_internal_value


def make_text_fields_strict() -> None:
    """API text fields take JSON strings only, as the schema's `type: string` says: DRF's
    CharField would read the number 0 as the text "0". Called once, from CcmConfig.ready."""
    serializers.CharField.default_error_messages["not_text"] = TEXT_TYPE_MESSAGE
    serializers.CharField.to_internal_value = _text_only  # type: ignore[method-assign,assignment]


def _decimal_pattern(field: serializers.DecimalField) -> str | None:
    """The text a DecimalField accepts: at least one digit, the field's digits and places,
    a minus sign only when the field allows negatives."""
    if field.max_digits is None or field.decimal_places is None:
        return None
    whole, places = field.max_digits - field.decimal_places, field.decimal_places
    sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
    fraction = rf"(?:\.\d{{0,{places}}})?" if places else ""
    dot_only = rf"|\.\d{{1,{places}}}" if places else ""
    return rf"^{sign}(?:\d{{1,{whole}}}{fraction}{dot_only})$"


class ApiSchema(AutoSchema):
    """Documents the versioning of `ApiView`: ETag on answers, If-Match and 412 on writes;
    and the input rules of the serializers that JSON Schema can state."""

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction != "request" or not isinstance(schema, dict):
            return schema
        if (
            isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
            and not any(isinstance(v, RegexValidator) for v in field.validators)
        ):
            # No NUL; and a text of only spaces is refused as blank: the schema says so.
            blank_refused = not field.allow_blank and field.trim_whitespace
            schema["pattern"] = _NON_BLANK_TEXT_PATTERN if blank_refused else _TEXT_PATTERN
        if isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
            pattern = _decimal_pattern(field)
            if pattern is not None:
                schema["pattern"] = pattern
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> Any:
        # A body that must name at least one of some fields (`require_any` on the serializer,
        # checked by its view) says so: anyOf, one `required` each.
        schema = super()._map_basic_serializer(serializer, direction)
        fields = getattr(serializer, "require_any", ())
        if direction == "request" and fields:
            schema["anyOf"] = [{"required": [name]} for name in fields]
        # Rules between fields that the view checks and JSON Schema can state (`body_rules`:
        # schemas the body must also match, e.g. a custom task needs a title).
        rules = getattr(serializer, "body_rules", ())
        if direction == "request" and rules:
            schema["allOf"] = list(rules)
        # A body whose view refuses keys it does not know (`refuses_unknown_fields`, e.g. the
        # billing settings: a misspelt setting must not be dropped silently) says so.
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema["additionalProperties"] = False
        return schema

    def _get_request_for_media_type(self, serializer: Any, direction: Any = "request") -> Any:
        # drf-spectacular documents every PATCH body as partial (nothing required), as DRF's
        # generic views validate it. A view that validates its PATCH body whole (no
        # partial=True: a care plan's content, a claim's status) marks the serializer
        # `validated_whole = True`, and its schema then requires what the view requires.
        if self.method == "PATCH" and getattr(serializer, "validated_whole", False):
            self.method = "PUT"
            try:
                return super()._get_request_for_media_type(serializer, direction)
            finally:
                self.method = "PATCH"
        schema, required = super()._get_request_for_media_type(serializer, direction)
        # A body that must name one of some fields cannot be left out either.
        return schema, required or bool(getattr(serializer, "require_any", ()))

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return operation
        if any(p["name"] == "page" for p in operation.get("parameters", [])):
            # Pagination: a bad page or page_size is a 400, a page past the last one a 404.
            error = self.resolve_serializer(ErrorSerializer, "response").ref
            operation["responses"].setdefault("400", _ERRORS_SCHEMA[400])
            operation["responses"]["404"] = {
                "description": "No such page (past the last one), or not found in this practice.",
                "content": {"application/json": {"schema": error}},
            }
        if getattr(self.view, "version_lock", None) is None:
            return operation
        ok = operation["responses"].get("200")
        if ok is not None:
            ok.setdefault("headers", {}).update(_ETAG_HEADER)
        if self.method in CONDITIONAL_METHODS:
            operation.setdefault("parameters", []).append(_IF_MATCH)
            error = self.resolve_serializer(ErrorSerializer, "response").ref
            operation["responses"]["412"] = {
                "description": "If-Match names an older version: read it again. Nothing saved.",
                "content": {"application/json": {"schema": error}},
            }
        return operation


class ApiView(APIView):
    """Base of every API view: tenant-scoped, role-checked. Use `self.practice`/`membership`."""

    # Versioned views (`version_lock` set; their GET shows the object their PATCH/PUT/DELETE
    # change) send `ETag` on GET and on a write's answer, and honour `If-Match` on writes:
    # 412 when it names an older version. If-Match is optional: without it a write is
    # unconditional, as before (clients that never read first keep working).

    capability: Capability = Capability.VIEW_PRACTICE
    # The capability for writes (anything but GET/HEAD/OPTIONS), when narrower than `capability`.
    write_capability: Capability | None = None
    version_lock: Callable[[ApiView, dict[str, Any]], None] | None = None
    schema = ApiSchema()

    def get_permissions(self) -> list[Any]:
        writing = self.request.method not in ("GET", "HEAD", "OPTIONS")
        if self.write_capability is not None and writing:
            self.capability = self.write_capability
        # Subclasses may add permissions but never drop the membership/role check.
        return [HasPracticeRole(), *super().get_permissions()]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        method = (request.method or "").lower()
        lock = self.version_lock
        conditional = "HTTP_IF_MATCH" in request.META and method.upper() in CONDITIONAL_METHODS
        if lock is not None and conditional and hasattr(self, method):
            # DRF looks the handler up after initial(): run this one conditionally.
            setattr(self, method, self._conditional(getattr(self, method), lock))

    def _conditional(
        self, handler: Callable[..., Response], lock: Callable[[ApiView, dict[str, Any]], None]
    ) -> Callable[..., Response]:
        @functools.wraps(handler)
        def run(request: Request, *args: Any, **kwargs: Any) -> Response:
            with transaction.atomic():
                # The compare happens under the row lock the write takes, held to commit:
                # two clients with the same If-Match cannot both pass.
                lock(self, kwargs)
                self._check_if_match(request, *args, **kwargs)
                return handler(request, *args, **kwargs)

        return run

    def _check_if_match(self, request: Request, *args: Any, **kwargs: Any) -> None:
        wanted = parse_etags(request.META["HTTP_IF_MATCH"])
        with transaction.atomic():
            # The current version is the ETag GET would send now. The read is part of the
            # check, not a read by the user: its audit row is rolled back with the savepoint
            # (the row lock, taken before it, stays).
            current = self.get(request, *args, **kwargs)  # type: ignore[attr-defined]
            transaction.set_rollback(True)
        if "*" not in wanted and etag_of(current.data) not in wanted:
            raise PreconditionFailed

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            self.version_lock is not None
            and request.method in ("GET", "HEAD", "PATCH", "PUT")
            and response.status_code == status.HTTP_200_OK
            and isinstance(getattr(response, "data", None), dict)
        ):
            response["ETag"] = etag_of(response.data)
        return response

    @property
    def membership(self) -> Any:
        return self.request._request.membership  # type: ignore[attr-defined]

    @property
    def practice(self) -> Any:
        return self.request._request.practice  # type: ignore[attr-defined]


# --- Input and pages ---------------------------------------------------------------------------


def validated(
    serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any
) -> dict[str, Any]:
    """The input a serializer accepts (a body or query parameters), or DRF's 400 with the
    field errors (nothing is saved). Query parameters are read as plain values: DRF would
    treat `?month=` as absent (HTML form semantics), where the schema calls it invalid.
    Pass `request.data` as it is: DRF gives `{}` for a request without a body, and a body of
    `null` or `""` must be a 400, not read as "no fields" (`request.data or {}` did that)."""
    if isinstance(data, QueryDict):
        data = data.dict()
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def requested_page(view: ApiView) -> tuple[str | None, int]:
    """The page number (as asked, unchecked) and the page size the request asks for, for a
    list that reads its count and a page's ids in one statement before `paginate` cuts it
    (timelog.selectors.PageIds)."""
    size = Pagination().get_page_size(view.request) or Pagination.page_size
    return view.request.query_params.get("page"), size


def paginate(view: ApiView, rows: Any) -> tuple[Pagination, list[Any]]:
    """The page of `rows` the request asks for (400 for a bad page, 404 past the last one),
    and the paginator whose `get_paginated_response` answers it."""
    paginator = Pagination()
    return paginator, list(paginator.paginate_queryset(rows, view.request, view=view) or [])


def read_page(
    view: ApiView,
    rows: Any,
    serializer_class: type[serializers.Serializer],
    *,
    action: str,
    patient_of: Callable[[Any], Any] = operator.attrgetter("patient"),
) -> Response:
    """The requested page of a list of patients' records, audited as read: one event
    `action` naming every patient shown (`audit.read_many`)."""
    paginator, page = paginate(view, rows)
    audit.read_many(view.membership, [patient_of(row) for row in page], action=action)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def read_answer(
    view: ApiView, obj: Any, serializer_class: type[serializers.Serializer], *, patient_id: Any
) -> Response:
    """The answer showing one record of a patient's data, audited as the user's read of it."""
    audit.read(view.membership, obj, patient_id=patient_id)
    return Response(serializer_class(obj).data)


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


# Months (contract §4: `YYYY-MM`) in the schema state the range the application knows
# (ccm.months): a month the pattern admits is one the API accepts, and any other is a 400.
_MONTH_SCHEMA = {"type": "string", "pattern": MONTH_PATTERN, "example": "2026-10"}

MONTH_PATH = OpenApiParameter(
    "month",
    _MONTH_SCHEMA,
    OpenApiParameter.PATH,
    required=True,
    description="The billing month, YYYY-MM (practice time zone), from 2000-01 to 2100-12.",
)


# The query parameters of every paginated list (ccm.api_auth.Pagination enforces the bounds).
PAGE_PARAMETERS = [
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1},
        description="1-based page number; past the last page answers 404.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": Pagination.max_page_size},
        description=f"Results per page, 1 to {Pagination.max_page_size} (default "
        f"{Pagination.page_size}).",
    ),
]


@extend_schema_field(_MONTH_SCHEMA)
class MonthField(serializers.CharField):
    """A `YYYY-MM` month, as the first day of that month; the schema states its pattern."""

    def to_internal_value(self, data: Any) -> Any:
        text = super().to_internal_value(data)
        try:
            return parse_month(text)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


# A wall-clock time of day in the practice's zone ("09:30", "17:45:00"). OpenAPI's `format:
# time` is RFC 3339's full-time, which needs an offset such a time has not: a client sending
# one (and schemathesis checking the answers) would read it as a point in UTC.
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
LOCAL_TIME_MESSAGE = "A time of day in the practice's zone, without an offset (e.g. 09:30)."


@extend_schema_field({"type": "string", "pattern": LOCAL_TIME_PATTERN, "example": "09:30"})
class LocalTimeField(serializers.TimeField):
    """A time of day in the practice's zone. An offset (`09:30Z`, `09:30-05:00`) is refused,
    not dropped: DRF's TimeField would keep 09:30 and lose what the client meant."""

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(LOCAL_TIME_PATTERN, value):
            raise serializers.ValidationError(LOCAL_TIME_MESSAGE)
        return super().to_internal_value(value)


REFERENCE_MESSAGE = "No such {field} in this practice."


def reference_or_404(model: type[M], practice: Any, object_id: object, *, field: str) -> M:
    """The practice's object a body field names (`patient`, `assignee`, …), or 404 with a JSON
    detail naming the field: an unknown id and another practice's object are answered alike
    (never reveal existence), as for an id in the path. Rules about the object once found
    (a physician, an active clinician) stay 400s of that field."""
    try:
        return get_for_practice_or_404(model, practice, object_id)
    except Http404:
        raise exceptions.NotFound(REFERENCE_MESSAGE.format(field=field)) from None


# A practice member as every API shows one (performer, assignee, signer, practitioner): one
# serializer, so one OpenAPI component. A comment, not a docstring: subclasses would inherit it.
@extend_schema_serializer(component_name="Member")
class MemberSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    full_name = serializers.CharField(source="user.full_name")


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
    404: OpenApiResponse(
        ErrorSerializer,
        description="Not found in this practice: an id in the path or in a body field that "
        "names nothing of the caller's practice (unknown and another practice's alike).",
    ),
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


UNKNOWN_FIELD_MESSAGE = "Unknown field."


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know (a misspelt field must not be dropped silently); the
    schema says so (additionalProperties: false)."""

    refuses_unknown_fields = True

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: [UNKNOWN_FIELD_MESSAGE] for key in unknown})
        return super().to_internal_value(data)
