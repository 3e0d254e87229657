"""Claim to cash in a real browser: the biller closes last month, "Create batch" on the month
page, the batch's claims, the download twice (the same file, valid per pyx12), the payer's
277CA and 835 uploaded, the month's paid and denied totals, a rejected claim resubmitted in a
batch of its own listed under the month; screenshots at 1280 and 390 px."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from billing.exports import x12
from billing.models import Claim, ClaimStatus, SubmissionBatch
from ccm.models import Practice
from ccm.months import month_label, previous_month
from tests.billing.remittance_cast import NUMBERS
from tests.billing.remittance_cast import x12 as x12_file
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


def _upload(page: Page, base: str, tmp_path, name: str, text: str) -> None:
    page.goto(f"{base}/billing/remittances/")
    path = tmp_path / name
    path.write_text(text)
    page.get_by_label("X12 file (999, 277CA or 835)").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()


def _for(claims: list[Claim], name: str) -> str:
    """A fixture file (tests/billing/x12) answering for these claims (CLM01 numbers)."""
    text = x12_file(name)
    for n, claim in zip((1, 2, 3), claims, strict=True):
        text = text.replace(NUMBERS[n], claim.control_number)
    return text


def test_a_biller_closes_a_month_sends_it_and_posts_what_came_back(
    page: Page, live_server, demo, shot, csp_violations, slow_worker, tmp_path
):
    """Issue 16's walk: close last month, create its batch, download it twice (identical),
    upload the payer's 277CA and 835, and read the month's paid and denied totals."""
    base = live_server.url
    practice = Practice.objects.get(slug="demo")
    month = previous_month(practice.this_month())  # the demo leaves last month open
    label = month_label(month)
    page.set_viewport_size(DESKTOP)
    sign_in_with_totp(page, base, "biller@demo.test", demo)
    page.goto(f"{base}/billing/months/{label}/")
    page.get_by_role("link", name=re.compile(r"^Close .+…$")).click()
    page.get_by_role("button", name=re.compile(r"^Close ")).click()
    expect(page.locator("#close-progress")).to_contain_text("Closed", timeout=60_000)
    page.get_by_role("link", name="Show the totals").click()

    expect(page.locator("#month-batches")).to_contain_text("No batch yet")
    page.get_by_role("button", name="Create batch").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Batch 0000000")
    expect(page.locator(".msg.success")).to_contain_text("claim(s) sent")
    batch = SubmissionBatch.objects.for_practice(practice).get(month=month)
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(batch.claims)
    expect(rows.first).to_contain_text("1 Original")
    _both_widths(page, shot, "batch-detail")
    first = _download(page, tmp_path, "first.837", "Download 837P")
    again = _download(page, tmp_path, "again.837", "Download 837P")
    assert first == again == batch.content
    assert x12.validate_837(first) == []
    sent = list(Claim.objects.for_practice(practice).filter(month=month).order_by("pk"))
    assert {c.status for c in sent} == {ClaimStatus.SUBMITTED}

    # The contractor answers: a 277CA (one claim rejected), then the 835 (paid, partly paid
    # with coinsurance, denied CO-97, and a payment for a claim that is not ours).
    _upload(page, base, tmp_path, "ack.277", _for(sent[:3], "277ca.x12"))
    expect(page.locator(".messages")).to_contain_text("277CA acknowledgment imported.")
    _upload(page, base, tmp_path, "era.835", _for(sent[:3], "835.x12"))
    expect(page.locator(".messages")).to_contain_text("835 remittance imported.")
    expect(page.locator("#unmatched-h")).to_be_visible()

    page.goto(f"{base}/billing/months/{label}/")
    money = page.locator("section", has=page.locator("#money-h"))
    denied = sum(c.billed_amount for c in Claim.objects.for_practice(practice).filter(
        month=month, status=ClaimStatus.DENIED
    ))  # fmt: skip
    assert denied > 0
    expect(money).to_contain_text("$111.33")  # paid: the 835's two payments
    expect(money).to_contain_text(f"${denied:,.2f}")
    money.scroll_into_view_if_needed()
    _both_widths(page, shot, "month-money-after-835")

    # A claim the payer rejected goes out again, in a batch of its own under the month.
    rejected = Claim.objects.for_practice(practice).filter(month=month, status="rejected")
    claim = rejected.first() or sent[-1]
    if claim.status != ClaimStatus.REJECTED:
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


def test_the_demo_sends_its_oldest_closed_month(live_server, demo):
    practice = Practice.objects.get(slug="demo")
    oldest = previous_month(previous_month(practice.this_month()))
    batch = SubmissionBatch.objects.for_practice(practice).get(month=oldest)
    assert batch.claims > 0
    assert x12.validate_837(batch.content) == []
