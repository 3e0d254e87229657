"""Billing setup, payers and usual charges pages (/billing/setup/, /billing/payers/,
/billing/charges/): admins edit; billers and physicians read; coordinators get 403. Rules
live in billing.setup.services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render

from billing.fees.services import settings_lock
from billing.setup import apcm, apcm_services, selectors, services
from billing.setup.apcm_forms import (
    PracticeAttestationForm,
    PractitionerAttestationForm,
    WithdrawForm,
)
from billing.setup.apcm_services import FOCAL_POINT_STATEMENT
from billing.setup.forms import (
    BillingSetupForm,
    PayerForm,
    UsualChargesForm,
    charge_field_name,
    payer_initial,
    usual_charges_initial,
)
from ccm.forms import attach_errors
from ccm.models import Practice
from ccm.pages import acting, done, form_page, page, submit, writers_only
from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest, get_for_practice_or_404
from patients.models import Payer

SETUP_SAVED_MESSAGE = "Billing setup saved."
CHARGES_SAVED_MESSAGE = "Usual charges saved."
PAYER_ADDED_MESSAGE = "Payer added."
PAYER_SAVED_MESSAGE = "Payer saved."
NO_CHANGES_MESSAGE = "Nothing changed."


def _is_admin(request: PracticeRequest) -> bool:
    return can(request.membership, Capability.EDIT_BILLING_SETTINGS)


def _setup_now(practice: Practice) -> dict[str, Any]:
    settings_lock(practice=practice)  # what billing_setup_save locks first
    return services.setup_initial(practice, selectors.billing_setup(practice))


@page(Capability.VIEW_BILLING, "GET", "POST")
def billing_setup(request: PracticeRequest) -> HttpResponse:
    writers_only(request, Capability.EDIT_BILLING_SETTINGS)
    practice = request.practice
    setup = selectors.billing_setup(practice)
    form = BillingSetupForm(
        request.POST or None,
        initial=services.setup_initial(practice, setup),
        practice=practice,
        read_only=not _is_admin(request),
    )
    if request.method == "POST":
        saved = submit(
            form,
            lambda: services.billing_setup_save(**acting(request), data=form.cleaned_values()),
            opened=lambda: _setup_now(practice),
        )
        if saved:
            message = SETUP_SAVED_MESSAGE if saved.result else NO_CHANGES_MESSAGE
            return done(request, message, "billing:billing-setup")
    return form_page(
        request,
        "billing/billing_setup.html",
        form,
        setup=setup,
        problems=services.setup_problems(practice) if setup is not None else [],
        can_edit=_is_admin(request),
    )


def _charge_errors(form: UsualChargesForm, exc: ValidationError) -> None:
    """The service names codes; the form's fields are charge_<code>."""
    if hasattr(exc, "error_dict"):
        exc = ValidationError({charge_field_name(k): v for k, v in exc.error_dict.items()})
    attach_errors(form, exc)


def _charges_now(practice: Practice) -> dict[str, Any]:
    settings_lock(practice=practice)  # what usual_charges_update locks first
    return usual_charges_initial(selectors.usual_charge_list(practice=practice))


@page(Capability.VIEW_BILLING, "GET", "POST")
def usual_charges(request: PracticeRequest) -> HttpResponse:
    writers_only(request, Capability.EDIT_BILLING_SETTINGS)
    practice = request.practice
    rows = selectors.usual_charge_list(practice=practice)
    form = UsualChargesForm(
        request.POST or None,
        initial=usual_charges_initial(rows),
        rows=rows,
        read_only=not _is_admin(request),
    )
    if request.method == "POST":
        saved = submit(
            form,
            lambda: services.usual_charges_update(**acting(request), amounts=form.amounts()),
            opened=lambda: _charges_now(practice),
            attach=_charge_errors,
        )
        if saved:
            message = CHARGES_SAVED_MESSAGE if saved.result else NO_CHANGES_MESSAGE
            return done(request, message, "billing:usual-charges")
    rows_fields = [(row, form[charge_field_name(row.code)]) for row in rows]
    return form_page(
        request, "billing/usual_charges.html", form, rows=rows_fields, can_edit=_is_admin(request)
    )


@page(Capability.VIEW_BILLING, "GET", "POST")
def payer_list(request: PracticeRequest) -> HttpResponse:
    """The practice's payers; admins add one with the form below the list."""
    writers_only(request, Capability.EDIT_BILLING_SETTINGS)
    form = PayerForm(request.POST or None)
    if request.method == "POST":
        saved = submit(
            form, lambda: services.payer_create(**acting(request), **form.cleaned_values())
        )
        if saved:
            return done(request, PAYER_ADDED_MESSAGE, "billing:payer-list")
    payers = list(selectors.payer_list(practice=request.practice))
    status = 400 if form.errors else 200
    context = {"form": form, "payers": payers, "can_edit": _is_admin(request)}
    return render(request, "billing/payer_list.html", context, status=status)


