"""Medication pages: add, edit and stop a medicine, and reconcile the list (the chart lists
medicines and reconciliations: patients/medication_panels.py). Clinical staff write; the rules
are patients.medication_services'."""

from __future__ import annotations

from typing import Any

from django.forms.models import model_to_dict
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from ccm import audit
from ccm.pages import acting, done, form_page, page, save_form, submit
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest, get_for_practice_or_404, lock_for_practice_or_404
from patients import careteam_selectors, engine_inputs, medication_selectors, medication_services
from patients.medication_forms import (
    MedicationEditForm,
    MedicationForm,
    MedicationStopForm,
    ReconcileForm,
)
from patients.models import Medication, Patient

ADDED_MESSAGE = "Medicine added."
SAVED_MESSAGE = "Medicine saved."
STOPPED_MESSAGE = "Medicine stopped."
RECONCILED_MESSAGE = "Reconciliation recorded; the medication list is updated."
_CHART = "patients:patient-detail"
_EDIT_FIELDS = (*medication_services.MEDICATION_FIELDS,)


def _patient(request: PracticeRequest, patient_id: str) -> Patient:
    return get_for_practice_or_404(Patient, request.practice, patient_id)


def _medication(request: PracticeRequest, patient: Patient, medication_id: str) -> Medication:
    return medication_selectors.medication_get(
        practice=request.practice, patient_id=patient.pk, medication_id=medication_id
    )


def _context(patient: Patient, **extra: Any) -> dict[str, Any]:
    chart = reverse(_CHART, kwargs={"patient_id": patient.pk})
    return {"patient": patient, "cancel_url": f"{chart}#medications", **extra}


def _to_chart(request: PracticeRequest, message: str, patient: Patient) -> HttpResponse:
    chart = reverse(_CHART, kwargs={"patient_id": patient.pk})
    return done(request, message, f"{chart}#medications")


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def medication_new(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    form = MedicationForm(
        request.POST or None, initial={"source": "patient", "starts_on": request.practice.today()}
    )
    if request.method == "POST":
        saved = save_form(request, form, medication_services.medication_add, patient=patient)
        if saved:
            return _to_chart(request, ADDED_MESSAGE, patient)
    else:
        audit.read(request.membership, patient, patient_id=patient.pk)
    return form_page(request, "patients/medication_form.html", form, **_context(patient, new=True))


def _initial(medication: Medication) -> dict[str, Any]:
    return model_to_dict(medication, fields=_EDIT_FIELDS)


def _locked_initial(request: PracticeRequest, medication: Medication) -> dict[str, Any]:
    # The rows medication_update locks, in its order: the patient, then the medicine.
    engine_inputs.lock_patient_or_404(request.practice, medication.patient_id)
    return _initial(lock_for_practice_or_404(Medication, request.practice, medication.pk))


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def medication_edit(request: PracticeRequest, patient_id: str, medication_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    medication = _medication(request, patient, medication_id)
    form = MedicationEditForm(request.POST or None, initial=_initial(medication))
    if request.method == "POST":
        saved = submit(
            form,
            lambda: medication_services.medication_update(
                **acting(request, medication=medication), data=form.cleaned_values()
            ),
            opened=lambda: _locked_initial(request, medication),
        )
        if saved:
            return _to_chart(request, SAVED_MESSAGE, patient)
    else:
        audit.read(request.membership, medication, patient_id=patient.pk)
    context = _context(patient, new=False, medication=medication)
    return form_page(request, "patients/medication_form.html", form, **context)


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def medication_stop(request: PracticeRequest, patient_id: str, medication_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    medication = _medication(request, patient, medication_id)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        form = MedicationStopForm(request.POST)
        saved = save_form(request, form, medication_services.medication_stop, medication=medication)
        if saved:
            return _to_chart(request, STOPPED_MESSAGE, patient)
    else:  # a GET, or a post without the confirmation: show the page, change nothing
        audit.read(request.membership, medication, patient_id=patient.pk)
        form = MedicationStopForm(initial={"stops_on": request.practice.today()})
    status = 400 if form.errors else 200
    context = _context(patient, medication=medication, form=form)
    return render(request, "patients/medication_stop.html", context, status=status)


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def medication_reconcile(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    practice = request.practice
    medications = list(
        medication_selectors.medication_list(practice=practice, patient_id=patient.pk)
    )
    contacts = careteam_selectors.care_contacts(practice=practice, patient_id=patient.pk)
    form = ReconcileForm(request.POST or None, medications=medications, contacts=contacts)
    if request.method == "POST":
        saved = submit(
            form,
            lambda: medication_services.medication_reconcile(
                **acting(request, patient=patient), **form.service_data()
            ),
            attach=lambda f, exc: f.attach(exc),
        )
        if saved:
            return _to_chart(request, RECONCILED_MESSAGE, patient)
    else:
        audit.read(request.membership, patient, patient_id=patient.pk)
    last = medication_selectors.last_reconciliation(practice=practice, patient_id=patient.pk)
    context = _context(patient, last=last)
    return form_page(request, "patients/medication_reconcile.html", form, **context)
