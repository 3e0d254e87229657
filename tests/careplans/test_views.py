"""Care plan pages: start from templates, edit with rows, send, sign with re-authentication,
copy and PDF, diff, queue, templates; roles, outsiders, bad input, signed 409."""

import re
import subprocess

import pytest

from careplans import services
from careplans.models import CarePlanCopy, CarePlanVersion, VersionStatus
from ccm.tenancy import practice_scope
from tests.careplans.conftest import COMPLETE
from tests.factories import PASSWORD, medicines_reconciled
from tests.helpers import audited

pytestmark = pytest.mark.usefixtures("frozen")


def _post_content(data):
    """The editor's field names (SECTION-KEY-FIELD) for a content dict."""
    body = {}
    for key, value in data.items():
        if isinstance(value, list):
            for i, row in enumerate(value):
                for field, cell in row.items():
                    body[f"{key}-r{i}-{field}"] = cell
        else:
            body[key] = value
    return body


def test_a_coordinator_starts_a_draft_from_the_chart_with_templates(coordinator_client, patient):
    chart = coordinator_client.get(f"/patients/{patient.pk}/")
    assert "Start a care plan" in chart.content.decode()
    page = coordinator_client.get(f"/care-plans/patient/{patient.pk}/start/")
    assert "Diabetes" in page.content.decode()
    response = coordinator_client.post(f"/care-plans/patient/{patient.pk}/start/", {})
    version = CarePlanVersion.objects.unscoped().get()
    assert response["Location"] == f"/care-plans/{version.pk}/edit/"
    editor = coordinator_client.get(response["Location"]).content.decode()
    assert "Lower average blood sugar" in editor  # the Diabetes template's goal
    assert 'hx-get="/care-plans/' in editor  # add a row without a reload


def test_the_editor_saves_rows_drops_removed_ones_and_lists_what_is_missing(
    coordinator_client, draft
):
    body = _post_content({**COMPLETE, "prognosis": ""})
    body["goals-r9-goal"] = "Walk daily"
    body["goals-r9-remove"] = "1"
    response = coordinator_client.post(f"/care-plans/{draft.pk}/edit/", body, follow=True)
    assert "Draft saved." in response.content.decode()
    assert "Prognosis is blank." in response.content.decode()
    draft.refresh_from_db()
    assert [g["goal"] for g in draft.content["goals"]] == ["Lower HbA1c"]


def test_bad_editor_input_is_a_400_and_saves_nothing(coordinator_client, draft):
    before = dict(draft.content)
    body = _post_content(COMPLETE)
    body["goals-r0-due_on"] = "soon"
    response = coordinator_client.post(f"/care-plans/{draft.pk}/edit/", body)
    assert response.status_code == 400
    assert "Give dates as YYYY-MM-DD." in response.content.decode()
    draft.refresh_from_db()
    assert draft.content == before


