"""The practice archive in a real browser (issue 19): the demo admin opens the practice
settings, asks for an archive of all the practice's data, a worker builds it (a background
thread, as a worker would), the page shows it being prepared and then the download link; the
download is the zip with its manifest, and the request and download are audited."""

from __future__ import annotations

import io
import json
import zipfile
from unittest import mock

import pytest
from playwright.sync_api import Page, expect

from billing.exports import practice_services
from billing.exports import tasks as export_tasks
from billing.models import PracticeArchive
from ccm.models import AuditEvent, Practice
from tests.e2e.conftest import queued_in_a_thread


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    # The archive goes to a temporary folder, not the developer's media folder.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/no-public-url/"},
        },
    }


@pytest.fixture
def slow_archive_worker():
    """The queued build runs in a background thread and pauses first, so the page shows the
    archive being prepared before it is ready."""
    real_write = practice_services.write_archive

    def slow_write(*args, **kwargs):
        import time

        time.sleep(2)
        return real_write(*args, **kwargs)

    with (
        mock.patch.object(practice_services, "write_archive", slow_write),
        queued_in_a_thread(export_tasks.practice_archive_build, "e2e-archive"),
    ):
        yield


def test_an_admin_prepares_the_practice_archive_and_downloads_it(
    admin_page: Page, live_server, shot, csp_violations, slow_archive_worker, tmp_path
):
    page = admin_page
    page.goto(f"{live_server.url}/practice/settings/")
    panel = page.locator("#practice-archive")  # loaded into the settings page by htmx
    expect(panel.get_by_role("button", name="Prepare archive")).to_be_visible()
    shot(page, "practice-archive-empty")
    panel.get_by_role("button", name="Prepare archive").click()

    expect(page).to_have_url(f"{live_server.url}/practice/settings/#practice-archive")
    expect(page.get_by_role("status")).to_contain_text("The archive is being prepared")
    item = page.locator("#practice-archive ul.archives li").first
    expect(item).to_contain_text("Preparing…", timeout=20_000)
    shot(page, "practice-archive-preparing")
    link = item.get_by_role("link", name="Download archive")
    expect(link).to_be_visible(timeout=60_000)
    page.locator("#practice-archive").scroll_into_view_if_needed()
    shot(page, "practice-archive-ready")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "practice-archive-ready-390")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})

    with page.expect_download() as download:
        link.click()
    path = tmp_path / "archive.zip"
    download.value.save_as(path)
    assert download.value.suggested_filename.startswith("caremonth-demo-archive-")
    archive_zip = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    manifest = json.loads(archive_zip.read("manifest.json"))
    demo = Practice.objects.get(slug="demo")
    assert manifest["practice"]["id"] == str(demo.pk)
    assert manifest["row_counts"]["data/patients.patient.ndjson"] > 0
    assert "README.txt" in archive_zip.namelist()
    assert PracticeArchive.objects.unscoped().get().status == "ready"
    actions = set(AuditEvent.objects.unscoped().values_list("action", flat=True))
    assert {"practice_archive.request", "practice_archive.download", "patient.export"} <= actions
    assert csp_violations == []
