"""After-contact summary pages: write one from a reached contact, see it, download its
one-page PDF in the patient's language (audited); the chart lists what was given; the
practice's 24/7 number is edited in its settings. Outsider 404, biller 403 on writes, GET
changes nothing, bad input 400 with nothing saved."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ccm.models import Practice
from tests.factories import ContactSummaryFactory, SummaryAttemptFactory
from tests.helpers import assert_form_error, audited, frozen_clock
from tests.timelog.conftest import NOW
from tests.timelog.summary_data import GOOD, pdf_pages, pdf_text
from timelog import summary_services as ss
from timelog.models import ContactSummary

_frozen = frozen_clock(NOW, autouse=True)


def new_url(attempt):
    return f"/contacts/{attempt.pk}/summary/new/"


def _summaries():
    return ContactSummary.objects.unscoped()


@pytest.fixture
def phones(practice):
    practice.phone = "(217) 555-0100"
    practice.after_hours_phone = "(217) 555-0199"
    practice.save(update_fields=["phone", "after_hours_phone"])
    return practice


def test_the_coordinator_writes_a_summary_for_the_permitted_daughter(
    coordinator_client, reached, daughter, phones
):
    page = coordinator_client.get(new_url(reached)).content.decode()
    assert "Rosa Diaz (Daughter): permitted" in page
    assert "prints in Spanish" in page
    response = coordinator_client.post(
        new_url(reached), {**GOOD, "shared_with": daughter.pk, "shared_on": "2026-10-20"}
    )
    summary = _summaries().get()
    assert response.status_code == 302
    assert response["Location"] == f"/summaries/{summary.pk}/"
    assert summary.shared_with == daughter
    assert summary.language == "es"
    detail = coordinator_client.get(response["Location"]).content.decode()
    assert "Download PDF (Spanish)" in detail
    assert "Rosa Diaz" in detail
    assert GOOD["do_now"] in detail


def test_the_pdf_is_one_page_in_spanish_and_audited(
    coordinator_client, practice, reached, daughter, phones, tmp_path
):
    summary = ContactSummaryFactory(
        contact_attempt=reached, language="es", shared_with=daughter, watch_for="Mareos."
    )
    response = coordinator_client.get(f"/summaries/{summary.pk}/pdf/")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="summary-{summary.pk}.pdf"'
    text = pdf_text(response.content, tmp_path)
    assert "Resumen de nuestra conversación" in text
    assert "Qué hacer ahora" in text
    assert "A qué estar atento" in text
    assert "(217) 555-0199" in text  # the 24/7 number
    assert "Sunrise Clinic" in text
    assert reached.patient.last_name in text
    assert "entregado a Rosa Diaz" in text
    assert GOOD["do_now"] in text  # the coordinator's words stay as written
    assert "What to do now" not in text
    assert pdf_pages(response.content, tmp_path) == 1
    assert audited("contactsummary.pdf", patient_id=reached.patient_id, object_id=summary.pk)


def test_an_english_summary_prints_in_english(coordinator_client, reached, tmp_path):
    summary = ContactSummaryFactory(contact_attempt=reached, language="en")
    text = pdf_text(coordinator_client.get(f"/summaries/{summary.pk}/pdf/").content, tmp_path)
    assert "Summary of our conversation" in text
    assert "What to do now" in text
    assert "Resumen" not in text


def test_the_longest_summary_still_fits_on_one_page(coordinator_client, reached, phones, tmp_path):
    words = ("Palabra " * 80)[: ss.MAX_LENGTHS["talked_about"]]
    summary = ContactSummaryFactory(
        contact_attempt=reached,
        language="es",
        talked_about=words,
        do_now=words,
        watch_for=words,
        whom_to_call=words[: ss.MAX_LENGTHS["whom_to_call"]],
    )
    body = coordinator_client.get(f"/summaries/{summary.pk}/pdf/").content
    assert pdf_pages(body, tmp_path) == 1


def test_many_short_lines_print_smaller_on_one_page(coordinator_client, reached, tmp_path):
    # As many lines as allowed, the last one long: more than the large print holds.
    long = "Tome la pastilla azul con el desayuno y la rosada con la cena, con agua. " * 3
    lines = "\n".join([*(f"{n}. Paso" for n in range(7)), long])
    summary = ContactSummaryFactory(
        contact_attempt=reached,
        language="es",
        talked_about=lines,
        do_now=lines,
        watch_for=lines,
        whom_to_call="\n".join(["Enfermera Kim"] * 4),
    )
    body = coordinator_client.get(f"/summaries/{summary.pk}/pdf/").content
    assert pdf_pages(body, tmp_path) == 1
    assert "6. Paso" in pdf_text(body, tmp_path)


def test_sharing_with_a_caregiver_without_permission_is_refused(coordinator_client, reached, son):
    response = coordinator_client.post(
        new_url(reached), {**GOOD, "shared_with": son.pk, "shared_on": "2026-10-20"}
    )
    assert_form_error(response, ss.NOT_PERMITTED_MESSAGE)
    assert not _summaries().exists()


def test_bad_input_is_a_400_and_saves_nothing(coordinator_client, reached):
    response = coordinator_client.post(
        new_url(reached), {**GOOD, "do_now": "", "shared_on": "2026-10-20"}
    )
    assert_form_error(response, ss.REQUIRED_MESSAGE)
    assert not _summaries().exists()


def test_an_unanswered_call_offers_no_form(coordinator_client, coordinator, spanish_patient):
    voicemail = SummaryAttemptFactory(
        patient=spanish_patient, outcome="voicemail", recorded_by=coordinator
    )
    page = coordinator_client.get(new_url(voicemail)).content.decode()
    assert ss.NOT_REACHED_MESSAGE in page
    assert "Record as shared" not in page
    response = coordinator_client.post(new_url(voicemail), {**GOOD, "shared_on": "2026-10-20"})
    assert_form_error(response, ss.NOT_REACHED_MESSAGE)


def test_get_changes_nothing(coordinator_client, reached):
    assert coordinator_client.get(new_url(reached), GOOD).status_code == 200
    assert not _summaries().exists()


def test_a_biller_reads_but_may_not_write(biller_client, reached):
    summary = ContactSummaryFactory(contact_attempt=reached)
    assert biller_client.get(new_url(reached)).status_code == 403
    assert biller_client.post(new_url(reached), GOOD).status_code == 403
    assert biller_client.get(f"/summaries/{summary.pk}/").status_code == 200
    assert biller_client.get(f"/summaries/{summary.pk}/pdf/").status_code == 200
    assert _summaries().count() == 1


def test_the_outsider_gets_404(outsider_client, reached):
    summary = ContactSummaryFactory(contact_attempt=reached)
    for url in (new_url(reached), f"/summaries/{summary.pk}/", f"/summaries/{summary.pk}/pdf/"):
        assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(new_url(reached), GOOD).status_code == 404
    assert _summaries().count() == 1


def test_the_chart_lists_the_summaries_given(coordinator_client, reached, daughter):
    ContactSummaryFactory(
        contact_attempt=reached, language="es", shared_with=daughter, shared_method="mail"
    )
    page = coordinator_client.get(f"/patients/{reached.patient_id}/").content.decode()
    assert 'id="summaries"' in page
    assert "Rosa Diaz" in page
    assert "Mailed" in page
    assert "Spanish" in page
    assert new_url(reached) in page  # write a summary of the reached contact
    assert "(summary given)" in page


def test_the_chart_costs_the_same_queries_with_more_summaries(
    coordinator_client, reached, daughter
):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert coordinator_client.get(f"/patients/{reached.patient_id}/").status_code == 200
        return len(queries)

    ContactSummaryFactory(contact_attempt=reached)
    coordinator_client.get(f"/patients/{reached.patient_id}/")
    before = count()
    for n in range(6):
        attempt = SummaryAttemptFactory(patient=reached.patient, recorded_by=reached.recorded_by)
        ContactSummaryFactory(contact_attempt=attempt, shared_with=daughter if n % 2 else None)
    assert count() == before


def test_the_admin_sets_the_24_7_number_in_practice_settings(admin_client, practice):
    page = admin_client.get("/practice/settings/").content.decode()
    assert "24/7 care team phone" in page
    data = {
        "name": practice.name,
        "time_zone": practice.time_zone,
        "after_hours_phone": "(217) 555-0199",
        "inactivity_timeout_minutes": 30,
        "timer_confirm_minutes": 60,
        "care_plan_review_months": 12,
    }
    response = admin_client.post("/practice/settings/", {**_settings(practice), **data})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Practice.objects.get(pk=practice.pk).after_hours_phone
    assert audited("practice.update", changed_fields__contains=["after_hours_phone"])


def _settings(practice):
    from ccm.forms import PracticeSettingsForm

    form = PracticeSettingsForm(instance=practice)
    return {name: value for name, value in form.initial.items() if value is not None}
