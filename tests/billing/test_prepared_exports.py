"""Exports prepared by a worker (issue 18): the month PDF, and the CSV and 837 of a month over
DIRECT_LIMIT claims, are built by a Celery task into a stored file; the page shows the
progress and the download link, the API answers 202 with a status URL; requests are
idempotent while one is prepared, every download is audited; roles, outsiders, bad input."""

from unittest import mock

import pytest
import time_machine

from billing.exports import services, tasks
from billing.models import Claim, Export, PreparedExport
from ccm.models import AuditEvent
from patients.models import Patient
from tests.billing import test_exports
from tests.billing.test_exports import _api, _body
from tests.billing.test_month_close import AFTER

PAGE = "/billing/months/2026-10/exports/"
API = "/api/v1/billing/months/2026-10/exports/"

closed = test_exports.closed  # October closed with two claims: the fixture of the direct exports


@pytest.fixture(autouse=True)
def _later():
    with time_machine.travel(AFTER, tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Prepared files go to a temporary folder, not the developer's media folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/no-public-url/"},
        },
    }
    return tmp_path


@pytest.fixture
def worker_here():
    """The queued export runs at once in this process, as a worker would run it."""

    def run_now(*args):
        return tasks.export_prepare.apply(args=args)

    with mock.patch.object(tasks.export_prepare, "delay", side_effect=run_now) as delay:
        yield delay


@pytest.fixture
def no_worker():
    """The queued export waits (no worker has taken it yet)."""
    with mock.patch.object(tasks.export_prepare, "delay") as delay:
        yield delay


def _prepared():
    return PreparedExport.objects.unscoped().get()


def test_a_biller_prepares_the_month_pdf_and_downloads_it(
    biller_client, practice, closed, worker_here, django_capture_on_commit_callbacks, media
):
    with django_capture_on_commit_callbacks(execute=True):
        response = biller_client.post(PAGE, {"kind": "pdf"})
    assert response.status_code == 302
    assert response["Location"] == PAGE
    prepared = _prepared()
    worker_here.assert_called_once_with(str(practice.pk), str(prepared.pk))
    assert (prepared.status, prepared.done, prepared.total) == ("ready", 2, 2)
    # Private storage: practice and export UUIDs only in the name, no public URL.
    assert prepared.file.name == f"exports/{practice.pk}/{prepared.pk}.pdf"
    assert (media / prepared.file.name).read_bytes().startswith(b"%PDF")
    assert len(prepared.sha256) == 64
    claims = Claim.objects.unscoped().values_list("patient_id", flat=True)
    assert sorted(prepared.patient_ids) == sorted(claims)
    assert not Export.objects.unscoped().exists()  # nothing downloaded yet
    page = biller_client.get(PAGE).content.decode()
    assert "Download PDF summary" in page
    status = biller_client.get(f"/billing/exports/{prepared.pk}/").content.decode()
    assert "hx-trigger" not in status  # ready: the fragment stops polling
    download = biller_client.get(f"/billing/exports/{prepared.pk}/download")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == 'attachment; filename="caremonth-sunrise-2026-10.pdf"'
    assert download["Cache-Control"] == "no-store"
    assert _body(download).startswith(b"%PDF")
    biller_client.get(f"/billing/exports/{prepared.pk}/download")
    # Every download is recorded and audited, with one read per patient on the file.
    assert Export.objects.unscoped().filter(kind="pdf").count() == 2
    assert AuditEvent.objects.unscoped().filter(action="month.export_pdf").count() == 2
    # One event per download, naming both patients (ccm.audit.record_many).
    exported = AuditEvent.objects.unscoped().filter(action="claim.export")
    assert [sorted(map(str, e.patient_ids)) for e in exported] == [sorted(map(str, claims))] * 2
    assert AuditEvent.objects.unscoped().filter(action="month.export_requested").count() == 1


