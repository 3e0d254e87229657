"""The biller sends a closed month's claims in a real browser: "Create batch" on the month
page, the batch's claims, the download twice (the same file, valid per pyx12), a resubmitted
claim in a batch of its own listed under the month; screenshots at 1280 and 390 px."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from billing.exports import x12
from billing.models import Claim, SubmissionBatch
from ccm.models import Practice
from ccm.months import month_label, previous_month
from tests.billing.conftest import make_billing_setup
from tests.e2e.conftest import sign_in_with_totp

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _both_widths(page: Page, shot, name: str) -> None:
    page.set_viewport_size(DESKTOP)
    shot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    shot(page, f"{name}-390")
    page.set_viewport_size(DESKTOP)


def _download(page: Page, tmp_path, name: str, link: str) -> str:
    with page.expect_download() as download:
        page.get_by_role("link", name=link).first.click()
    path = tmp_path / name
    download.value.save_as(path)
    return path.read_text()


def test_a_biller_creates_a_batch_and_downloads_it_twice(
    page: Page, live_server, demo, shot, csp_violations, tmp_path
):
    base = live_server.url
    practice = Practice.objects.get(slug="demo")
    make_billing_setup(practice)  # kept when the demo has its own
    # seed_demo closes the months before last month: the older one is closed.
    month = previous_month(previous_month(practice.this_month()))
    label = month_label(month)
    page.set_viewport_size(DESKTOP)
    sign_in_with_totp(page, base, "biller@demo.test", demo)
    page.goto(f"{base}/billing/months/{label}/")
    expect(page.locator("#month-batches")).to_contain_text("No batch yet")
    page.get_by_role("button", name="Create batch").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Batch 0000000")
    expect(page.locator(".msg.success")).to_contain_text("claim(s) sent")
    batch = SubmissionBatch.objects.for_practice(practice).get()
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(batch.claims)
    expect(rows.first).to_contain_text("1 Original")
    _both_widths(page, shot, "batch-detail")
    first = _download(page, tmp_path, "first.837", "Download 837P")
    again = _download(page, tmp_path, "again.837", "Download 837P")
    assert first == again == batch.content
    assert x12.validate_837(first) == []

    # The 277CA rejected one claim (billing.remittances): the biller resubmits it.
    claim = Claim.objects.for_practice(practice).filter(month=month).order_by("id").first()
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(status="rejected")
    page.goto(f"{base}/billing/claims/{claim.pk}/")
    page.get_by_role("button", name="Resubmit in a new batch").click()
    expect(page.locator(".msg.success")).to_contain_text("Claim resubmitted")
    expect(page.locator("main table tbody tr")).to_have_count(1)

    page.goto(f"{base}/billing/months/{label}/")
    listed = page.locator("#month-batches tbody tr")
    expect(listed).to_have_count(2)  # loaded by htmx under the month
    page.locator("#batches-title").scroll_into_view_if_needed()
    _both_widths(page, shot, "month-batches")
    assert csp_violations == []
