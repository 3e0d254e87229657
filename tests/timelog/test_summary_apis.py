"""After-contact summary API: POST /api/v1/contacts/{id}/summaries/, GET
/api/v1/patients/{id}/summaries/, GET /api/v1/summaries/{id}/ and its /pdf/. Clinical members
write (a biller gets 403), every role reads; the outsider gets 404; refusals are 400s naming
the field with nothing saved; audited."""

import pytest

from ccm.api import REFERENCE_MESSAGE
from tests.factories import (
    ContactSummaryFactory,
    PatientFactory,
    SummaryAttemptFactory,
    SummaryCaregiverFactory,
)
from tests.helpers import audited, frozen_clock, token_client
from tests.timelog.conftest import NOW
from tests.timelog.summary_data import GOOD, pdf_text
from timelog import summary_services as ss
from timelog.models import ContactSummary

_frozen = frozen_clock(NOW, autouse=True)
pytestmark = pytest.mark.django_db


def create_url(attempt):
    return f"/api/v1/contacts/{attempt.pk}/summaries/"


def list_url(patient_id):
    return f"/api/v1/patients/{patient_id}/summaries/"


def _count():
    return ContactSummary.objects.unscoped().count()


def test_writing_a_summary_for_the_permitted_daughter(coordinator, reached, daughter):
    body = {**GOOD, "shared_with": str(daughter.pk), "shared_on": "2026-10-20"}
    response = token_client(coordinator).post(create_url(reached), body, format="json")
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["language"] == "es"
    assert answer["shared_with"] == {
        "id": str(daughter.pk),
        "name": "Rosa Diaz",
        "relationship": "Daughter",
    }
    assert answer["contact_attempt"] == str(reached.pk)
    assert answer["created_by"]["id"] == str(coordinator.pk)
    assert audited("contactsummary.create", object_id=answer["id"])


def test_the_patient_is_the_default_recipient(coordinator, reached):
    response = token_client(coordinator).post(create_url(reached), GOOD, format="json")
    assert response.status_code == 201
    assert response.json()["shared_with"] is None
    assert response.json()["shared_on"] == "2026-10-20"


def test_a_caregiver_without_permission_is_a_400(coordinator, reached, son):
    body = {**GOOD, "shared_with": str(son.pk)}
    response = token_client(coordinator).post(create_url(reached), body, format="json")
    assert response.status_code == 400
    assert response.json()["shared_with"] == [ss.NOT_PERMITTED_MESSAGE]
    assert _count() == 0


def test_another_practices_caregiver_is_a_404(coordinator, reached, other_practice):
    elsewhere = SummaryCaregiverFactory(patient=PatientFactory(practice=other_practice))
    body = {**GOOD, "shared_with": str(elsewhere.pk)}
    response = token_client(coordinator).post(create_url(reached), body, format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == REFERENCE_MESSAGE.format(field="shared_with")
    assert _count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"do_now": ""}, "do_now"),
        ({"talked_about": "x" * 451}, "talked_about"),
        ({"shared_method": "pigeon"}, "shared_method"),
        ({"shared_on": "2026-10-21"}, "shared_on"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(coordinator, reached, change, field):
    response = token_client(coordinator).post(
        create_url(reached), {**GOOD, **change}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert _count() == 0


def test_an_unanswered_call_is_a_400(coordinator, spanish_patient):
    voicemail = SummaryAttemptFactory(
        patient=spanish_patient, outcome="no_answer", recorded_by=coordinator
    )
    response = token_client(coordinator).post(create_url(voicemail), GOOD, format="json")
    assert response.status_code == 400
    assert ss.NOT_REACHED_MESSAGE in str(response.json())
    assert _count() == 0


def test_a_biller_may_not_write_but_reads(biller, reached):
    client = token_client(biller)
    assert client.post(create_url(reached), GOOD, format="json").status_code == 403
    summary = ContactSummaryFactory(contact_attempt=reached)
    assert client.get(list_url(reached.patient_id)).status_code == 200
    assert client.get(f"/api/v1/summaries/{summary.pk}/").status_code == 200
    assert _count() == 1


def test_the_outsider_gets_404(outsider, reached):
    summary = ContactSummaryFactory(contact_attempt=reached)
    client = token_client(outsider)
    assert client.post(create_url(reached), GOOD, format="json").status_code == 404
    for url in (
        list_url(reached.patient_id),
        f"/api/v1/summaries/{summary.pk}/",
        f"/api/v1/summaries/{summary.pk}/pdf/",
    ):
        assert client.get(url).status_code == 404
    assert _count() == 1


def test_the_list_has_a_fixed_query_count(admin, reached, daughter, django_assert_num_queries):
    for n in range(8):
        attempt = SummaryAttemptFactory(patient=reached.patient, recorded_by=reached.recorded_by)
        ContactSummaryFactory(contact_attempt=attempt, shared_with=daughter if n % 2 else None)
    client = token_client(admin)
    client.get(list_url(reached.patient_id))
    # The same count for 1 or 100 rows: recipients and authors come in the page's one query.
    with django_assert_num_queries(6):
        response = client.get(f"{list_url(reached.patient_id)}?page_size=100")
    assert response.json()["count"] == 8
    assert audited("contactsummary.list", patient_id=reached.patient_id)


def test_reading_one_and_its_pdf(physician, reached, tmp_path):
    summary = ContactSummaryFactory(contact_attempt=reached, language="es")
    client = token_client(physician)
    detail = client.get(f"/api/v1/summaries/{summary.pk}/")
    assert detail.json()["do_now"] == summary.do_now
    assert audited("contactsummary.read", object_id=summary.pk)
    pdf = client.get(f"/api/v1/summaries/{summary.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert "Qué hacer ahora" in pdf_text(pdf.content, tmp_path)
    assert audited("contactsummary.pdf", object_id=summary.pk)
