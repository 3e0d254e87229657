"""Pages for the billing facts beyond time and the chart: a patient's other services
(R3, R28-R31), the patient-month facts (R3, R23) and the CSV import of other services.

Every role reads; admins, billers and physicians write (coordinators get 403); only admins
and physicians change the MDM level; admins and billers import. A closed month answers 409
with the reason on the page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from billing.facts import imports, selectors, services
from billing.facts.forms import (
    MonthChoiceForm,
    MonthFactsForm,
    OtherServiceForm,
    OtherServiceImportForm,
)
from billing.models import OtherServiceImport, PatientMonthFacts
from ccm import audit, csv_import_pages
from ccm.forms import flash_error
from ccm.months import month_label, parse_month
from ccm.pages import Submission, acting, done, month_links, page, save_form, submit, writers_only
from ccm.roles import Capability, can
from ccm.tenancy import (
    PracticeRequest,
    get_for_practice_or_404,
)
from patients.models import Patient
from timelog.services import MonthLocked


def _can_write(request: PracticeRequest) -> bool:
    return can(request.membership, Capability.EDIT_BILLING_FACTS)


# A closed month is a conflict (409); any other refusal is the form's (400).
_REFUSALS = (MonthLocked, ValidationError)


def _status(saved: Submission) -> int:
    return 409 if saved.refused_by(MonthLocked) else 400


def _patient(request: PracticeRequest, patient_id: str) -> Patient:
    return get_for_practice_or_404(Patient, request.practice, patient_id)


# --- Other services --------------------------------------------------------------------------


@page(Capability.VIEW_PRACTICE, "GET", "POST")
def other_service_list(request: PracticeRequest, patient_id: str) -> HttpResponse:
    """The patient's other services, and the form to add one (POST: writers only)."""
    patient = _patient(request, patient_id)
    writers_only(request, Capability.EDIT_BILLING_FACTS)
    form = OtherServiceForm(request.POST or None, practice=request.practice)
    if request.method != "POST":
        return _list_page(request, patient, form, 200)
    saved = save_form(
        request, form, services.other_service_create, patient=patient, refused=_REFUSALS
    )
    if saved:
        message = f"{form.cleaned_data['code']} recorded."
        return done(request, message, "billing:other-service-list", patient_id=patient.pk)
    return _list_page(request, patient, form, _status(saved))


def _list_page(
    request: PracticeRequest, patient: Patient, form: OtherServiceForm, status: int
) -> HttpResponse:
    rows = list(selectors.other_service_list(practice=request.practice, patient=patient))
    audit.record_for(
        request.membership,
        "otherservice.list",
        object_type=Patient._meta.label_lower,
        object_id=patient.pk,
        patient_id=patient.pk,
    )
    month = request.practice.this_month()
    context = {
        "patient": patient,
        "services": [(s, services.code_label(s.code)) for s in rows],
        "form": form,
        "can_write": _can_write(request),
        "can_import": can(request.membership, Capability.IMPORT_OTHER_SERVICES),
        "month_label": month_label(month),
    }
    return render(request, "billing/other_service_list.html", context, status=status)


@page(Capability.EDIT_BILLING_FACTS, "POST")
def other_service_delete(request: PracticeRequest, other_service_id: str) -> HttpResponse:
    service = selectors.other_service_get(practice=request.practice, service_id=other_service_id)
    try:
        services.other_service_delete(
            practice=request.practice, actor=request.membership, service=service
        )
    except MonthLocked as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"{service.code} of {service.service_on:%Y-%m-%d} deleted.")
    return redirect("billing:other-service-list", patient_id=service.patient_id)


# --- Month facts -----------------------------------------------------------------------------


