"""Pages of the core app: home, practice switcher, settings, members, tokens, audit, session."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from ccm import audit, metrics, selectors, services
from ccm.audit_selectors import audit_rows
from ccm.forms import (
    AuditFilterForm,
    MemberInviteForm,
    MemberRoleForm,
    PracticeSettingsForm,
    TokenCreateForm,
    flash_error,
)
from ccm.hooks import home_panels
from ccm.middleware import LAST_ACTIVITY_KEY, timeout_seconds
from ccm.models import ApiToken, AuditEvent, Membership, Practice
from ccm.pages import acting, done, form_page, page, save_form, submit
from ccm.roles import Capability, can
from ccm.tenancy import (
    SESSION_PRACTICE_KEY,
    PracticeRequest,
    get_for_practice_or_404,
    parse_uuid,
    user_memberships,
)

SWITCHED_MESSAGE = "You are now working in {practice}."
SAVED_MESSAGE = "Practice settings saved."
AUDIT_PAGE_SIZE = 50


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and database check for load balancers and docker-compose."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: PostgreSQL and Redis answer within seconds (ccm.metrics probes). 503 names
    what is down, never a host or a message; /healthz stays the liveness check."""
    redis = metrics.redis_ready()
    checks = {
        "database": "ok" if metrics.database_ready() else "down",
        "redis": {None: "not configured", True: "ok", False: "down"}[redis],
    }
    ready = "down" not in checks.values()
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


@require_GET
def metrics_export(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, only with `Authorization: Bearer <METRICS_TOKEN>`; otherwise (and
    when no token is configured) the same 404 as an unknown URL."""
    header = request.headers.get("Authorization", "")
    if not metrics.token_matches(header, settings.METRICS_TOKEN):
        raise Http404
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)


@login_required
@require_GET
def start(request: PracticeRequest) -> HttpResponse:
    """Where sign-in lands: coordinators start their day on the worklist, others at home."""
    membership = getattr(request, "membership", None)
    if can(membership, Capability.COORDINATE_CARE):
        return redirect("timelog:worklist")
    return redirect("ccm:home")


@page(Capability.VIEW_PRACTICE)
def home(request: PracticeRequest) -> HttpResponse:
    """Home: admins and billers see the billing dashboard on top (aggregates only); the
    panels (census, dashboard) come from the apps that own their data (ccm/hooks.py)."""
    membership = request.membership
    context = {"membership": membership, "is_admin": can(membership, Capability.MANAGE_PRACTICE)}
    for panel in home_panels:
        context.update(panel(request))
    return render(request, "ccm/home.html", context)


@login_required
@require_POST
def practice_switch(request: HttpRequest) -> HttpResponse:
    wanted = parse_uuid(request.POST.get("practice"))
    membership = (
        user_memberships(request.user).filter(practice_id=wanted).first() if wanted else None
    )
    if membership is None:
        # Not a member there (or no such practice): the same answer as any unknown id.
        raise Http404
    request.session[SESSION_PRACTICE_KEY] = str(membership.practice_id)
    audit.record_for(membership, "practice.switch", obj=membership.practice)
    messages.success(request, SWITCHED_MESSAGE.format(practice=membership.practice.name))
    return redirect("ccm:home")


def _practice_now(practice: Practice) -> dict[str, object]:
    """The settings form's initial values from the practice row, locked as the service does."""
    locked = Practice.objects.select_for_update().get(pk=practice.pk)
    return model_to_dict(locked, fields=PracticeSettingsForm.Meta.fields)


@page(Capability.MANAGE_PRACTICE)
def practice_settings(request: PracticeRequest) -> HttpResponse:
    practice: Practice = request.practice
    editable = Practice.objects.get(pk=practice.pk)  # the form mutates its instance
    form = PracticeSettingsForm(request.POST or None, instance=editable)
    if request.method == "POST":
        saved = submit(
            form,
            lambda: services.practice_update(**acting(request), data=form.cleaned_values()),
            opened=lambda: _practice_now(practice),
        )
        if saved:
            return done(request, SAVED_MESSAGE, "ccm:practice-settings")
    return form_page(request, "ccm/practice_settings.html", form)


@page(Capability.MANAGE_MEMBERS)
def member_list(request: PracticeRequest) -> HttpResponse:
    form = MemberInviteForm(request.POST or None)
    if request.method == "POST":
        saved = save_form(request, form, services.member_invite)
        if saved:
            message = f"Invitation sent to {saved.result.user.email}."
            return done(request, message, "ccm:member-list")
    members = selectors.member_list(practice=request.practice)
    return form_page(
        request, "ccm/member_list.html", form, members=members, role_form=MemberRoleForm()
    )


@page(Capability.MANAGE_MEMBERS, "POST")
def member_update(request: PracticeRequest, membership_id: str) -> HttpResponse:
    practice = request.practice
    member = get_for_practice_or_404(Membership, practice, membership_id)
    action = request.POST.get("action", "role")
    try:
        if action in ("deactivate", "reactivate"):
            services.member_set_active(
                practice=practice,
                actor=request.membership,
                membership=member,
                active=action == "reactivate",
            )
            messages.success(request, f"{member.user.email}: {action}d.")
        else:
            form = MemberRoleForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors.as_text())
            services.member_change_role(
                practice=practice,
                actor=request.membership,
                membership=member,
                **form.cleaned_data,
            )
            messages.success(request, f"{member.user.email} is now {member.get_role_display()}.")
    except ValidationError as exc:
        flash_error(request, exc, each=True)
        return redirect("ccm:member-list")
    return redirect("ccm:member-list")


