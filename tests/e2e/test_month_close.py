"""The biller's month end in a real browser: pre-close check, close, the progress bar
(htmx polling), a claim's explanation, and the 837 download (valid per pyx12)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from billing.exports import x12
from billing.models import MonthClose
from ccm.models import Practice
from ccm.months import month_label, previous_month
from tests.billing.conftest import make_billing_setup
from tests.e2e.conftest import main_nav, sign_in_with_totp


def test_a_biller_closes_last_month_and_downloads_the_837(
    page: Page, live_server, demo, shot, csp_violations, slow_worker, tmp_path
):
    base = live_server.url
    practice = Practice.objects.get(slug="demo")
    make_billing_setup(practice)  # the 837 needs one; kept when the demo has its own
    month = previous_month(practice.this_month())
    label = month_label(month)
    sign_in_with_totp(page, base, "biller@demo.test", demo)

    main_nav(page, "Billing")
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing months")
    page.locator(f"a[href='/billing/months/{label}/']").click()
    page.get_by_role("link", name="pre-close check").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pre-close check")
    expect(page.locator("#check-care_plan")).to_contain_text("for the care team to fix")
    shot(page, "preclose-check")

    page.get_by_role("link", name="Back to the month").click()
    # The close button leads to a confirmation with the pre-close counts; nothing locks yet.
    page.get_by_role("link", name=re.compile(r"^Close .+…$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Close .+\?$"))
    expect(page.locator("main")).to_contain_text("claims would be produced")
    assert not MonthClose.objects.for_practice(practice).filter(month=month).exists()
    page.get_by_role("button", name=re.compile(r"^Close ")).click()
    progress = page.locator("#close-progress progress")
    expect(progress).to_be_visible()
    shot(page, "close-progress")
    expect(page.locator("#close-progress")).to_contain_text("Closed", timeout=60_000)
    page.get_by_role("link", name="Show the totals").click()
    expect(page.locator("main")).to_contain_text("By code")
    shot(page, "month-closed")

    page.get_by_role("link", name="Review claims").click()
    page.locator("table tbody tr a[href^='/billing/claims/']").first.click()
    expect(page.locator(".explanation").first).to_contain_text("R19")
    shot(page, "claim-explanation")

    page.locator("a", has_text="All claims of the month").click()
    page.get_by_role("link", name="Back to the month").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download X12 837P").click()
    path = tmp_path / "month.837"
    download.value.save_as(path)
    assert download.value.suggested_filename == f"caremonth-demo-{label}.837"
    assert x12.validate_837(path.read_text()) == []
    assert csp_violations == []
