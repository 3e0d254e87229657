"""The biller's claim-to-cash pages in a real browser: upload a 277CA and an 835 for a
closed demo month, read the 835's page (paid, adjusted, denied, unmatched), the month's
money panel and the receivables' ageing, on a desktop and a phone width."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.models import Claim, ClaimStatus, MonthClose
from tests.billing.remittance_cast import NUMBERS, x12
from tests.e2e.conftest import sign_in_with_totp

WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture
def biller_page(page: Page, live_server, demo) -> Page:
    sign_in_with_totp(page, live_server.url, "biller@demo.test", demo)
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server.url)}/(home|worklist)/"))
    return page


def _sent_month() -> tuple[str, list[Claim]]:
    """A closed demo month's claims, marked submitted 10 to 100 days ago (as a batch does)."""
    closes = MonthClose.objects.unscoped().filter(practice__slug="demo", status="closed")
    close = closes.order_by("-month").first()
    assert close is not None
    claims = list(
        Claim.objects.unscoped().filter(practice=close.practice, month=close.month).order_by("pk")
    )
    assert len(claims) >= 4
    now = timezone.now()
    for n, claim in enumerate(claims):
        claim.status = ClaimStatus.SUBMITTED
        claim.billed_amount = claim.amount
        claim.submitted_at = now - dt.timedelta(days=10 + 30 * (n % 4))
        claim.save(update_fields=["status", "billed_amount", "submitted_at"])
    return f"{close.month:%Y-%m}", claims


def _for(claims: list[Claim], name: str) -> str:
    text = x12(name)
    for n, claim in zip((1, 2, 3), claims, strict=False):
        text = text.replace(NUMBERS[n], claim.control_number)
    return text


def _upload(page: Page, base: str, tmp_path, name: str, text: str) -> None:
    page.goto(f"{base}/billing/remittances/")
    path = tmp_path / name
    path.write_text(text)
    page.get_by_label("X12 file (999, 277CA or 835)").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()


def test_biller_posts_an_835_and_sees_the_money(
    biller_page: Page, live_server, shot, csp_violations, tmp_path
):
    page, base = biller_page, live_server.url
    month, claims = _sent_month()
    _upload(page, base, tmp_path, "ack.277", _for(claims, "277ca.x12"))
    expect(page.locator(".messages")).to_contain_text("277CA acknowledgment imported.")
    expect(page.locator("table")).to_contain_text("Entity's National Provider Identifier")

    _upload(page, base, tmp_path, "era.835", _for(claims, "835.x12"))
    expect(page.locator(".messages")).to_contain_text("835 remittance imported.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("EFT0000701")
    expect(page.locator("main")).to_contain_text("CO-97")
    expect(page.locator("main")).to_contain_text("Coinsurance Amount")
    expect(page.locator("#unmatched-h")).to_be_visible()
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"remittance-835-{label}")

    page.goto(f"{base}/billing/months/{month}/")
    money = page.locator("section", has=page.locator("#money-h"))
    expect(money).to_contain_text("Paid")
    expect(money).to_contain_text("$111.33")
    expect(money).to_contain_text("Denied")
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        money.scroll_into_view_if_needed()
        shot(page, f"month-money-{label}")
    money.get_by_role("link", name="$111.33").click()
    expect(page).to_have_url(re.compile(r"status=paid"))

    page.goto(f"{base}/billing/receivables/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("ageing")
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"receivables-ageing-{label}")
    page.locator("tfoot").get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("days outstanding")
    assert csp_violations == []
