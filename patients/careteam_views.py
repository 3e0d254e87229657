"""Care team pages: add, edit and deactivate a patient's contacts (practitioners, agencies,
pharmacies, caregivers), record and revoke their permissions to share, and the patient's
contact preferences and call windows. The chart lists them (patients/careteam_panels.py);
members holding EDIT_CLINICAL write; the rules are patients.careteam_services'."""

from __future__ import annotations

from typing import Any

from django.forms.models import model_to_dict
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from ccm import audit
from ccm.pages import acting, done, form_page, page, save_form, submit
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest, get_for_practice_or_404
from patients import careteam_selectors, careteam_services
from patients.careteam_forms import (
    CallWindowForm,
    ContactForm,
    PermissionForm,
    PermissionRevokeForm,
    PreferencesForm,
)
from patients.models import CallWindow, CareContact, Patient, SharingPermission

ADDED_MESSAGE = "Contact added."
SAVED_MESSAGE = "Contact saved."
DEACTIVATED_MESSAGE = "Contact deactivated; it stays on record."
REACTIVATED_MESSAGE = "Contact reactivated."
PERMISSION_MESSAGE = "Permission to share recorded."
REVOKED_MESSAGE = "Permission to share revoked."
PREFERENCES_MESSAGE = "Contact preferences saved."
WINDOW_ADDED_MESSAGE = "Call window added."
WINDOW_REMOVED_MESSAGE = "Call window removed."
_CHART = "patients:patient-detail"
_PREFERENCES = "patients:preferences-edit"


def _patient(request: PracticeRequest, patient_id: str) -> Patient:
    return get_for_practice_or_404(Patient, request.practice, patient_id)


def _contact(request: PracticeRequest, patient: Patient, contact_id: str) -> CareContact:
    return careteam_selectors.contact_get(
        practice=request.practice, patient_id=patient.pk, contact_id=contact_id
    )


def _chart_url(patient: Patient, anchor: str = "care-team") -> str:
    return f"{reverse(_CHART, kwargs={'patient_id': patient.pk})}#{anchor}"


