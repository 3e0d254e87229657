"""Care transitions on the chart (timeline, record form) and their pages: recording with a
PDF, refusals shown on the form with nothing saved, the document served only to the
practice's members, roles, GET changing nothing, a fixed query count for the timeline."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from careplans import transition_services as ts
from careplans.models import CareTransition
from ccm.tenancy import practice_scope
from tests.careplans.conftest import TODAY
from tests.careplans.transition_data import PDF, fake_pdf, pdf, specialist
from tests.helpers import assert_form_error, audited
from timelog.models import Task

pytestmark = pytest.mark.usefixtures("frozen", "media")


def new_url(patient):
    return f"/care-plans/patient/{patient.pk}/transitions/new/"


def chart(patient):
    return f"/patients/{patient.pk}/"


def form(**overrides):
    return {
        "kind": "hospital_discharge",
        "occurred_on": str(TODAY - dt.timedelta(days=2)),
        "admitted_on": str(TODAY - dt.timedelta(days=6)),
        "facility": "Mercy General Hospital",
        "diagnoses": "CHF exacerbation",
        "note": "Furosemide increased.",
        **overrides,
    }


def record(practice, coordinator, patient, **overrides):
    data = {**form(), "document": None, **overrides}
    data["occurred_on"] = dt.date.fromisoformat(data["occurred_on"])
    data["admitted_on"] = dt.date.fromisoformat(data["admitted_on"])
    with practice_scope(practice):
        return ts.transition_record(practice=practice, actor=coordinator, patient=patient, **data)


def test_the_coordinator_records_a_discharge_with_its_summary(coordinator_client, patient, signed):
    response = coordinator_client.post(new_url(patient), {**form(), "document": pdf()})
    assert response.status_code == 302
    assert response["Location"] == f"{chart(patient)}#transitions"
    transition = CareTransition.objects.unscoped().get()
    assert transition.document_type == "application/pdf"
    page = coordinator_client.get(chart(patient)).content.decode()
    timeline = page.split('id="transitions"')[1].split("</section>")[0]
    assert "Hospital discharge, Mercy General Hospital" in timeline
    assert "CHF exacerbation" in timeline
    assert "Follow-up call after discharge" in timeline
    assert "Reconcile medicines after discharge" in timeline
    assert f"/care-plans/transitions/{transition.pk}/document/" in timeline
    # The care plan's review came forward (discharge + 14 days).
    assert str(TODAY + dt.timedelta(days=12)) in page


def test_a_fake_pdf_is_refused_on_the_form_and_nothing_is_saved(coordinator_client, patient):
    response = coordinator_client.post(new_url(patient), {**form(), "document": fake_pdf()})
    assert_form_error(response, ts.DOCUMENT_TYPE_MESSAGE)
    assert not CareTransition.objects.unscoped().exists()
    assert not Task.objects.unscoped().exists()


def test_a_future_date_is_refused_on_the_form(coordinator_client, patient):
    response = coordinator_client.post(
        new_url(patient), form(occurred_on=str(TODAY + dt.timedelta(days=1)))
    )
    assert_form_error(response, ts.FUTURE_MESSAGE)
    assert not CareTransition.objects.unscoped().exists()


def test_the_form_offers_the_patients_practitioners(coordinator_client, patient, practice):
    with practice_scope(practice):
        hart = specialist(patient)
    page = coordinator_client.get(new_url(patient)).content.decode()
    assert "Dr. Hart (Cardiologist)" in page
    response = coordinator_client.post(
        new_url(patient),
        form(kind="specialist_visit", admitted_on="", contact=str(hart.pk), facility="Heart"),
    )
    assert response.status_code == 302
    assert CareTransition.objects.unscoped().get().contact_id == hart.pk


def test_get_changes_nothing(coordinator_client, patient):
    assert coordinator_client.get(new_url(patient)).status_code == 200
    assert not CareTransition.objects.unscoped().exists()


def test_a_biller_gets_403(biller_client, patient):
    assert biller_client.post(new_url(patient), form()).status_code == 403
    assert not CareTransition.objects.unscoped().exists()


def test_the_document_is_served_to_members_and_audited(
    physician_client, practice, coordinator, patient
):
    transition = record(practice, coordinator, patient, document=pdf())
    response = physician_client.get(f"/care-plans/transitions/{transition.pk}/document/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "summary" not in response["Content-Disposition"]  # never the uploaded name
    assert b"".join(response.streaming_content) == PDF
    assert audited("caretransition.read", object_id=str(transition.pk))


def test_an_outsider_gets_404(outsider_client, practice, coordinator, patient):
    transition = record(practice, coordinator, patient, document=pdf())
    assert (
        outsider_client.get(f"/care-plans/transitions/{transition.pk}/document/").status_code == 404
    )
    assert outsider_client.post(new_url(patient), form()).status_code == 404
    assert CareTransition.objects.unscoped().count() == 1


def test_no_document_is_404(coordinator_client, practice, coordinator, patient):
    transition = record(practice, coordinator, patient)
    assert (
        coordinator_client.get(f"/care-plans/transitions/{transition.pk}/document/").status_code
        == 404
    )


def test_a_physician_sees_the_timeline_and_may_record(
    physician_client, practice, coordinator, patient
):
    record(practice, coordinator, patient)
    page = physician_client.get(chart(patient)).content.decode()
    assert "Mercy General Hospital" in page
    assert "Record a transition" in page  # physicians are clinical (EDIT_CLINICAL)


def test_the_reconciliation_task_links_to_the_reconciliation_page(
    coordinator_client, practice, coordinator, patient
):
    transition = record(practice, coordinator, patient)
    task = Task.objects.unscoped().get(transition=transition, kind="med_reconciliation")
    page = coordinator_client.get(f"/tasks/{task.pk}/").content.decode()
    try:  # the medication part's page, once merged; the chart until then
        target = reverse("patients:medication-reconcile", kwargs={"patient_id": patient.pk})
    except NoReverseMatch:
        target = reverse("patients:patient-detail", kwargs={"patient_id": patient.pk})
    assert re.search(rf'href="{re.escape(target)}">Reconcile the medicines<', page)


def test_the_timeline_costs_the_same_queries_with_more_transitions(
    coordinator_client, practice, coordinator, patient
):
    record(practice, coordinator, patient)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert coordinator_client.get(chart(patient)).status_code == 200
        return len(queries)

    coordinator_client.get(chart(patient))
    before = count()
    for days in range(10, 40, 6):
        record(
            practice, coordinator, patient,
            occurred_on=str(TODAY - dt.timedelta(days=days)),
            admitted_on=str(TODAY - dt.timedelta(days=days + 2)),
            document=pdf(),
        )  # fmt: skip
    assert count() == before
