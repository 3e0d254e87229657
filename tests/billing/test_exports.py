"""Exports of a closed month: CSV columns and formula neutralising, the PDF summary's text
(pdftotext) and page numbers, downloads recorded and audited, the 837 as the month's
submission batch (the same file twice); an open month refuses; roles; the contract's API
paths."""

import csv
import io
import shutil
import subprocess

import pytest
import time_machine
from rest_framework.test import APIClient

from billing.claims.services import claims_status_set
from billing.close import services
from billing.models import Claim, Export, SubmissionBatch
from ccm.models import AuditEvent
from patients.models import Patient
from tests.billing.conftest import make_billing_setup
from tests.billing.test_month_close import AFTER, OCTOBER, _cast
from tests.helpers import token_client


@pytest.fixture(autouse=True)
def _later():
    with time_machine.travel(AFTER, tick=False):
        yield


BILLING_ADDRESS = {
    "address_line1": "12 Main Street",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62701",
}


@pytest.fixture
def closed(practice, physician, coordinator):
    """October closed: two claims; practice and patients with their billing details, and
    the practice's billing setup."""
    from ccm.models import Practice

    Practice.objects.filter(pk=practice.pk).update(
        tax_id="12-3456789", phone="2175550100", **BILLING_ADDRESS
    )
    practice.refresh_from_db()
    patients = _cast(practice, physician, coordinator)
    Patient.objects.for_practice(practice).update(**BILLING_ADDRESS)
    services.month_close(practice_id=practice.pk, month=OCTOBER)
    make_billing_setup(practice)
    return patients


