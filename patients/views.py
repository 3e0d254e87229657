"""Patient pages: list and search, new/edit, chart, conditions, consent, enrollment, EHR import."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms.models import model_to_dict
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from ccm import audit, csv_import_pages
from ccm.forms import attach_errors, flash_error
from ccm.pages import acting, done, form_page, page, save_form, submit
from ccm.roles import Capability, can
from ccm.tenancy import (
    PracticeRequest,
    get_for_practice_or_404,
)
from patients import engine_inputs, imports, selectors, services
from patients.forms import (
    ConditionForm,
    ConsentForm,
    DisenrollForm,
    PatientEditForm,
    PatientFilterForm,
    PatientForm,
    PatientImportForm,
    ReasonForm,
    RevokeForm,
    patient_fields,
)
from patients.hooks import CostShare, chart_panels, cost_share
from patients.language import patient_locale
from patients.models import Condition, ConditionStatus, Consent, Patient, PatientImport, Status

PAGE_SIZE = 25
REVOKED_MESSAGE = "Consent revoked; it takes effect at the end of that month (R7)."
ADDED_MESSAGE = "Patient added as a CCM candidate."
_CHART = "patients:patient-detail"


def _is_clinical(request: PracticeRequest) -> bool:
    return can(request.membership, Capability.EDIT_CLINICAL)


@page(Capability.VIEW_PRACTICE, "GET")
def patient_list(request: PracticeRequest) -> HttpResponse:
    form = PatientFilterForm(request.GET or None, practice=request.practice)
    data = form.cleaned_data if form.is_valid() else {}
    coordinator = data.get("coordinator")
    patients = selectors.patient_list(
        practice=request.practice,
        q=data.get("q", ""),
        status=data.get("status", ""),
        coordinator_id=coordinator.pk if coordinator else None,
    )
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    audit.read_many(request.membership, page.object_list, action="patient.list")
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    htmx = request.headers.get("HX-Request") and request.headers.get("HX-Target") == "patient-rows"
    template = "patients/patient_rows.html" if htmx else "patients/patient_list.html"
    return render(request, template, context)


@page(Capability.EDIT_CLINICAL)
def patient_new(request: PracticeRequest) -> HttpResponse:
    form = PatientForm(
        request.POST or None, practice=request.practice, clinical=True, creating=True
    )
    if request.method == "POST":
        saved = submit(
            form,
            lambda: services.patient_create(
                practice=request.practice,
                actor=request.membership,
                data={k: v for k, v in form.cleaned_data.items() if k != "conditions"},
                condition_codes=form.condition_codes(),
            ),
            attach=_attach_conditions_error,
        )
        if saved:
            return done(request, ADDED_MESSAGE, _CHART, patient_id=saved.result.pk)
    return form_page(request, "patients/patient_form.html", form, new=True)


def _attach_conditions_error(form: PatientForm, exc: ValidationError) -> None:
    # A bad condition code from condition_add belongs to the form's "conditions" field.
    if hasattr(exc, "error_dict") and "icd10_code" in exc.error_dict:
        exc = ValidationError({"conditions": exc.error_dict["icd10_code"]})
    attach_errors(form, exc)


def _patient_initial(patient: Patient, clinical: bool) -> dict[str, Any]:
    return model_to_dict(patient, fields=patient_fields(clinical=clinical))


def _lock_patient(request: PracticeRequest, patient: Patient) -> Patient:
    # The row patient_update locks first.
    return engine_inputs.lock_patient_or_404(request.practice, patient.pk)


@page(Capability.VIEW_PRACTICE)
def patient_edit(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = selectors.patient_get(practice=request.practice, patient_id=patient_id)
    clinical = _is_clinical(request)
    form = PatientEditForm(
        request.POST or None,
        instance=patient,
        initial=_patient_initial(patient, clinical),
        practice=request.practice,
        clinical=clinical,
        creating=False,
    )
    if request.method == "POST" and form.is_valid():
        saved = submit(
            form,
            lambda: services.patient_update(
                **acting(request, patient=patient), data=form.cleaned_values()
            ),
            opened=lambda: _patient_initial(_lock_patient(request, patient), clinical),
        )
        if saved:
            return done(request, "Patient details saved.", _CHART, patient_id=patient.pk)
    else:
        audit.read(request.membership, patient, patient_id=patient.pk)
    return form_page(request, "patients/patient_form.html", form, patient=patient, new=False)


@page(Capability.VIEW_PRACTICE, "GET")
def patient_detail(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = selectors.patient_get(practice=request.practice, patient_id=patient_id)
    audit.read(request.membership, patient, patient_id=patient.pk)
    context = chart_context(request, patient)
    return render(request, "patients/patient_detail.html", context)


def chart_context(request: PracticeRequest, patient: Patient, **extra: Any) -> dict[str, Any]:
    """The chart page's context; care plan and time panels come from their apps (hooks.py)."""
    panels: dict[str, Any] = {}
    for panel in chart_panels:
        panels.update(panel(request, patient, extra))
    return {
        "patient": patient,
        **panels,
        "today": request.practice.today(),
        "verdict": services.patient_eligibility(patient),
        "consent": services.current_consent(patient),
        "clinical": _is_clinical(request),
        "condition_form": extra.get("condition_form") or ConditionForm(),
        "reason_form": ReasonForm(),
        **extra,
    }


