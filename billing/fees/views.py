"""Fee schedule and POLICY pages (/billing/fees/, /billing/policy/): admins edit; billers
and physicians read; coordinators get 403. Rules live in billing.fees.services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse

from billing.fees import selectors, services
from billing.fees.forms import (
    FeeScheduleForm,
    PolicyForm,
    fee_field_name,
    fee_schedule_initial,
)
from ccm.forms import attach_errors
from ccm.models import Practice
from ccm.pages import acting, done, form_page, page, submit, writers_only
from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest

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


@page(Capability.VIEW_BILLING, "GET", "POST")
def fee_schedule(request: PracticeRequest) -> HttpResponse:
    writers_only(request, Capability.EDIT_BILLING_SETTINGS)
    practice = request.practice
    rows = selectors.fee_schedule_list(practice=practice)
    form = FeeScheduleForm(
        request.POST or None,
        initial=fee_schedule_initial(rows),
        rows=rows,
        read_only=not _is_admin(request),
    )
    if request.method == "POST":
        saved = submit(
            form,
            lambda: services.fee_schedule_update(**acting(request), amounts=form.amounts()),
            opened=lambda: _fees_now(practice),
            attach=_fee_errors,
        )
        if saved:
            message = FEES_SAVED_MESSAGE if saved.result else NO_CHANGES_MESSAGE
            return done(request, message, "billing:fee-schedule")
    rows_fields = [(row, form[fee_field_name(row.code)]) for row in rows]
    return form_page(
        request, "billing/fee_schedule.html", form, rows=rows_fields, can_edit=_is_admin(request)
    )


@page(Capability.VIEW_BILLING, "GET", "POST")
def policy(request: PracticeRequest) -> HttpResponse:
    writers_only(request, Capability.EDIT_BILLING_SETTINGS)
    practice = request.practice
    row = selectors.policy_get(practice=practice)
    values = selectors.policy_values(row)
    form = PolicyForm(request.POST or None, initial=values, read_only=not _is_admin(request))
    if request.method == "POST":
        saved = submit(
            form,
            lambda: services.policy_update(**acting(request), data=form.cleaned_values()),
            opened=lambda: _policy_now(practice),
        )
        if saved:
            message = POLICY_SAVED_MESSAGE if saved.result else NO_CHANGES_MESSAGE
            return done(request, message, "billing:policy")
    defaults = services.policy_defaults()
    return form_page(
        request,
        "billing/policy.html",
        form,
        rows=[(form[name], values[name] != defaults[name]) for name in selectors.POLICY_FIELDS],
        can_edit=_is_admin(request),
        uses_defaults=row._state.adding,  # no row: the spec's defaults
    )


@page(Capability.EDIT_BILLING_SETTINGS, "POST")
def policy_reset(request: PracticeRequest) -> HttpResponse:
    changes = services.policy_reset(**acting(request))
    return done(request, POLICY_RESET_MESSAGE if changes else NO_CHANGES_MESSAGE, "billing:policy")