@page(Capability.MANAGE_API_TOKENS)
def token_list(request: PracticeRequest) -> HttpResponse:
    practice = request.practice
    form = TokenCreateForm(
        request.POST or None,
        practice=practice,
        initial={"membership": request.membership},
    )
    new_secret = None
    saved = request.method == "POST" and submit(
        form,
        lambda: services.token_create(
            **acting(request),
            membership=form.cleaned_data["membership"],
            name=form.cleaned_data["name"],
        ),
    )
    if saved:
        token, new_secret = saved.result
        # Shown once, in this response only; never stored or shown again.
        form = TokenCreateForm(practice=practice, initial={"membership": request.membership})
        messages.success(request, f"Token '{token.name}' created. Copy it now.")
    tokens = selectors.token_list(practice=practice)
    # The new secret is in this response only (never cached: ccm.middleware.NoStoreMiddleware).
    return form_page(request, "ccm/token_list.html", form, tokens=tokens, secret=new_secret)


@page(Capability.MANAGE_API_TOKENS, "POST")
def token_revoke(request: PracticeRequest, token_id: str) -> HttpResponse:
    practice = request.practice
    token = get_for_practice_or_404(ApiToken, practice, token_id)
    services.token_revoke(**acting(request, token=token))
    return done(request, f"Token '{token.name}' revoked.", "ccm:token-list")


def _audit_events(request: PracticeRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
    practice = request.practice
    form = AuditFilterForm(request.GET or None, practice=practice)
    filters = form.filters() if request.GET else {}
    return form, selectors.audit_event_list(practice=practice, **filters)


@page(Capability.VIEW_AUDIT, "GET")
def audit_list(request: PracticeRequest) -> HttpResponse:
    form, events = _audit_events(request)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = audit_rows(practice=request.practice, events=list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "rows": rows, "query": query.urlencode()}
    template = "ccm/audit_rows.html" if request.headers.get("HX-Request") else "ccm/audit_list.html"
    return render(request, template, context)


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_INJECTION_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas (a leading =, +, -, @, tab or CR gets a quote)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_INJECTION_PREFIXES) else text


@page(Capability.VIEW_AUDIT, "GET")
def audit_export(request: PracticeRequest) -> StreamingHttpResponse:
    _form, events = _audit_events(request)
    audit.record_for(request.membership, "audit.export")
    header = ["time_utc", "actor", "role", "action", "object_type", "object_id", "patient_id",
              "ip", "user_agent", "request_id", "changed_fields", "patient_ids"]  # fmt: skip
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(header)
        for e in events.iterator(chunk_size=2000):
            yield writer.writerow([csv_safe(v) for v in (
                e.created_at.isoformat(), e.actor_email, e.role, e.action, e.object_type,
                e.object_id, e.patient_id or "", e.ip or "", e.user_agent, e.request_id,
                " ".join(e.changed_fields), " ".join(str(i) for i in e.patient_ids),
            )])  # fmt: skip

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    return response


@login_required
@require_POST
def session_keepalive(request: PracticeRequest) -> JsonResponse:
    """'Stay signed in' from the inactivity warning: restarts the inactivity clock now."""
    request.session[LAST_ACTIVITY_KEY] = time.time()
    return JsonResponse({"remaining": timeout_seconds(request)})


@login_required
@require_GET
def session_status(request: PracticeRequest) -> JsonResponse:
    """Seconds left before the inactivity logout; polling it is not activity."""
    last = float(request.session.get(LAST_ACTIVITY_KEY, time.time()))
    remaining = max(0, int(timeout_seconds(request) - (time.time() - last)))
    return JsonResponse({"remaining": remaining, "warning": settings.INACTIVITY_WARNING_SECONDS})