@page(Capability.EDIT_CLINICAL, "POST")
def condition_add(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = selectors.patient_get(practice=request.practice, patient_id=patient_id)
    form = ConditionForm(request.POST)
    saved = save_form(request, form, services.condition_add, patient=patient)
    if saved:
        return done(request, "Condition added.", _CHART, patient_id=patient.pk)
    patient = selectors.patient_get(practice=request.practice, patient_id=patient.pk)
    audit.read(request.membership, patient, patient_id=patient.pk)  # the chart is shown again
    context = chart_context(request, patient, condition_form=form)
    return render(request, "patients/patient_detail.html", context, status=400)


def _confirmed(request: PracticeRequest) -> bool:
    """Only the confirmation page's own button acts: any other request (a GET, an old form,
    a replayed POST without the field) shows the confirmation page and changes nothing."""
    return request.method == "POST" and request.POST.get("confirm") == "yes"


def _confirm_page(
    request: PracticeRequest, template: str, patient: Patient, status: int = 200, **context: Any
) -> HttpResponse:
    audit.read(request.membership, patient, patient_id=patient.pk)  # the page names the patient
    context = {"patient": patient, "cancel_url": _chart_url(patient), **context}
    return render(request, template, context, status=status)


def _chart_url(patient: Patient) -> str:
    return reverse(_CHART, kwargs={"patient_id": patient.pk})


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def condition_resolve(request: PracticeRequest, patient_id: str, condition_id: str) -> HttpResponse:
    patient = selectors.patient_get(practice=request.practice, patient_id=patient_id)
    condition = get_for_practice_or_404(Condition, request.practice, condition_id)
    if condition.patient_id != patient.pk:
        raise Http404
    if condition.status != ConditionStatus.ACTIVE:
        messages.info(request, f"{condition.icd10_code} is already resolved.")
        return redirect(_CHART, patient_id=patient.pk)
    if _confirmed(request):
        services.condition_resolve(
            practice=request.practice,
            actor=request.membership,
            condition=condition,
            resolved_on=request.practice.today(),
        )
        messages.success(request, f"{condition.icd10_code} marked resolved.")
        return redirect(_CHART, patient_id=patient.pk)
    return _confirm_page(
        request,
        "patients/condition_resolve.html",
        patient,
        condition=condition,
        today=request.practice.today(),
        r4=services.r4_after_resolving(patient, condition),
    )


@page(Capability.EDIT_CLINICAL)
def consent_new(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = selectors.patient_get(practice=request.practice, patient_id=patient_id)
    form = ConsentForm(
        request.POST or None,
        request.FILES or None,
        initial={"given_on": request.practice.today(), "method": "verbal"},
    )
    saved = request.method == "POST" and save_form(
        request, form, services.consent_record, patient=patient
    )
    if saved:
        return done(request, "Consent recorded.", _CHART, patient_id=patient.pk)
    if request.method == "GET":
        audit.read(request.membership, patient, patient_id=patient.pk)
    context = {
        "patient": patient,
        "practice": request.practice,
        "cost_share": _cost_share(request, patient),
        "script_language": patient_locale(patient),  # the script is read in their language
    }
    return form_page(request, "patients/consent_form.html", form, **context)


def _cost_share(request: PracticeRequest, patient: Patient) -> CostShare | None:
    """The patient's estimated CCM cost share this month, for the consent script (hooks.py:
    billing knows the amounts); None when no app answers."""
    month = request.practice.this_month()
    for estimate in cost_share:
        answer = estimate(request.practice, patient, month)
        if answer is not None:
            return answer
    return None


def _consent_of(request: PracticeRequest, patient_id: str, consent_id: str) -> Consent:
    patient = get_for_practice_or_404(Patient, request.practice, patient_id)
    consent = get_for_practice_or_404(Consent, request.practice, consent_id)
    if consent.patient_id != patient.pk:
        raise Http404
    return consent


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def consent_revoke(request: PracticeRequest, patient_id: str, consent_id: str) -> HttpResponse:
    consent = _consent_of(request, patient_id, consent_id)
    patient = selectors.patient_get(practice=request.practice, patient_id=consent.patient_id)
    if consent.revoked_on is not None:
        messages.info(request, services.REVOKED_ALREADY_MESSAGE)
        return redirect(_CHART, patient_id=patient.pk)
    today = request.practice.today()
    if _confirmed(request):
        form = RevokeForm(request.POST)
        saved = save_form(request, form, services.consent_revoke, consent=consent)
        if saved:
            return done(request, REVOKED_MESSAGE, _CHART, patient_id=patient.pk)
    else:  # shown again with what was typed, or today's date
        typed = {k: request.POST[k] for k in ("revoked_on", "reason") if request.POST.get(k)}
        form = RevokeForm(initial={"revoked_on": today, **typed})
    return _confirm_page(
        request,
        "patients/consent_revoke.html",
        patient,
        status=400 if form.errors else 200,
        consent=consent,
        form=form,
    )


@page(Capability.VIEW_PRACTICE, "GET")
def consent_form_file(request: PracticeRequest, patient_id: str, consent_id: str) -> FileResponse:
    """The signed consent form: only through this tenant-checked, audited view."""
    consent = _consent_of(request, patient_id, consent_id)
    if not consent.signed_form:
        raise Http404
    audit.read(request.membership, consent, patient_id=consent.patient_id)
    response = FileResponse(consent.signed_form.open("rb"), content_type=consent.signed_form_type)
    response["Content-Disposition"] = f'inline; filename="consent-{consent.pk}"'
    return response


@page(Capability.EDIT_CLINICAL, "POST")
def patient_transition(request: PracticeRequest, patient_id: str, action: str) -> HttpResponse:
    patient = get_for_practice_or_404(Patient, request.practice, patient_id)
    reason = ReasonForm(request.POST)
    text = reason.cleaned_data["reason"] if reason.is_valid() else ""
    kwargs = acting(request, patient=patient)
    try:
        if action == "enroll":
            services.patient_enroll(**kwargs)
            messages.success(request, "Enrolled in CCM.")
        elif action == "decline":
            services.patient_decline(**kwargs, reason=text)
            messages.success(request, "Recorded that the patient declined CCM.")
        else:
            raise Http404
    except ValidationError as exc:
        flash_error(request, exc, each=True)
    return redirect(_CHART, patient_id=patient.pk)


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def patient_disenroll(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = selectors.patient_get(practice=request.practice, patient_id=patient_id)
    if patient.status != Status.ENROLLED:
        messages.error(request, services.DISENROLL_STATUS_MESSAGE)
        return redirect(_CHART, patient_id=patient.pk)
    if _confirmed(request):
        form = DisenrollForm(request.POST)
        saved = save_form(request, form, services.patient_disenroll, patient=patient)
        if saved:
            return done(request, "Disenrolled from CCM.", _CHART, patient_id=patient.pk)
    else:
        form = DisenrollForm(initial={"reason": request.POST.get("reason", "")})
    return _confirm_page(
        request,
        "patients/patient_disenroll.html",
        patient,
        status=400 if form.errors else 200,
        form=form,
        today=request.practice.today(),
    )


# --- EHR candidate-list import ----------------------------------------------------------------


def _import_format() -> dict[str, Any]:
    return {
        "columns": imports.LABELS.values(),
        "max_mb": settings.PATIENT_IMPORT_MAX_BYTES // (1024 * 1024),
    }


def _import_columns(record: PatientImport) -> dict[str, Any]:
    recognised, ignored = imports.file_columns(record.content)
    return {"recognised": recognised, "ignored": ignored}


IMPORT_PAGES = csv_import_pages.ImportPages(
    imports.KIND,
    PatientImportForm,
    templates="patients",
    detail="patients:import-detail",
    upload_extra=_import_format,
    detail_extra=_import_columns,
)
import_upload, import_detail = IMPORT_PAGES.views(Capability.EDIT_CLINICAL, id_name="import_id")
