"""Care plan API: versions and drafts, edit, send, sign (409 twice), copies, PDF; roles,
outsiders, bad input, tokens."""

import pytest
from rest_framework.test import APIClient

from careplans.models import CarePlanVersion, VersionStatus
from ccm.tenancy import practice_scope
from tests.careplans.conftest import COMPLETE
from tests.factories import PASSWORD
from tests.helpers import token_client

pytestmark = pytest.mark.usefixtures("frozen")


def test_a_draft_is_created_edited_sent_and_signed_over_the_api(coordinator, physician, patient):
    api = token_client(coordinator)
    created = api.post(f"/api/v1/patients/{patient.pk}/care-plans/", {}, format="json")
    assert created.status_code == 201
    version_id = created.json()["id"]
    assert created.json()["status"] == "draft"
    assert "The problem list is empty." not in created.json()["missing"]
    patched = api.patch(f"/api/v1/care-plans/{version_id}/", {"content": COMPLETE}, format="json")
    assert patched.status_code == 200
    assert patched.json()["missing"] == []
    assert api.post(f"/api/v1/care-plans/{version_id}/submit/").status_code == 200
    doctor = token_client(physician)
    refused = doctor.post(
        f"/api/v1/care-plans/{version_id}/sign/", {"password": "no"}, format="json"
    )
    assert refused.status_code == 400
    assert "password" in refused.json()
    signed = doctor.post(
        f"/api/v1/care-plans/{version_id}/sign/", {"password": PASSWORD}, format="json"
    )
    assert signed.status_code == 200
    assert signed.json()["status"] == "signed"
    assert len(signed.json()["content_sha256"]) == 64
    again = doctor.post(
        f"/api/v1/care-plans/{version_id}/sign/", {"password": PASSWORD}, format="json"
    )
    assert again.status_code == 409
    listed = api.get(f"/api/v1/patients/{patient.pk}/care-plans/").json()
    assert listed["count"] == 1


def test_a_signed_version_answers_409_to_every_write(coordinator, signed):
    api = token_client(coordinator)
    url = f"/api/v1/care-plans/{signed.pk}/"
    assert api.patch(url, {"content": {"caregiver": "x"}}, format="json").status_code == 409
    assert api.post(f"{url}submit/").status_code == 409
    signed.refresh_from_db()
    assert signed.content["caregiver"] == COMPLETE["caregiver"]


def test_a_coordinator_may_not_sign(coordinator, complete_draft):
    response = token_client(coordinator).post(
        f"/api/v1/care-plans/{complete_draft.pk}/sign/", {"password": PASSWORD}, format="json"
    )
    assert response.status_code == 403
    assert CarePlanVersion.objects.unscoped().get().status == VersionStatus.DRAFT


def test_bad_input_is_a_400_with_the_field_and_nothing_saved(coordinator, draft):
    api = token_client(coordinator)
    before = dict(draft.content)
    response = api.patch(
        f"/api/v1/care-plans/{draft.pk}/",
        {"content": {"goals": [{"goal": "Walk", "due_on": "whenever"}]}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"goals": ["Give dates as YYYY-MM-DD."]}
    draft.refresh_from_db()
    assert draft.content == before
    shape = api.patch(f"/api/v1/care-plans/{draft.pk}/", {"content": "x"}, format="json")
    assert shape.status_code == 400


def test_the_copy_and_the_pdf(coordinator, biller, signed):
    api = token_client(coordinator)
    copy = api.post(
        f"/api/v1/care-plans/{signed.pk}/copies/",
        {"given_on": "2026-10-20", "method": "email"},
        format="json",
    )
    assert copy.status_code == 201
    pdf = token_client(biller).get(f"/api/v1/care-plans/{signed.pk}/pdf/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert (
        token_client(biller)
        .post(
            f"/api/v1/care-plans/{signed.pk}/copies/", {"given_on": "2026-10-20", "method": "mail"}
        )
        .status_code
        == 403
    )


def test_a_biller_reads_but_may_not_start_a_draft(biller, patient):
    api = token_client(biller)
    assert api.get(f"/api/v1/patients/{patient.pk}/care-plans/").status_code == 200
    assert api.post(f"/api/v1/patients/{patient.pk}/care-plans/", {}).status_code == 403
    assert not CarePlanVersion.objects.unscoped().exists()


def test_the_outsider_gets_404_everywhere(outsider, signed, patient):
    api = token_client(outsider)
    assert api.get(f"/api/v1/patients/{patient.pk}/care-plans/").status_code == 404
    assert api.post(f"/api/v1/patients/{patient.pk}/care-plans/", {}).status_code == 404
    for suffix in ("", "pdf/"):
        assert api.get(f"/api/v1/care-plans/{signed.pk}/{suffix}").status_code == 404
    for suffix in ("sign/", "submit/", "copies/"):
        assert api.post(f"/api/v1/care-plans/{signed.pk}/{suffix}", {}).status_code == 404
    assert api.patch(f"/api/v1/care-plans/{signed.pk}/", {}, format="json").status_code == 404


def test_the_versions_list_has_a_fixed_query_count(practice, coordinator, physician, patient):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from careplans import services

    api = APIClient()
    api.force_login(coordinator.user)

    def revise():
        with practice_scope(practice):
            draft = services.draft_start(practice=practice, actor=coordinator, patient=patient)
            services.draft_update(
                practice=practice, actor=coordinator, version=draft, data=COMPLETE
            )
            services.version_sign(
                practice=practice, actor=physician, version=draft, password=PASSWORD
            )

    revise()
    url = f"/api/v1/patients/{patient.pk}/care-plans/"
    api.get("/api/v1/me/")  # the session's activity stamp is written at most every 30 s
    with CaptureQueriesContext(connection) as few:
        api.get(url)
    for _ in range(6):
        revise()
    with CaptureQueriesContext(connection) as many:
        assert api.get(url).json()["count"] == 7
    assert len(many.captured_queries) == len(few.captured_queries)
