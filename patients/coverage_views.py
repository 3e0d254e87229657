"""Coverage pages: add, edit and end a patient's insurance coverage (the chart lists it:
patients/panels.py). Admins, coordinators and billers write; the rules are
patients.coverage_services'."""

from __future__ import annotations

from typing import Any

from django.forms.models import model_to_dict
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from ccm import audit
from ccm.pages import acting, done, form_page, page, save_form, submit
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest, get_for_practice_or_404
from patients import coverage_selectors, coverage_services, engine_inputs
from patients.forms import CoverageEditForm, CoverageEndForm, CoverageForm
from patients.models import Coverage, Patient

ADDED_MESSAGE = "Coverage added."
SAVED_MESSAGE = "Coverage saved."
ENDED_MESSAGE = "Coverage ended."
_CHART = "patients:patient-detail"


def _patient(request: PracticeRequest, patient_id: str) -> Patient:
    return get_for_practice_or_404(Patient, request.practice, patient_id)


def _coverage_of(request: PracticeRequest, patient: Patient, coverage_id: str) -> Coverage:
    coverage = coverage_selectors.coverage_get(practice=request.practice, coverage_id=coverage_id)
    if coverage.patient_id != patient.pk:
        raise Http404
    return coverage


def _initial(coverage: Coverage) -> dict[str, Any]:
    return model_to_dict(coverage, fields=coverage_services.COVERAGE_FIELDS)


def _locked_initial(request: PracticeRequest, coverage: Coverage) -> dict[str, Any]:
    # The rows coverage_update locks, in its order: the patient, then the coverage.
    engine_inputs.lock_patient_or_404(request.practice, coverage.patient_id)
    fresh = Coverage.objects.for_practice(request.practice).filter(pk=coverage.pk).first()
    if fresh is None:
        raise Http404
    return _initial(fresh)


def _context(patient: Patient, **extra: Any) -> dict[str, Any]:
    chart = reverse(_CHART, kwargs={"patient_id": patient.pk})
    return {"patient": patient, "cancel_url": f"{chart}#coverage", **extra}


@page(Capability.EDIT_COVERAGE, "GET", "POST")
def coverage_new(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    form = CoverageForm(
        request.POST or None,
        practice=request.practice,
        initial={"starts_on": request.practice.today().replace(day=1), "kind": "part_b"},
    )
    if request.method == "POST":
        saved = save_form(request, form, coverage_services.coverage_create, patient=patient)
        if saved:
            return done(request, ADDED_MESSAGE, _CHART, patient_id=patient.pk)
    else:
        audit.read(request.membership, patient, patient_id=patient.pk)
    return form_page(request, "patients/coverage_form.html", form, **_context(patient, new=True))


@page(Capability.EDIT_COVERAGE, "GET", "POST")
def coverage_edit(request: PracticeRequest, patient_id: str, coverage_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    coverage = _coverage_of(request, patient, coverage_id)
    form = CoverageEditForm(
        request.POST or None,
        practice=request.practice,
        keep_payer=coverage.payer_id,
        initial=_initial(coverage),
    )
    if request.method == "POST":
        saved = submit(
            form,
            lambda: coverage_services.coverage_update(
                **acting(request, coverage=coverage), data=form.cleaned_values()
            ),
            opened=lambda: _locked_initial(request, coverage),
        )
        if saved:
            return done(request, SAVED_MESSAGE, _CHART, patient_id=patient.pk)
    else:
        audit.read(request.membership, coverage, patient_id=patient.pk)
    context = _context(patient, new=False, coverage=coverage)
    return form_page(request, "patients/coverage_form.html", form, **context)


@page(Capability.EDIT_COVERAGE, "GET", "POST")
def coverage_end(request: PracticeRequest, patient_id: str, coverage_id: str) -> HttpResponse:
    patient = _patient(request, patient_id)
    coverage = _coverage_of(request, patient, coverage_id)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        form = CoverageEndForm(request.POST)
        saved = save_form(request, form, coverage_services.coverage_end, coverage=coverage)
        if saved:
            return done(request, ENDED_MESSAGE, _CHART, patient_id=patient.pk)
    else:  # a GET, or a post without the confirmation: show the page, change nothing
        audit.read(request.membership, coverage, patient_id=patient.pk)
        ends_on = coverage.ends_on or request.practice.today()
        form = CoverageEndForm(initial={"ends_on": ends_on})
    status = 400 if form.errors else 200
    context = _context(patient, coverage=coverage, form=form)
    return render(request, "patients/coverage_end.html", context, status=status)
