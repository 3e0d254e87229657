"""Fee schedule and POLICY pages (/billing/fees/, /billing/policy/): admins edit; billers
and physicians read; coordinators get 403. Rules live in billing.fees.services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from billing.fees import selectors, services
from billing.fees.forms import (
    FeeScheduleForm,
    PolicyForm,
    fee_field_name,
    fee_schedule_initial,
)
from ccm.forms import attach_errors
from ccm.models import Practice
from ccm.roles import Capability, can
from ccm.tenancy import ROLE_FORBIDDEN_MESSAGE, PracticeRequest, capability_required
from ccm.versioning import unchanged_since_opened

FEES_SAVED_MESSAGE = (
    "Fee schedule saved. Worklist progress for this month and last month is being recomputed."
)
POLICY_SAVED_MESSAGE = (
    "Billing policy saved. Worklist progress for this month and last month is being recomputed."
)
POLICY_RESET_MESSAGE = "Billing policy reset to the spec's defaults."
NO_CHANGES_MESSAGE = "Nothing changed."


def _is_admin(request: PracticeRequest) -> bool:
    return can(request.membership, Capability.EDIT_BILLING_SETTINGS)


def _admins_write(request: PracticeRequest) -> None:
    if request.method == "POST" and not _is_admin(request):
        raise PermissionDenied(ROLE_FORBIDDEN_MESSAGE)


def _fee_errors(form: FeeScheduleForm, exc: ValidationError) -> None:
    """The service names codes; the form's fields are fee_<code>."""
    if hasattr(exc, "error_dict"):
        exc = ValidationError({fee_field_name(k): v for k, v in exc.error_dict.items()})
    attach_errors(form, exc)


def _fees_now(practice: Practice) -> dict[str, Any]:
    services.settings_lock(practice=practice)  # what fee_schedule_update locks first
    return fee_schedule_initial(selectors.fee_schedule_list(practice=practice))


def _policy_now(practice: Practice) -> dict[str, Any]:
    services.settings_lock(practice=practice)  # what policy_update locks first
    return selectors.policy_values(selectors.policy_get(practice=practice))


@login_required
@require_http_methods(["GET", "POST"])
@capability_required(Capability.VIEW_BILLING)
def fee_schedule(request: PracticeRequest) -> HttpResponse:
    _admins_write(request)
    practice = request.practice
    rows = selectors.fee_schedule_list(practice=practice)
    form = FeeScheduleForm(
        request.POST or None,
        initial=fee_schedule_initial(rows),
        rows=rows,
        read_only=not _is_admin(request),
    )
    if request.method == "POST" and form.is_valid():
        try:
            with unchanged_since_opened(form, lambda: _fees_now(practice)):
                changes = services.fee_schedule_update(
                    practice=practice, actor=request.membership, amounts=form.amounts()
                )
        except ValidationError as exc:
            _fee_errors(form, exc)
        else:
            messages.success(request, FEES_SAVED_MESSAGE if changes else NO_CHANGES_MESSAGE)
            return redirect("billing:fee-schedule")
    context = {
        "form": form,
        "rows": [(row, form[fee_field_name(row.code)]) for row in rows],
        "can_edit": _is_admin(request),
    }
    status = 400 if form.errors else 200
    return render(request, "billing/fee_schedule.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@capability_required(Capability.VIEW_BILLING)
def policy(request: PracticeRequest) -> HttpResponse:
    _admins_write(request)
    practice = request.practice
    row = selectors.policy_get(practice=practice)
    values = selectors.policy_values(row)
    form = PolicyForm(request.POST or None, initial=values, read_only=not _is_admin(request))
    if request.method == "POST" and form.is_valid():
        try:
            with unchanged_since_opened(form, lambda: _policy_now(practice)):
                changes = services.policy_update(
                    practice=practice, actor=request.membership, data=form.cleaned_values()
                )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, POLICY_SAVED_MESSAGE if changes else NO_CHANGES_MESSAGE)
            return redirect("billing:policy")
    defaults = services.policy_defaults()
    context = {
        "form": form,
        "rows": [(form[name], values[name] != defaults[name]) for name in selectors.POLICY_FIELDS],
        "can_edit": _is_admin(request),
        "uses_defaults": row._state.adding,  # no row: the spec's defaults
    }
    status = 400 if form.errors else 200
    return render(request, "billing/policy.html", context, status=status)


@login_required
@require_POST
@capability_required(Capability.EDIT_BILLING_SETTINGS)
def policy_reset(request: PracticeRequest) -> HttpResponse:
    changes = services.policy_reset(practice=request.practice, actor=request.membership)
    messages.success(request, POLICY_RESET_MESSAGE if changes else NO_CHANGES_MESSAGE)
    return redirect("billing:policy")