def _to_chart(request: PracticeRequest, message: str, patient: Patient) -> HttpResponse:
    response = done(request, message, _CHART, patient_id=patient.pk)
    response["Location"] = _chart_url(patient)
    return response


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def contact_new(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    initial = {"category": request.GET.get("category") or "practitioner"}
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if save_form(request, form, careteam_services.contact_create, patient=patient):
            return _to_chart(request, ADDED_MESSAGE, patient)
    else:
        audit.read(request.membership, patient, patient_id=patient.pk)
    context = {
        "patient": patient,
        "new": True,
        "cancel_url": _chart_url(patient),
        "languages": careteam_services.LANGUAGE_SUGGESTIONS,
    }
    return form_page(request, "patients/careteam_form.html", form, **context)


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def contact_edit(request: PracticeRequest, patient_id: str, contact_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    contact = _contact(request, patient, contact_id)
    initial = model_to_dict(contact, fields=careteam_services.CONTACT_FIELDS)
    initial["phone"] = contact.phone.as_national if contact.phone else ""
    initial["fax"] = contact.fax.as_national if contact.fax else ""
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST":
        saved = submit(
            form,
            lambda: careteam_services.contact_update(
                **acting(request, contact=contact), data=form.cleaned_data
            ),
        )
        if saved:
            return _to_chart(request, SAVED_MESSAGE, patient)
    else:
        audit.read(request.membership, contact, patient_id=patient.pk)
    context = {
        "patient": patient,
        "contact": contact,
        "new": False,
        "cancel_url": _chart_url(patient),
        "languages": careteam_services.LANGUAGE_SUGGESTIONS,
    }
    return form_page(request, "patients/careteam_form.html", form, **context)


@page(Capability.EDIT_CLINICAL, "POST")
def contact_active(request: PracticeRequest, patient_id: str, contact_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    contact = _contact(request, patient, contact_id)
    active = request.POST.get("active") == "yes"
    careteam_services.contact_set_active(**acting(request, contact=contact), active=active)
    return _to_chart(request, REACTIVATED_MESSAGE if active else DEACTIVATED_MESSAGE, patient)


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def permission_new(request: PracticeRequest, patient_id: str, contact_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    contact = _contact(request, patient, contact_id)
    form = PermissionForm(
        request.POST or None, initial={"given_on": request.practice.today(), "method": "verbal"}
    )
    if request.method == "POST":
        if save_form(request, form, careteam_services.permission_create, contact=contact):
            return _to_chart(request, PERMISSION_MESSAGE, patient)
    else:
        audit.read(request.membership, contact, patient_id=patient.pk)
    context = {"patient": patient, "contact": contact, "cancel_url": _chart_url(patient)}
    return form_page(request, "patients/careteam_permission.html", form, **context)


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def permission_revoke(
    request: PracticeRequest, patient_id: str, contact_id: str, permission_id: str
) -> HttpResponse:
    patient = _patient(request, patient_id)
    contact = _contact(request, patient, contact_id)
    permission = get_for_practice_or_404(
        SharingPermission.objects.for_practice(request.practice).filter(contact=contact),
        request.practice,
        permission_id,
    )
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        form = PermissionRevokeForm(request.POST)
        if save_form(request, form, careteam_services.permission_revoke, permission=permission):
            return _to_chart(request, REVOKED_MESSAGE, patient)
    else:  # a GET, or a post without the confirmation: show the page, change nothing
        audit.read(request.membership, permission, patient_id=patient.pk)
        form = PermissionRevokeForm(initial={"revoked_on": request.practice.today()})
    context = {
        "patient": patient,
        "contact": contact,
        "permission": permission,
        "form": form,
        "cancel_url": _chart_url(patient),
    }
    status = 400 if form.errors else 200
    return render(request, "patients/careteam_revoke.html", context, status=status)


# --- Contact preferences ---------------------------------------------------------------------


def _preferences_page(
    request: PracticeRequest, patient: Patient, form: PreferencesForm, window_form: CallWindowForm
) -> HttpResponse:
    context: dict[str, Any] = {
        "patient": patient,
        "window_form": window_form,
        "windows": careteam_selectors.window_rows(
            careteam_selectors.call_windows(practice=request.practice, patient_id=patient.pk)
        ),
        "languages": careteam_services.LANGUAGE_SUGGESTIONS,
        "cancel_url": _chart_url(patient, "preferences"),
        "zone": request.practice.time_zone,
    }
    status = 400 if form.errors or window_form.errors else 200
    return render(
        request, "patients/careteam_preferences.html", {"form": form, **context}, status=status
    )


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def preferences_edit(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    initial = model_to_dict(patient, fields=careteam_services.PREFERENCE_FIELDS)
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST":
        saved = submit(
            form,
            lambda: careteam_services.preferences_update(
                **acting(request, patient=patient), data=form.cleaned_data
            ),
        )
        if saved:
            return done(request, PREFERENCES_MESSAGE, _PREFERENCES, patient_id=patient.pk)
    else:
        audit.read(request.membership, patient, patient_id=patient.pk)
    return _preferences_page(request, patient, form, CallWindowForm())


@page(Capability.EDIT_CLINICAL, "POST")
def call_window_new(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    window_form = CallWindowForm(request.POST)
    if save_form(request, window_form, careteam_services.call_window_create, patient=patient):
        return done(request, WINDOW_ADDED_MESSAGE, _PREFERENCES, patient_id=patient.pk)
    initial = model_to_dict(patient, fields=careteam_services.PREFERENCE_FIELDS)
    return _preferences_page(request, patient, PreferencesForm(initial=initial), window_form)


@page(Capability.EDIT_CLINICAL, "POST")
def call_window_delete(request: PracticeRequest, patient_id: str, window_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    window = get_for_practice_or_404(
        CallWindow.objects.for_practice(request.practice).filter(patient_id=patient.pk),
        request.practice,
        window_id,
    )
    careteam_services.call_window_delete(**acting(request, window=window))
    return done(request, WINDOW_REMOVED_MESSAGE, _PREFERENCES, patient_id=patient.pk)
