"""After-contact summary pages (issue 17, item 7): write one from a reached contact, see it,
download its one-page PDF in the patient's language. Clinical members write; every member
reads. The rules are timelog.summary_services'."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from ccm import audit
from ccm.pages import done, form_page, page, save_form
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest
from patients.language import patient_locale
from timelog import summary_pdf, summary_selectors, summary_services
from timelog.summary_forms import SummaryForm

CREATED_MESSAGE = "Summary recorded as shared. Download the PDF to print, mail or hand over."
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


@page(Capability.LOG_TIME, "GET", "POST")
def summary_new(request: PracticeRequest, attempt_id: str) -> HttpResponse:
    attempt = summary_selectors.attempt_get(practice=request.practice, attempt_id=attempt_id)
    patient = attempt.patient
    today = request.practice.today()
    form = SummaryForm(
        request.POST or None,
        practice=request.practice,
        patient=patient,
        today=today,
        initial={"shared_on": today, "shared_method": "in_person"},
    )
    if request.method == "POST":
        saved = save_form(request, form, summary_services.summary_create, attempt=attempt)
        if saved:
            return done(request, CREATED_MESSAGE, "timelog:summary-detail", saved.result.pk)
    else:
        audit.read(request.membership, attempt, patient_id=patient.pk)
    chart = reverse("patients:patient-detail", kwargs={"patient_id": patient.pk})
    language = patient_locale(patient)
    return form_page(
        request,
        "timelog/summary_form.html",
        form,
        attempt=attempt,
        patient=patient,
        practice=request.practice,
        language=LANGUAGE_NAMES[language],
        cancel_url=f"{chart}#summaries",
        not_reached=summary_services.NOT_REACHED_MESSAGE,
    )


@page(Capability.VIEW_PRACTICE, "GET")
def summary_detail(request: PracticeRequest, summary_id: str) -> HttpResponse:
    summary = summary_selectors.summary_get(practice=request.practice, summary_id=summary_id)
    audit.read(request.membership, summary, patient_id=summary.patient_id)
    context = {
        "summary": summary,
        "patient": summary.patient,
        "practice": request.practice,
        "language": LANGUAGE_NAMES.get(summary.language, summary.language),
    }
    return render(request, "timelog/summary_detail.html", context)


@page(Capability.VIEW_PRACTICE, "GET")
def summary_pdf_download(request: PracticeRequest, summary_id: str) -> HttpResponse:
    """The summary as a PDF: only through this tenant-checked, audited view."""
    summary = summary_selectors.summary_get(practice=request.practice, summary_id=summary_id)
    return summary_pdf.download(membership=request.membership, summary=summary)
