"""Pages of contact attempts (issue 17): "Log a contact" from the chart."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from ccm import audit
from ccm.pages import acting, done, page, submit
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest, get_for_practice_or_404
from patients.models import Patient
from patients.views import chart_context
from timelog import contact_services
from timelog.contact_panels import contact_form


@page(Capability.LOG_TIME, "POST")
def contact_new(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = get_for_practice_or_404(Patient, request.practice, patient_id)
    form = contact_form(request, patient, request.POST)
    saved = submit(
        form,
        lambda: contact_services.contact_attempt_record(
            **acting(request, patient=patient),
            data=form.attempt_input(),
            occurred_at=form.cleaned_data["occurred_at"],
        ),
    )
    if saved:
        chart = reverse("patients:patient-detail", kwargs={"patient_id": patient.pk})
        return done(request, "Contact recorded.", chart + "#contacts")
    audit.read(request.membership, patient, patient_id=patient.pk)  # the chart is shown again
    context = chart_context(request, patient, contact_form=form)
    return render(request, "patients/patient_detail.html", context, status=400)
