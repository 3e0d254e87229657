"""The month PDF in a real browser (issue 18): the biller asks for it on the month page, a
worker prepares it (a background thread, slowed, as a busy worker would), the page shows
"Preparing… N of M" (htmx polling), then the download link; the download is a PDF, recorded
and audited."""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
from playwright.sync_api import Page, expect

from billing.close import services as close_services
from billing.exports import services as export_services
from billing.exports import tasks as export_tasks
from billing.models import Export, PreparedExport
from ccm.models import AuditEvent, Practice
from ccm.months import month_label, previous_month
from ccm.tenancy import practice_scope
from tests.e2e.conftest import main_nav, queued_in_a_thread, sign_in_with_totp


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    # The prepared file goes to a temporary folder, not the developer's media folder.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/no-public-url/"},
        },
    }


@pytest.fixture
def slow_export_worker():
    """The queued export runs in a background thread, writing its progress after every
    claim (the PDF: after every chunk, here of 5 claims) and pausing a little each time, so
    the page shows it being prepared."""
    real_progress = export_services._progress

    def slow_progress(prepared, **fields):
        real_progress(prepared, **fields)
        if "done" in fields:
            time.sleep(0.5)

    with (
        mock.patch.object(export_services, "PROGRESS_EVERY", 1),
        mock.patch.object(export_services, "PDF_CHUNK", 5),
        mock.patch.object(export_services, "PDF_PAGE_ROWS", 5),
        mock.patch.object(export_services, "_progress", slow_progress),
        queued_in_a_thread(export_tasks.export_prepare, "e2e-export"),
    ):
        yield


def test_a_biller_prepares_the_month_pdf_sees_progress_and_downloads_it(
    page: Page, live_server, demo, shot, csp_violations, slow_export_worker, tmp_path
):
    base = live_server.url
    practice = Practice.objects.get(slug="demo")
    month = previous_month(practice.this_month())
    label = month_label(month)
    with practice_scope(practice):
        close_services.month_close(practice_id=practice.pk, month=month)
    sign_in_with_totp(page, base, "biller@demo.test", demo)

    main_nav(page, "Billing")
    page.locator(f"a[href='/billing/months/{label}/']").click()
    panel = page.locator("#month-exports")  # loaded into the month page by htmx
    expect(panel.get_by_role("heading", name="Exports")).to_be_visible()
    panel.get_by_role("button", name="Prepare PDF summary").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Exports of")
    item = page.locator("ul.exports li").first
    expect(item).to_contain_text(re.compile(r"Preparing… \d+ of \d+ claims"), timeout=20_000)
    shot(page, "month-pdf-preparing")
    link = item.get_by_role("link", name="Download PDF summary")
    expect(link).to_be_visible(timeout=60_000)
    shot(page, "month-pdf-ready")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "month-pdf-ready-390")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})
    with page.expect_download() as download:
        link.click()
    path = tmp_path / "month.pdf"
    download.value.save_as(path)
    assert download.value.suggested_filename == f"caremonth-demo-{label}.pdf"
    assert path.read_bytes().startswith(b"%PDF")
    prepared = PreparedExport.objects.unscoped().get()
    assert prepared.status == "ready"
    assert Export.objects.unscoped().filter(kind="pdf").count() == 1
    assert AuditEvent.objects.unscoped().filter(action="month.export_pdf").count() == 1
    assert csp_violations == []