def test_the_htmx_row_is_a_fragment(coordinator_client, draft):
    response = coordinator_client.get(f"/care-plans/{draft.pk}/row/goals/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert re.search(r'name="goals-\w+-target"', response.content.decode())
    assert coordinator_client.get(f"/care-plans/{draft.pk}/row/nonsense/").status_code == 404


def test_send_then_a_physician_signs_from_the_queue_with_the_password(
    coordinator_client, physician_client, complete_draft
):
    coordinator_client.post(f"/care-plans/{complete_draft.pk}/submit/")
    queue = physician_client.get("/care-plans/queue/").content.decode()
    assert f"/care-plans/{complete_draft.pk}/" in queue
    assert "Open and sign" in queue
    wrong = physician_client.post(f"/care-plans/{complete_draft.pk}/sign/", {"password": "x"})
    assert wrong.status_code == 400
    assert "not right" in wrong.content.decode()
    response = physician_client.post(
        f"/care-plans/{complete_draft.pk}/sign/", {"password": PASSWORD}, follow=True
    )
    assert "signed." in response.content.decode()
    complete_draft.refresh_from_db()
    assert complete_draft.status == VersionStatus.SIGNED
    assert "Nothing is waiting" in physician_client.get("/care-plans/queue/").content.decode()


def test_a_coordinator_cannot_sign(coordinator_client, complete_draft):
    response = coordinator_client.post(
        f"/care-plans/{complete_draft.pk}/sign/", {"password": PASSWORD}
    )
    assert response.status_code == 403
    complete_draft.refresh_from_db()
    assert complete_draft.status == VersionStatus.DRAFT


def test_every_page_write_to_a_signed_version_answers_409(coordinator_client, signed):
    for url in ("edit/", "submit/", "discard/"):
        response = coordinator_client.post(
            f"/care-plans/{signed.pk}/{url}", _post_content(COMPLETE)
        )
        assert response.status_code == 409, url
        assert "can no longer change" in response.content.decode()
    assert coordinator_client.get(f"/care-plans/{signed.pk}/edit/").status_code == 409
    signed.refresh_from_db()
    assert signed.content["caregiver"] == COMPLETE["caregiver"]


def test_the_copy_is_recorded_and_the_pdf_is_plain_and_audited(
    practice, coordinator, coordinator_client, signed, tmp_path
):
    practice.phone = "(555) 010-0199"
    practice.save(update_fields=["phone"])
    response = coordinator_client.post(
        f"/care-plans/{signed.pk}/copy/", {"given_on": "2026-10-20", "method": "in_person"}
    )
    assert response.status_code == 302
    assert CarePlanCopy.objects.unscoped().count() == 1
    pdf = coordinator_client.get(f"/care-plans/{signed.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert str(signed.pk) in pdf["Content-Disposition"]
    path = tmp_path / "plan.pdf"
    path.write_bytes(pdf.content)
    out = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    text = " ".join(out.split())  # lines wrap anywhere in a PDF
    assert "Lower HbA1c" in text
    assert "(555) 010-0199" in text
    assert "24 hours a day" in text
    assert audited("careplanversion.pdf", patient_id=signed.patient_id)


def test_a_bad_copy_date_is_a_400(coordinator_client, signed):
    response = coordinator_client.post(
        f"/care-plans/{signed.pk}/copy/", {"given_on": "2027-01-01", "method": "mail"}
    )
    assert response.status_code == 400
    assert "future" in response.content.decode()
    assert not CarePlanCopy.objects.unscoped().exists()


def test_the_diff_shows_what_a_revision_changed(
    practice, coordinator, physician, coordinator_client, signed, patient
):
    with practice_scope(practice):
        revision = services.draft_start(practice=practice, actor=coordinator, patient=patient)
        services.draft_update(
            practice=practice,
            actor=coordinator,
            version=revision,
            data={"barriers": "Needs a ride to the clinic."},
        )
    page = coordinator_client.get(f"/care-plans/{revision.pk}/diff/").content.decode()
    assert "<del>No car.</del>" in page
    assert "<ins>Needs a ride to the clinic.</ins>" in page


def test_admins_edit_templates_others_get_403(admin_client, coordinator_client, practice):
    services.templates_ensure(practice=practice)
    listing = admin_client.get("/care-plans/templates/").content.decode()
    assert "Heart failure" in listing
    url = re.search(r'href="(/care-plans/templates/[0-9a-f-]+/)">COPD', listing).group(1)
    assert coordinator_client.get(url).status_code == 403
    assert coordinator_client.get("/care-plans/templates/").status_code == 403
    bad = admin_client.post(url, {"name": "COPD", "icd10_prefixes": "??"})
    assert bad.status_code == 400
    ok = admin_client.post(
        url,
        {
            "name": "COPD",
            "icd10_prefixes": "J44",
            "goals": "Walk | 30 min a day | step log",
            "interventions": "Teach inhaler use | Nurse",
            "is_active": "on",
        },
    )
    assert ok.status_code == 302
    listing = admin_client.get("/care-plans/templates/").content.decode()
    assert "J44" in listing


def test_a_biller_reads_but_does_not_edit(biller_client, draft, signed):
    assert biller_client.get(f"/care-plans/{signed.pk}/").status_code == 200
    assert biller_client.get(f"/care-plans/{signed.pk}/pdf/").status_code == 200
    assert biller_client.post(f"/care-plans/{signed.pk}/copy/", {}).status_code == 403
    assert biller_client.get("/care-plans/queue/").status_code == 403


def test_reading_a_version_is_audited(coordinator_client, signed):
    coordinator_client.get(f"/care-plans/{signed.pk}/")
    assert audited("careplanversion.read", patient_id=signed.patient_id)


def test_state_changing_urls_refuse_get(coordinator_client, physician_client, complete_draft):
    for url in ("submit/", "discard/", "copy/"):
        assert coordinator_client.get(f"/care-plans/{complete_draft.pk}/{url}").status_code == 405
    assert physician_client.get(f"/care-plans/{complete_draft.pk}/sign/").status_code == 405


def test_the_diff_of_a_first_version_is_404(coordinator_client, draft):
    assert coordinator_client.get(f"/care-plans/{draft.pk}/diff/").status_code == 404


def test_the_outsider_gets_404(client, outsider, signed, patient):
    client.force_login(outsider.user)
    for url in (f"/care-plans/{signed.pk}/", f"/care-plans/{signed.pk}/pdf/"):
        assert client.get(url).status_code == 404
    assert client.get(f"/care-plans/patient/{patient.pk}/start/").status_code == 404


def test_the_signing_queue_has_a_fixed_query_count(
    practice, physician, coordinator, physician_client
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.careplans.conftest import make_enrolled

    def grow(first, count):
        for n in range(first, first + count):
            with practice_scope(practice):
                patient = make_enrolled(practice, physician, coordinator, mrn=f"Q-{n}")
                medicines_reconciled(patient, coordinator)
                draft = services.draft_start(practice=practice, actor=coordinator, patient=patient)
                services.draft_update(
                    practice=practice, actor=coordinator, version=draft, data=COMPLETE
                )
                services.draft_submit(practice=practice, actor=coordinator, version=draft)

    grow(0, 2)
    physician_client.get("/care-plans/queue/")  # the session's activity stamp
    with CaptureQueriesContext(connection) as few:
        physician_client.get("/care-plans/queue/")
    grow(2, 12)
    with CaptureQueriesContext(connection) as many:
        body = physician_client.get("/care-plans/queue/").content.decode()
    assert body.count("Open and sign") == 14
    assert len(many.captured_queries) == len(few.captured_queries)