def _body(response):
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def test_csv_has_one_row_per_line_with_billing_identifiers(biller_client, practice, closed):
    Patient.objects.unscoped().filter(pk=closed[0].pk).update(last_name="=HYPERLINK(1)")
    response = biller_client.get("/billing/months/2026-10/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "2026-10" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_body(response).decode())))
    assert len(rows) == 2  # two billable patients, one 99490 line each
    assert set(rows[0]) >= {
        "mrn", "mbi", "last_name", "first_name", "date_of_birth", "practitioner_npi",
        "date_of_service", "place_of_service", "code", "units", "charge", "diagnosis_codes",
    }  # fmt: skip
    assert {r["code"] for r in rows} == {"99490"}
    assert {r["date_of_service"] for r in rows} == {"2026-10-31"}
    assert rows[0]["diagnosis_codes"]
    assert "'=HYPERLINK(1)" in {r["last_name"] for r in rows}
    export = Export.objects.unscoped().get()
    assert (export.kind, export.claims) == ("csv", 2)
    assert AuditEvent.objects.unscoped().filter(action="month.export_csv").count() == 1
    # One event for the export naming both claims' patients (issue 18), not one per claim.
    claim_export = AuditEvent.objects.unscoped().get(action="claim.export")
    assert len(claim_export.patient_ids) == 2


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils not installed")
def test_pdf_summary_has_totals_claims_and_page_numbers(biller_client, practice, closed):
    response = biller_client.get("/billing/months/2026-10/export.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=response.content, capture_output=True,
        check=True,
    ).stdout.decode()  # fmt: skip
    assert "CCM claims, October 2026" in text
    assert "Totals by code" in text
    assert "99490" in text
    assert "Page 1 of 1" in text
    assert "Lovelace-C-0" in text
    assert "$" in text


def test_837_downloads_give_the_months_batch_again_byte_identical(biller_client, practice, closed):
    first = biller_client.get("/billing/months/2026-10/export.837")
    second = biller_client.get("/billing/months/2026-10/export.837")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content  # contract §4: the same file, never resent
    batch = SubmissionBatch.objects.unscoped().get()
    assert batch.control_number == 1
    assert first.content.decode() == batch.content
    assert b"ISA*" in first.content
    assert b"*000000001*" in first.content
    assert Export.objects.unscoped().filter(kind="837").count() == 2  # every download recorded
    assert set(Claim.objects.unscoped().values_list("status", flat=True)) == {"submitted"}
    from billing.exports import x12

    assert x12.validate_837(second.content.decode()) == []


def test_an_837_link_from_another_site_sends_nothing(biller_client, practice, closed):
    # export.837 creates the month's batch: a GET another site starts (a link, an <img>)
    # in the biller's browser must not, as CSRF stops its POSTs (found by the outside probe).
    page = biller_client.get(
        "/billing/months/2026-10/export.837", headers={"sec-fetch-site": "cross-site"}
    )
    assert page.status_code == 302
    api = biller_client.get(
        "/api/v1/billing/months/2026-10/export.837", headers={"sec-fetch-site": "same-site"}
    )
    assert api.status_code == 403
    assert not SubmissionBatch.objects.unscoped().exists()
    assert set(Claim.objects.unscoped().values_list("status", flat=True)) == {"ready"}
    # From the month page (same origin) or typed in, the download works.
    own = biller_client.get(
        "/billing/months/2026-10/export.837", headers={"sec-fetch-site": "same-origin"}
    )
    assert own.status_code == 200
    assert SubmissionBatch.objects.unscoped().count() == 1


def test_a_token_client_is_never_refused_for_its_fetch_headers(biller, practice, closed):
    api = token_client(biller)
    response = api.get(
        "/api/v1/billing/months/2026-10/export.837", headers={"sec-fetch-site": "cross-site"}
    )
    assert response.status_code == 200


def test_an_open_month_cannot_be_exported(biller_client, practice, physician, coordinator):
    _cast(practice, physician, coordinator)
    page = biller_client.get("/billing/months/2026-10/export.csv", follow=True)
    assert b"is not closed" in page.content
    assert not Export.objects.unscoped().exists()


def test_export_roles(coordinator_client, physician_client, outsider_client, closed):
    for path in ("export.csv", "export.837", "export.pdf"):
        assert coordinator_client.get(f"/billing/months/2026-10/{path}").status_code == 403
        assert physician_client.get(f"/billing/months/2026-10/{path}").status_code == 403
        # Another practice's user sees their own (open) month, never this practice's claims.
        page = outsider_client.get(f"/billing/months/2026-10/{path}", follow=True)
        assert b"is not closed" in page.content or page.status_code == 403
    assert not Export.objects.unscoped().exists()


def _api(membership):
    client = APIClient()
    client.force_login(membership.user)
    return client


def test_api_export_paths(biller, coordinator, closed):
    api = _api(biller)
    csv_response = api.get("/api/v1/billing/months/2026-10/export.csv")
    assert csv_response.status_code == 200
    assert b"99490" in _body(csv_response)
    x12 = api.get("/api/v1/billing/months/2026-10/export.837")
    assert x12.status_code == 200
    assert x12.content.startswith(b"ISA*")
    pdf = api.get("/api/v1/billing/months/2026-10/export.pdf")
    assert pdf.content.startswith(b"%PDF")
    assert _api(coordinator).get("/api/v1/billing/months/2026-10/export.csv").status_code == 403
    assert api.get("/api/v1/billing/months/2026-11/export.csv").status_code == 409
    assert api.get("/api/v1/billing/months/20-11/export.csv").status_code == 400


@pytest.mark.usefixtures("worker_here")
def test_api_claim_status_reopen_and_not_billable(
    admin, biller, coordinator, outsider, practice, closed
):
    api = _api(biller)
    claim = Claim.objects.for_practice(practice).first()
    got = api.get(f"/api/v1/claims/{claim.pk}/")
    assert got.status_code == 200
    assert got.json()["lines"][0]["explanation"]
    assert _api(outsider).get(f"/api/v1/claims/{claim.pk}/").status_code == 404
    assert (
        _api(coordinator)
        .patch(f"/api/v1/claims/{claim.pk}/", {"status": "submitted"}, format="json")
        .status_code
        == 403
    )
    bad = api.patch(f"/api/v1/claims/{claim.pk}/", {"status": "denied"}, format="json")
    assert bad.status_code == 400
    assert "denial_reason" in bad.json()
    ok = api.patch(f"/api/v1/claims/{claim.pk}/", {"status": "submitted"}, format="json")
    assert ok.json()["status"] == "submitted"
    others = [str(c.pk) for c in Claim.objects.for_practice(practice)]
    bulk = api.post(
        "/api/v1/billing/months/2026-10/claims/status/",
        {"claims": others, "status": "paid"},
        format="json",
    )
    assert bulk.status_code == 409  # the ready claim cannot go straight to paid: a conflict
    assert set(Claim.objects.unscoped().values_list("status", flat=True)) == {"ready", "submitted"}
    missing = api.post(
        "/api/v1/billing/months/2026-10/claims/status/",
        {"claims": [str(claim.pk), "00000000-0000-4000-8000-000000000000"], "status": "paid"},
        format="json",
    )
    assert missing.status_code == 404
    nb = api.get("/api/v1/billing/months/2026-10/not-billable/").json()
    assert nb["count"] == 2
    assert nb["results"][0]["reasons"]
    assert api.post("/api/v1/billing/months/2026-10/reopen/", {"reason": "x"}).status_code == 403
    admin_api = _api(admin)
    assert (
        admin_api.post("/api/v1/billing/months/2026-10/reopen/", {}, format="json").status_code
        == 400
    )
    reopened = admin_api.post(
        "/api/v1/billing/months/2026-10/reopen/", {"reason": "late notes"}, format="json"
    )
    assert reopened.json()["status"] == "reopened"
    assert (
        admin_api.post("/api/v1/billing/months/2026-10/reopen/", {"reason": "x"}).status_code == 409
    )
    changes = api.get("/api/v1/billing/months/2026-10/submitted-changes/")
    assert changes.json() == []
    again = api.post("/api/v1/billing/months/2026-10/close/", {}, format="json")
    assert again.status_code == 202
    assert again.json()["month"]["status"] == "closed"


def test_an_837_with_missing_billing_data_records_nothing(biller_client, practice, closed):
    Patient.objects.unscoped().filter(pk=closed[0].pk).update(postal_code="")
    page = biller_client.get("/billing/months/2026-10/export.837", follow=True)
    assert b"ZIP code" in page.content
    assert not Export.objects.unscoped().exists()
    assert not SubmissionBatch.objects.unscoped().exists()
    assert set(Claim.objects.unscoped().values_list("status", flat=True)) == {"ready"}


def test_the_837_carries_only_ready_claims_and_marks_them_sent(
    biller_client, biller, practice, closed
):
    first, second = Claim.objects.for_practice(practice).order_by("pk")
    claims_status_set(practice=practice, actor=biller, claim_ids=[first.pk], status="submitted")
    body = biller_client.get("/billing/months/2026-10/export.837").content.decode()
    assert body.count("~CLM*") == 1
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.exported_at is not None
    assert second.status == "submitted"
    assert first.exported_at is None
    claims_status_set(practice=practice, actor=biller, claim_ids=[second.pk], status="paid")
    again = biller_client.get("/billing/months/2026-10/export.837").content.decode()
    assert again == body  # nothing new to send: the month's batch again
    assert SubmissionBatch.objects.unscoped().count() == 1
    assert Export.objects.unscoped().filter(kind="837").count() == 2


def test_a_month_with_nothing_ever_sent_and_nothing_ready_has_no_837(
    biller_client, biller, practice, closed
):
    ids = list(Claim.objects.for_practice(practice).values_list("pk", flat=True))
    claims_status_set(practice=practice, actor=biller, claim_ids=ids, status="submitted")
    page = biller_client.get("/billing/months/2026-10/export.837", follow=True)
    assert b"no claim ready to send" in page.content
    assert not Export.objects.unscoped().filter(kind="837").exists()
    assert not SubmissionBatch.objects.unscoped().exists()


def test_an_837_that_fails_pyx12_is_never_handed_out_and_names_the_fix(
    biller_client, biller, practice, closed
):
    # Claims closed under a place of service outside the CMS set (as POLICY once allowed).
    Claim.objects.for_practice(practice).update(place_of_service="00")
    page = biller_client.get("/billing/months/2026-10/export.837", follow=True)
    text = page.content.decode()
    assert page.redirect_chain  # back to the month page, no file
    assert "failed validation" in text
    assert "place of service on Billing &gt; POLICY (R33)" in text
    answer = _api(biller).get("/api/v1/billing/months/2026-10/export.837")
    assert answer.status_code == 409  # the month's claims, not the request, are at fault
    assert "place of service" in str(answer.json())
    assert not Export.objects.unscoped().exists()
    assert not SubmissionBatch.objects.unscoped().exists()
    assert not Claim.objects.unscoped().filter(exported_at__isnull=False).exists()
    exported = AuditEvent.objects.unscoped().filter(action__in=["month.export_837", "claim.export"])
    assert not exported.exists()