def test_the_panel_shows_the_progress_while_a_worker_prepares(
    biller_client, closed, no_worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        biller_client.post(PAGE, {"kind": "pdf"})
    prepared = _prepared()
    panel = biller_client.get(PAGE, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in panel  # the fragment the month page loads
    assert "waiting for a worker" in panel
    PreparedExport.objects.unscoped().filter(pk=prepared.pk).update(status="running", done=1)
    status = biller_client.get(f"/billing/exports/{prepared.pk}/").content.decode()
    assert "Preparing… 1 of 2 claims" in status
    assert f'hx-get="/billing/exports/{prepared.pk}/"' in status  # polls until ready
    not_yet = biller_client.get(f"/billing/exports/{prepared.pk}/download", follow=True)
    assert services.NOT_READY_MESSAGE in not_yet.content.decode()
    assert not Export.objects.unscoped().exists()


def test_asking_again_while_it_is_prepared_gives_the_same_export(
    biller, closed, no_worker, django_capture_on_commit_callbacks
):
    api = _api(biller)
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(API, {"kind": "csv"}, format="json")
        second = api.post(API, {"kind": "csv"}, format="json")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert no_worker.call_count == 1
    assert PreparedExport.objects.unscoped().count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        api.post(API, {"kind": "pdf"}, format="json")  # another kind is another export
    assert PreparedExport.objects.unscoped().count() == 2


def test_api_prepare_poll_and_download(biller, practice, closed, worker_here):
    api = _api(biller)
    for kind, media_type, start in (
        ("csv", "text/csv", b"claim_id,"),
        ("837", "application/edi-x12", b"ISA*"),
        ("pdf", "application/pdf", b"%PDF"),
    ):
        with mock.patch("django.db.transaction.on_commit", side_effect=lambda f, **_: f()):
            response = api.post(API, {"kind": kind}, format="json")
        assert response.status_code == 202
        body = response.json()
        assert (
            response["Location"] == body["status_url"] == f"/api/v1/billing/exports/{body['id']}/"
        )
        status = api.get(body["status_url"]).json()
        assert (status["status"], status["kind"], status["month"]) == ("ready", kind, "2026-10")
        assert status["done"] == status["total"] == 2
        file = api.get(status["download_url"])
        assert file.status_code == 200
        assert file["Content-Type"] == media_type
        assert _body(file).startswith(start)
    assert Export.objects.unscoped().count() == 3


def test_a_failed_837_says_why_and_has_no_file(biller, practice, closed, worker_here):
    Patient.objects.unscoped().filter(pk=closed[0].pk).update(postal_code="")
    api = _api(biller)
    with mock.patch("django.db.transaction.on_commit", side_effect=lambda f, **_: f()):
        body = api.post(API, {"kind": "837"}, format="json").json()
    status = api.get(body["status_url"]).json()
    assert status["status"] == "failed"
    assert "fix first" in status["error"]
    assert api.get(body["download_url"]).status_code == 409
    assert not Export.objects.unscoped().exists()


def test_bad_input_gives_400_and_saves_nothing(biller, biller_client, closed, no_worker):
    api = _api(biller)
    assert api.post(API, {"kind": "xls"}, format="json").status_code == 400
    assert api.post(API, {}, format="json").status_code == 400
    assert api.post(API, {"kind": "pdf", "extra": 1}, format="json").status_code == 400
    assert api.post("/api/v1/billing/months/20-10/exports/", {"kind": "pdf"}).status_code == 400
    assert api.post("/api/v1/billing/months/2026-11/exports/", {"kind": "pdf"}).status_code == 409
    page = biller_client.post(PAGE, {"kind": "xls"}, follow=True)
    assert services.KIND_MESSAGE in page.content.decode()
    assert not PreparedExport.objects.unscoped().exists()
    assert no_worker.call_count == 0


def test_roles_and_outsiders(
    biller, coordinator, physician, outsider, coordinator_client, outsider_client, closed,
    worker_here,
):  # fmt: skip
    with mock.patch("django.db.transaction.on_commit", side_effect=lambda f, **_: f()):
        body = _api(biller).post(API, {"kind": "pdf"}, format="json").json()
    status, download = body["status_url"], body["download_url"]
    page_status = f"/billing/exports/{body['id']}/"
    for member in (coordinator, physician):
        api = _api(member)
        assert api.post(API, {"kind": "pdf"}, format="json").status_code == 403
        assert api.get(status).status_code == 403
        assert api.get(download).status_code == 403
    assert coordinator_client.post(PAGE, {"kind": "pdf"}).status_code == 403
    assert coordinator_client.get(page_status).status_code == 403
    # Another practice's member: this practice's export does not exist for them.
    assert _api(outsider).get(status).status_code == 404
    assert _api(outsider).get(download).status_code == 404
    assert outsider_client.get(page_status).status_code == 404
    assert outsider_client.get(f"{page_status}download").status_code == 404
    # …and their own October is not closed: nothing is prepared.
    assert _api(outsider).post(API, {"kind": "pdf"}, format="json").status_code == 409
    assert PreparedExport.objects.unscoped().count() == 1
    assert not Export.objects.unscoped().exists()


def test_a_large_month_is_not_built_in_the_request(biller, biller_client, closed):
    with mock.patch.object(services, "DIRECT_LIMIT", 1):
        api = _api(biller)
        assert api.get("/api/v1/billing/months/2026-10/export.csv").status_code == 409
        assert api.get("/api/v1/billing/months/2026-10/export.pdf").status_code == 409
        page = biller_client.get("/billing/months/2026-10/export.csv")
        assert page.status_code == 302
        assert page["Location"] == PAGE
        panel = biller_client.get(PAGE).content.decode()
        assert "Prepare CSV" in panel
        assert "Prepare X12 837P" in panel
        assert "Download CSV" not in panel
    assert not Export.objects.unscoped().exists()


def test_progress_is_written_as_the_claims_are(biller, closed, no_worker):
    prepared = services.export_request(
        actor=biller, month=AFTER.date().replace(month=10, day=1), kind="csv"
    )
    with (
        mock.patch.object(services, "PROGRESS_EVERY", 1),
        mock.patch.object(services, "_progress", wraps=services._progress) as progress,
    ):
        services.export_prepare(practice_id=prepared.practice_id, export_id=prepared.pk)
    done = [call.kwargs["done"] for call in progress.call_args_list if "done" in call.kwargs]
    assert done[:2] == [1, 2]
    assert _prepared().status == "ready"
    # A redelivered task of a ready export changes nothing.
    again = services.export_prepare(practice_id=prepared.practice_id, export_id=prepared.pk)
    assert again.sha256 == _prepared().sha256


def test_the_status_fragment_has_a_fixed_query_count(
    biller_client, closed, no_worker, django_assert_max_num_queries
):
    biller_client.post(PAGE, {"kind": "pdf"})
    prepared = _prepared()
    biller_client.get(f"/billing/exports/{prepared.pk}/")  # warm the session
    with django_assert_max_num_queries(12):
        assert biller_client.get(f"/billing/exports/{prepared.pk}/").status_code == 200


def test_an_unexpected_error_marks_the_export_failed(biller, closed, no_worker):
    month = AFTER.date().replace(month=10, day=1)
    prepared = services.export_request(actor=biller, month=month, kind="pdf")
    with (
        mock.patch.object(services, "month_pdf", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        services.export_prepare(practice_id=prepared.practice_id, export_id=prepared.pk)
    assert (_prepared().status, _prepared().error) == ("failed", services.FAILED_MESSAGE)
    # Not stuck: the same month and kind can be requested again.
    assert services.export_request(actor=biller, month=month, kind="pdf").pk != prepared.pk
