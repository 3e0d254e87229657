"""Tenancy, in one place, failing closed (../shared/style.md §4).

- `TenantModel`: abstract base adding `practice`; its default manager raises `NoPracticeScope`
  when no practice scope is active and otherwise filters to that practice.
  `.for_practice(practice)` is the explicit, practice-bound query for code handed a practice.
  `.unscoped()` is the loud escape hatch, only where reading across practices is the point
  (resolution of the practice itself, audit, migrations, demo seeding, per-practice fan-out);
  `tests/ccm/test_tenancy_mechanism.py` holds the allow-list.
- `TenantMiddleware` resolves the practice once per request (session membership for pages,
  Bearer token for `/api/`), sets the scope and resets it in `finally`.
- `get_for_practice_or_404`: another practice's object is 404, never 403.
- `capability_required` (pages) and `ccm.api_auth.HasPracticeRole` (API) check capabilities
  (ccm/roles.py) after the lookup.
- `practice_scope()` for tasks and commands.
- `tenant_fk_sql()`: composite foreign keys so the database refuses cross-practice links.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from ccm.roles import Capability, can

if TYPE_CHECKING:
    from ccm.models import ApiToken, Membership, Practice

SESSION_PRACTICE_KEY = "ccm_practice_id"
TOKEN_PREFIX = "cm_"  # noqa: S105  (a public prefix, not a secret)
NO_MEMBERSHIP_MESSAGE = "Your account has no active practice membership. Ask a practice admin."
ROLE_FORBIDDEN_MESSAGE = "Your role in this practice may not do this."

_current_practice_id: ContextVar[uuid.UUID | None] = ContextVar("practice_id", default=None)

M = TypeVar("M", bound=models.Model)
V = TypeVar("V", bound=Callable[..., HttpResponseBase])


class PracticeRequest(HttpRequest):
    """A request after TenantMiddleware (for type checkers; never instantiated)."""

    practice: Practice
    membership: Membership
    api_token: ApiToken | None
    request_id: str


class NoPracticeScope(RuntimeError):
    """A tenant table was queried with no practice scope active (a bug: fail closed)."""


def current_practice_id() -> uuid.UUID | None:
    return _current_practice_id.get()


@contextlib.contextmanager
def practice_scope(practice: Practice | uuid.UUID | str) -> Iterator[uuid.UUID]:
    """Run a block (task, command, request) scoped to one practice; always reset afterwards."""
    practice_id = practice.pk if hasattr(practice, "pk") else uuid.UUID(str(practice))
    token = _current_practice_id.set(practice_id)
    try:
        yield practice_id
    finally:
        _current_practice_id.reset(token)


class TenantQuerySet(models.QuerySet[M], Generic[M]):
    """A queryset that refuses to run (read or write) when built without a practice scope.

    Building one is allowed (Django builds querysets at import time, e.g. for form fields);
    running it is not: that is where a missing scope would leak or write across practices.
    """

    _no_scope = False
    _bound_practice_id: uuid.UUID | None = None  # set by TenantManager.for_practice

    def _clone(self) -> TenantQuerySet[M]:
        clone: TenantQuerySet[M] = super()._clone()  # type: ignore[misc]
        clone._no_scope = self._no_scope
        clone._bound_practice_id = self._bound_practice_id
        return clone

    def _bind(self, obj: Any) -> None:
        """Rows written through a practice-bound queryset belong to that practice: fill in a
        missing practice, refuse another one (a cross-practice write is a bug: fail loudly)."""
        bound = self._bound_practice_id
        if bound is None:
            return
        if obj.practice_id is None:
            obj.practice_id = bound
        elif obj.practice_id != bound:
            raise NoPracticeScope(f"{self.model.__name__} written into another practice")

    def _guard(self) -> None:
        if self._no_scope:
            raise NoPracticeScope(
                f"{self.model.__name__} queried without a practice scope; "
                "use practice_scope() or .unscoped()"
            )

    def _fetch_all(self) -> None:
        self._guard()
        super()._fetch_all()

    def count(self) -> int:
        self._guard()
        return super().count()

    def exists(self) -> bool:
        self._guard()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._guard()
        return super().aggregate(*args, **kwargs)

    def iterator(self, chunk_size: int | None = None) -> Iterator[M]:
        self._guard()
        return super().iterator(chunk_size=chunk_size)

    def update(self, **kwargs: Any) -> int:
        self._guard()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._guard()
        return super().delete()

    def create(self, **kwargs: Any) -> M:
        self._guard()
        obj = self.model(**kwargs)
        self._bind(obj)
        self._for_write = True
        obj.save(force_insert=True, using=self.db)
        return obj

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[M]:
        self._guard()
        objs = list(objs)
        for obj in objs:
            self._bind(obj)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Any, *args: Any, **kwargs: Any) -> int:
        self._guard()
        objs = list(objs)
        for obj in objs:
            self._bind(obj)
        return super().bulk_update(objs, *args, **kwargs)


class TenantManager(models.Manager[M], Generic[M]):
    """Default manager of tenant tables: scoped to the active practice; without a scope its
    querysets raise NoPracticeScope when run (fail closed)."""

    def get_queryset(self) -> TenantQuerySet[M]:
        queryset: TenantQuerySet[M] = TenantQuerySet(self.model, using=self._db)
        practice_id = _current_practice_id.get()
        if practice_id is None:
            queryset._no_scope = True
            return queryset
        return queryset.filter(practice_id=practice_id)

    def for_practice(self, practice: Practice | uuid.UUID | str) -> TenantQuerySet[M]:
        """One named practice's rows, whatever scope is active: the explicit, practice-bound
        query for services, selectors, tasks and commands that are handed a practice."""
        practice_id = getattr(practice, "pk", practice)
        if practice_id is None:
            raise NoPracticeScope(f"{self.model.__name__}.for_practice() given no practice")
        queryset: TenantQuerySet[M] = TenantQuerySet(self.model, using=self._db)
        queryset._bound_practice_id = uuid.UUID(str(practice_id))
        return queryset.filter(practice_id=practice_id)

    def unscoped(self) -> TenantQuerySet[M]:
        """Every practice's rows: only where reading across practices is the point (tenancy
        resolution, audit, migrations, demo seeding, jobs that fan out per practice)."""
        return TenantQuerySet(self.model, using=self._db)


class TenantModel(models.Model):
    """Abstract base of every table holding practice data."""

    practice = models.ForeignKey("ccm.Practice", on_delete=models.PROTECT, related_name="+")

    objects: TenantManager[Any] = TenantManager()

    class Meta:
        abstract = True


def parse_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def get_for_practice_or_404(
    model: type[M] | models.QuerySet[M], practice: Practice, object_id: object
) -> M:
    """The practice's object with this id, or 404 for a missing, malformed or foreign id.
    Given a queryset (a selector's, with its joins and annotations), one query of it: looking
    the id up first and reading the selector's row after would answer 500 (DoesNotExist) when
    a concurrent delete commits in between."""
    pk = parse_uuid(object_id)
    if pk is None:
        raise Http404
    if isinstance(model, models.QuerySet):
        queryset: Any = model
    else:
        manager: Any = model._default_manager
        queryset = manager.for_practice(practice)
    obj = queryset.filter(practice_id=practice.pk, pk=pk).first()
    if obj is None:
        raise Http404
    return obj  # type: ignore[no-any-return]


def lock_for_practice_or_404(
    model: type[M] | models.QuerySet[M], practice: Practice | uuid.UUID, object_id: object
) -> M:
    """Row-lock (SELECT … FOR UPDATE, until the transaction ends) the practice's object with
    this id (from the model, or a queryset of it), or 404. A writer that waited for the lock
    while another deleted the row finds nothing: that race answers 404 (pages and API), never
    DoesNotExist (500)."""
    practice_id = getattr(practice, "pk", practice)
    if isinstance(model, models.QuerySet):
        queryset: Any = model
    else:
        queryset = model._default_manager.for_practice(practice_id)  # type: ignore[attr-defined]
    obj: M | None = (
        queryset.select_for_update().filter(practice_id=practice_id, pk=object_id).first()
    )
    if obj is None:
        raise Http404
    return obj


# --- Resolution at the edge -----------------------------------------------------------------


def user_memberships(user: Any) -> models.QuerySet[Membership]:
    """A user's active memberships in active practices (for the switcher and resolution)."""
    from ccm.models import Membership

    user_id = getattr(user, "pk", user)  # a user or their id
    return (  # unscoped: a user's memberships span practices
        Membership.objects.unscoped()
        .filter(user_id=user_id, is_active=True)
        .select_related("practice")
        .order_by("practice__name")
    )


class CompiledQuery(Generic[M]):
    """A queryset whose SQL is compiled once per process and database, then run again with
    another value of one parameter: for the queries every request runs, whose shape never
    changes (Django builds and compiles the same SQL each time, about as much CPU as the rest
    of a small request). The rows become model instances as the ORM makes them: the field
    converters, select_related objects, annotations (set on each instance, as the ORM sets
    them), the same SQL (and the same query in query counts).

    `build(value)` makes the queryset for a value; it is called once, with `sentinel`, which
    must appear exactly once among the compiled query's parameters (checked). A list of values
    is one parameter where the queryset filters with `AnyOf` (`= ANY(%s)`: one array), not
    `__in` (a parameter per value)."""

    def __init__(self, build: Callable[[Any], models.QuerySet[M]], sentinel: Any) -> None:
        self._build = build
        self._sentinel = sentinel
        self._compiled: dict[str, _Compiled] = {}
        self._model: type[models.Model] | None = None

    def run(self, value: Any) -> list[M]:
        from django.db import connections, router

        compiled = self._compiled.get(router.db_for_read(self._model)) if self._model else None
        if compiled is None:
            compiled = self._compile(self._build(self._sentinel))
        using = compiled.using
        params = list(compiled.params)
        params[compiled.slot] = value
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        start, end = compiled.model_fields
        objects = []
        for fetched in rows:
            row = list(fetched)
            for position, (converters, expression) in compiled.converters:
                value = row[position]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[position] = value
            obj = compiled.model.from_db(using, compiled.init_list, row[start:end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for name, position in compiled.annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects

    def _compile(self, queryset: models.QuerySet[M]) -> _Compiled:
        from django.db.models.query import get_related_populators

        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        slots = [i for i, param in enumerate(params) if param == self._sentinel]
        known_related = getattr(queryset, "_known_related_objects", None)
        if len(slots) != 1 or known_related:
            raise ValueError(f"not a query CompiledQuery can run: {sql}")
        select, klass_info = compiler.select, compiler.klass_info
        fields = [column[0] for column in select[: compiler.col_count]]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        compiled = _Compiled(
            using=queryset.db,
            sql=sql,
            params=tuple(params),
            slot=slots[0],
            converters=tuple(compiler.get_converters(fields).items()),
            model=klass_info["model"],
            model_fields=(start, end),
            init_list=[column[0].target.attname for column in select[start:end]],
            # Django 5.2's signature (the stubs describe a later one).
            populators=get_related_populators(klass_info, select, queryset.db),  # type: ignore[call-arg]
            annotations=tuple(compiler.annotation_col_map.items()),
        )
        self._compiled[queryset.db] = compiled
        self._model = queryset.model
        return compiled


@dataclasses.dataclass(frozen=True)
class _Compiled:
    using: str
    sql: str
    params: tuple[Any, ...]
    slot: int
    converters: tuple[tuple[int, tuple[list[Any], Any]], ...]
    model: Any
    model_fields: tuple[int, int]
    init_list: list[str]
    populators: list[Any]
    annotations: tuple[tuple[str, int], ...]


class AnyOf(models.Lookup):
    """`field = ANY(%s)`: a list of values as one array parameter (Django's `__in` writes a
    parameter per value, so its SQL changes with the list's length). For querysets compiled
    once (`CompiledQuery`): `.filter(AnyOf(F("pk"), ids))`."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> Any:
        return "%s", [list(value)]

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


# The signed-in user's memberships with their practices and the user, on every request.
_SESSION_MEMBERSHIPS: CompiledQuery[Membership] = CompiledQuery(
    lambda user_id: user_memberships(user_id).select_related("user"), uuid.UUID(int=0)
)


def _session_user_memberships(request: HttpRequest) -> list[Membership] | None:
    """The signed-in user's memberships, with the user, in one query: Django's own lookup of
    the user (`auth.get_user`, one more query on every request) is skipped when this one
    proves the same thing, else None and the caller takes Django's path.

    The same checks as `auth.get_user`, in its order: the session names a configured backend
    whose `get_user` is ModelBackend's (an active user by primary key), and the session's auth
    hash matches the user's current one (a password change signs other sessions out). Any
    other case (no membership, an inactive user, a hash to upgrade or refuse) goes to Django,
    which flushes or upgrades the session as it always does."""
    from django.conf import settings
    from django.contrib import auth
    from django.contrib.auth.backends import ModelBackend
    from django.utils.crypto import constant_time_compare

    if hasattr(request, "_cached_user"):  # already resolved (a login in this request)
        return None
    session = request.session
    try:
        user_id = auth.get_user_model()._meta.pk.to_python(session[auth.SESSION_KEY])
        backend_path = session[auth.BACKEND_SESSION_KEY]
    except (KeyError, ValueError, TypeError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    if getattr(auth.load_backend(backend_path).get_user, "__func__", None) is not (
        ModelBackend.get_user
    ):
        return None
    memberships = _SESSION_MEMBERSHIPS.run(user_id)
    if not memberships:
        return None
    user = memberships[0].user
    session_hash = session.get(auth.HASH_SESSION_KEY)
    if not (
        user.is_active
        and session_hash
        and constant_time_compare(session_hash, user.get_session_auth_hash())
    ):
        return None
    request._cached_user = user  # type: ignore[attr-defined]  # read by request.user
    return memberships


def resolve_session_membership(request: HttpRequest) -> Membership | None:
    """The membership chosen in the session, else the user's first; remembered in the session."""
    # One query for the user, the choice and the header's practice switcher (context
    # processor); two when Django's own user lookup is needed.
    memberships = _session_user_memberships(request)
    user = request.user
    if not user.is_authenticated:
        return None
    if memberships is None:
        memberships = list(user_memberships(user))
    request.user_memberships = memberships  # type: ignore[attr-defined]
    for choice in memberships:
        choice.user = user  # the same row: audit events read it without a query
    wanted = parse_uuid(request.session.get(SESSION_PRACTICE_KEY))
    membership = next((m for m in memberships if m.practice_id == wanted), None)
    if membership is None and memberships:
        membership = memberships[0]
        request.session[SESSION_PRACTICE_KEY] = str(membership.practice_id)
    return membership


def hash_token(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no offline guessing possible).
    return hashlib.sha256(raw.encode()).hexdigest()


def resolve_token(raw: str) -> ApiToken | None:
    """The live token for this secret (not revoked, active membership and user), else None."""
    from ccm.models import ApiToken

    if not raw.startswith(TOKEN_PREFIX):
        return None
    return (  # unscoped: the token is what names the practice
        ApiToken.objects.unscoped()
        .filter(
            token_hash=hash_token(raw),
            revoked_at__isnull=True,
            membership__is_active=True,
            membership__user__is_active=True,
        )
        .select_related("membership__user", "membership__practice")
        .first()
    )


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class TenantMiddleware:
    """Resolve the practice once per request and scope everything after it to that practice."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership: Membership | None = None
        request.api_token = None  # type: ignore[attr-defined]
        raw = _bearer(request) if request.path.startswith("/api/") else None
        if raw is not None:
            token = resolve_token(raw)
            if token is not None:
                request.api_token = token  # type: ignore[attr-defined]
                membership = token.membership
                _record_token_use(token)
        else:
            membership = resolve_session_membership(request)
        request.membership = membership  # type: ignore[attr-defined]
        request.practice = membership.practice if membership else None  # type: ignore[attr-defined]
        if membership is None:
            return self.get_response(request)
        # Times are stored in UTC and shown in the practice's zone on pages; the API speaks UTC.
        api = request.path.startswith("/api/")
        zone = zoneinfo.ZoneInfo("UTC") if api else membership.practice.zone
        with practice_scope(membership.practice_id), timezone.override(zone):
            return self.get_response(request)


def _record_token_use(token: ApiToken) -> None:
    """Stamp last use and audit it, at most once a minute per token (conditional update)."""
    from ccm import audit
    from ccm.models import ApiToken

    now = timezone.now()
    stale = now - timedelta(minutes=1)
    updated = (
        ApiToken.objects.for_practice(token.practice_id)
        .filter(pk=token.pk)
        .filter(models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lt=stale))
        .update(last_used_at=now)
    )
    if updated:
        token.last_used_at = now
        audit.record(
            practice=token.membership.practice,
            actor=token.membership.user,
            role=token.membership.role,
            action="api_token.use",
            obj=token,
        )


# --- Role checks (after the lookup; 403) ------------------------------------------------------


def capability_required(capability: Capability) -> Callable[[V], V]:
    """Page decorator: an active membership whose role holds `capability` (ccm/roles.py)."""

    def decorator(view: V) -> V:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            membership = getattr(request, "membership", None)
            if membership is None:
                raise PermissionDenied(NO_MEMBERSHIP_MESSAGE)
            if not can(membership, capability):
                raise PermissionDenied(ROLE_FORBIDDEN_MESSAGE)
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


# --- Composite foreign keys (database-enforced same-practice links) -------------------------


def tenant_fk_sql(child_table: str, column: str, parent_table: str) -> tuple[str, str]:
    """(forward, reverse) SQL for `(practice_id, column) → parent(practice_id, id)`.

    Django has no composite foreign key; the single-column FK stays for the ORM, and this
    one makes the database refuse a row linking two practices, at once (not deferred).
    """
    name = f"{child_table}_{column}_same_practice_fk"
    forward = (
        f"ALTER TABLE {child_table} ADD CONSTRAINT {name} FOREIGN KEY (practice_id, {column}) "
        f"REFERENCES {parent_table} (practice_id, id)"
    )
    return forward, f"ALTER TABLE {child_table} DROP CONSTRAINT {name}"
