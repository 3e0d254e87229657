"""Care transition pages: record one (the chart's form posts here; errors come back on this
page with nothing saved) and the attached document, served only through this tenant-checked,
audited view. The chart's timeline is careplans/panels.py's."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse

from careplans import transition_selectors, transition_services
from careplans.models import DISCHARGE_KINDS
from careplans.transition_forms import TransitionForm
from ccm import audit
from ccm.pages import done, form_page, page, save_form
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest, get_for_practice_or_404
from patients.models import Patient

_CHART = "patients:patient-detail"
RECORDED_MESSAGE = "Transition recorded."
DISCHARGE_MESSAGE = (
    "Transition recorded: a follow-up call is due within 2 business days and the medicines "
    "are to be reconciled (see the tasks below)."
)


def transition_form(request: PracticeRequest, patient: Patient, data: Any = None) -> TransitionForm:
    """The record form, its contact choices the patient's practitioners and agencies."""
    contacts = transition_selectors.transition_contacts(
        practice=request.practice, patient_id=patient.pk
    )
    files = request.FILES if data is not None else None
    initial = {"kind": "hospital_discharge", "occurred_on": request.practice.today()}
    return TransitionForm(data, files, contacts=contacts, initial=initial)


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def transition_new(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = get_for_practice_or_404(Patient, request.practice, patient_id)
    form = transition_form(request, patient, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        saved = save_form(request, form, transition_services.transition_record, patient=patient)
        if saved:
            message = (
                DISCHARGE_MESSAGE if saved.result.kind in DISCHARGE_KINDS else RECORDED_MESSAGE
            )
            url = reverse(_CHART, kwargs={"patient_id": patient.pk})
            return done(request, message, f"{url}#transitions")
    else:
        audit.read(request.membership, patient, patient_id=patient.pk)
    chart = reverse(_CHART, kwargs={"patient_id": patient.pk})
    context = {"patient": patient, "cancel_url": f"{chart}#transitions"}
    return form_page(request, "careplans/transition_form.html", form, **context)


@page(Capability.VIEW_PRACTICE, "GET")
def transition_document(request: PracticeRequest, transition_id: str) -> FileResponse:
    """The discharge summary or visit note: only to members of the practice, audited."""
    transition = transition_selectors.transition_get(
        practice=request.practice, transition_id=transition_id
    )
    return document_response(request.membership, transition)


def document_response(membership: Any, transition: Any) -> FileResponse:
    """The stored document as a download-safe response (the type we sniffed, never a name the
    uploader chose), its read audited; 404 when none is attached."""
    if not transition.document:
        raise Http404
    audit.read(membership, transition, patient_id=transition.patient_id)
    response = FileResponse(transition.document.open("rb"), content_type=transition.document_type)
    extension = transition.document.name.rsplit(".", 1)[-1]
    response["Content-Disposition"] = f'inline; filename="transition-{transition.pk}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