@page(Capability.VIEW_PRACTICE, "GET")
def month_facts_current(request: PracticeRequest, patient_id: str) -> HttpResponse:
    """Redirect to the month asked for (?month=YYYY-MM), else the current month."""
    patient = _patient(request, patient_id)
    month = request.practice.this_month()
    choice = MonthChoiceForm(request.GET or None)
    if choice.is_valid():
        try:
            month = parse_month(choice.cleaned_data["month"])
        except ValidationError:
            messages.error(request, "Months are written YYYY-MM; showing this month.")
    return redirect(_facts_url(patient, month))


def _facts_url(patient: Patient, month: dt.date) -> str:
    kwargs = {"patient_id": patient.pk, "month": month_label(month)}
    return reverse("billing:month-facts-edit", kwargs=kwargs)


def _parse_url_month(text: str) -> dt.date:
    try:
        return parse_month(text)
    except ValidationError:
        raise Http404 from None


def _facts_initial(facts: PatientMonthFacts) -> dict[str, Any]:
    return {"ccm_billed_elsewhere": facts.ccm_billed_elsewhere, "mdm": facts.mdm}


def _facts_now(request: PracticeRequest, patient: Patient, month: dt.date) -> dict[str, Any]:
    facts = selectors.month_facts_get_locked(
        practice=request.practice, patient=patient, month=month
    )
    return _facts_initial(facts)


@page(Capability.VIEW_PRACTICE, "GET", "POST")
def month_facts_edit(request: PracticeRequest, patient_id: str, month: str) -> HttpResponse:
    """The patient-month's R3 flag and R23 MDM level (POST: writers; MDM: admin, physician)."""
    patient = _patient(request, patient_id)
    day = _parse_url_month(month)
    writers_only(request, Capability.EDIT_BILLING_FACTS)
    facts = selectors.month_facts_get(practice=request.practice, patient=patient, month=day)
    can_set_mdm = can(request.membership, Capability.SET_MDM)
    initial = _facts_initial(facts)
    form = MonthFactsForm(request.POST or None, initial=initial, can_set_mdm=can_set_mdm)
    if request.method != "POST":
        return _facts_page(request, patient, day, form, 200, facts=facts)
    saved = submit(
        form,
        lambda: services.month_facts_set(
            **acting(request, patient=patient), month=day, **form.cleaned_values()
        ),
        refused=_REFUSALS,
        opened=lambda: _facts_now(request, patient, day),
    )
    if saved:
        message = f"Month facts for {month_label(day)} saved."
        return done(request, message, _facts_url(patient, day))
    return _facts_page(request, patient, day, form, _status(saved), facts=facts)


def _facts_page(
    request: PracticeRequest,
    patient: Patient,
    month: dt.date,
    form: MonthFactsForm,
    status: int,
    *,
    facts: Any,
) -> HttpResponse:
    practice = request.practice
    services.month_facts_read(request.membership, facts)
    in_month = [
        (s, services.code_label(s.code))
        for s in selectors.other_services_in_month(practice=practice, patient=patient, month=month)
    ]
    context = {
        "patient": patient,
        **month_links(month),
        "is_future": month > practice.this_month(),
        "facts": facts,
        "facts_saved": not facts._state.adding,
        "form": form,
        "choice_form": MonthChoiceForm(initial={"month": month_label(month)}),
        "locked": selectors.month_locked(practice=practice, month=month),
        "can_write": _can_write(request),
        "services": in_month,
        "verdict": selectors.month_verdict(practice=practice, patient=patient, month=month),
    }
    return render(request, "billing/month_facts_form.html", context, status=status)


# --- CSV import of other services ------------------------------------------------------------


def _already_recorded(record: OtherServiceImport) -> dict[str, Any]:
    return {"already_count": record.valid_count - record.created_count}


IMPORT_PAGES = csv_import_pages.ImportPages(
    imports.KIND,
    OtherServiceImportForm,
    templates="billing",
    detail="billing:other-service-import-detail",
    upload_extra=lambda: {"labels": imports.LABELS},
    detail_extra=_already_recorded,
)
import_upload, import_detail = IMPORT_PAGES.views(
    Capability.IMPORT_OTHER_SERVICES, id_name="service_import_id"
)