def _payer_now(practice: Practice, payer: Payer) -> dict[str, Any]:
    settings_lock(practice=practice)  # what payer_update locks first
    return payer_initial(get_for_practice_or_404(Payer, practice, payer.pk))


@page(Capability.VIEW_BILLING, "GET", "POST")
def payer_edit(request: PracticeRequest, payer_id: Any) -> HttpResponse:
    practice = request.practice
    payer = get_for_practice_or_404(Payer, practice, payer_id)
    writers_only(request, Capability.EDIT_BILLING_SETTINGS)
    form = PayerForm(
        request.POST or None,
        initial=payer_initial(payer),
        editing=True,
        read_only=not _is_admin(request),
    )
    if request.method == "POST":
        saved = submit(
            form,
            lambda: services.payer_update(
                **acting(request), payer=payer, data=form.cleaned_values()
            ),
            opened=lambda: _payer_now(practice, payer),
        )
        if saved:
            message = PAYER_SAVED_MESSAGE if saved.result else NO_CHANGES_MESSAGE
            return done(request, message, "billing:payer-list")
    return form_page(
        request, "billing/payer_edit.html", form, payer=payer, can_edit=_is_admin(request)
    )


# --- APCM attestations (R39) -----------------------------------------------------------------

APCM_PRACTICE_SAVED = "The practice's APCM attestation is recorded."
APCM_PRACTITIONER_SAVED = "The practitioner's APCM attestation is recorded."
APCM_WITHDRAWN = "The APCM attestation is withdrawn; it stays in the history."


def _apcm_page(
    request: PracticeRequest,
    practice_form: PracticeAttestationForm,
    practitioner_form: PractitionerAttestationForm,
    withdraw_form: WithdrawForm | None = None,
    withdrawing: Any = None,
) -> HttpResponse:
    practice = request.practice
    month = practice.this_month()
    in_force = apcm.in_force(practice, [month])
    practitioners = list(apcm.practitioner_choices(practice))
    forms_shown = [practice_form, practitioner_form, withdraw_form]
    practice_rows = list(apcm.practice_attestations(practice))
    context = {
        "practice_form": practice_form,
        "practitioner_form": practitioner_form,
        "withdraw_form": withdraw_form,
        "withdrawing": str(withdrawing) if withdrawing else "",
        "practice_rows": practice_rows,
        "practice_in_force": any(row.withdrawn_on is None for row in practice_rows),
        "practitioner_rows": list(apcm.practitioner_attestations(practice)),
        "gates": [(m, in_force.attested(m.pk, month)) for m in practitioners],
        "month": month,
        "statement": FOCAL_POINT_STATEMENT,
        "can_edit": can(request.membership, Capability.ATTEST_APCM),
    }
    status = 400 if any(f is not None and f.errors for f in forms_shown) else 200
    return render(request, "billing/apcm_attestations.html", context, status=status)


@page(Capability.VIEW_BILLING, "GET", "POST")
def apcm_attestations(request: PracticeRequest) -> HttpResponse:
    """The practice's and its practitioners' APCM attestations, whether each practitioner may
    bill APCM this month, and the history; admins record (one form each)."""
    writers_only(request, Capability.ATTEST_APCM)
    practice = request.practice
    action = request.POST.get("action") if request.method == "POST" else None
    practice_form = PracticeAttestationForm(
        request.POST if action == "practice" else None, prefix="practice"
    )
    practitioner_form = PractitionerAttestationForm(
        request.POST if action == "practitioner" else None,
        prefix="practitioner",
        practitioners=list(apcm.practitioner_choices(practice)),
    )
    if action == "practice":
        form = practice_form
        saved = submit(
            form, lambda: apcm_services.practice_attest(**acting(request), **form.cleaned_data)
        )
        if saved:
            return done(request, APCM_PRACTICE_SAVED, "billing:apcm-attestations")
    elif action == "practitioner":
        chosen = practitioner_form
        saved = submit(
            chosen,
            lambda: apcm_services.practitioner_attest(**acting(request), **chosen.cleaned_data),
        )
        if saved:
            return done(request, APCM_PRACTITIONER_SAVED, "billing:apcm-attestations")
    return _apcm_page(request, practice_form, practitioner_form)


@page(Capability.ATTEST_APCM, "POST")
def apcm_withdraw(request: PracticeRequest, kind: str, attestation_id: Any) -> HttpResponse:
    """Withdraw one attestation from a date (the row stays in the history)."""
    form = WithdrawForm(request.POST)
    saved = submit(
        form,
        lambda: apcm_services.withdraw(
            **acting(request), kind=kind, attestation_id=attestation_id, **form.cleaned_data
        ),
    )
    if saved:
        return done(request, APCM_WITHDRAWN, "billing:apcm-attestations")
    practice_form = PracticeAttestationForm(prefix="practice")
    practitioner_form = PractitionerAttestationForm(
        prefix="practitioner", practitioners=list(apcm.practitioner_choices(request.practice))
    )
    return _apcm_page(request, practice_form, practitioner_form, form, attestation_id)
